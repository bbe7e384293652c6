#pragma once
// dm::Tensor: a cheap, thread-safe handle to an n-d array.
//
// Copying a handle never copies data and may be done from any thread; many threads may read
// one tensor at once. Operations return new tensors. Views (reshape, transpose, slice,
// expand...) share storage with their base. In-place operations end in `_` and are the
// caller's to synchronise (wrap the tensor in a dm::RwLock).
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <vector>

#include "democratising/base/device.hpp"
#include "democratising/base/dtype.hpp"
#include "democratising/base/shape.hpp"

namespace dm {

struct TensorImpl;
class Storage;

/// How Tensor::backward treats the graph it runs through.
struct BackwardOptions {
  /// Keep the graph for another backward() through it. Without it the graph's saved values
  /// are freed as the pass goes, and a second pass through any part of it throws ValueError
  /// (it would add the same gradients to grad() a second time).
  bool retain_graph = false;
};

/// A cheap, thread-safe handle to an n-d array of one dtype on one device.
///
/// Copying a handle shares the data; any number of threads may copy and read one tensor.
/// Operations return new tensors; in-place ones end in `_`. See the file comment.
class Tensor {
 public:
  /// An undefined tensor; every operation on it throws ValueError.
  Tensor() = default;
  /// Wraps an implementation (for the library's own layers).
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation ----------------------------------------------------------------------------
  /// @name Filled tensors
  //@{
  /// Uninitialised, zero-, one- or `value`-filled tensors of `shape` (f32 on the CPU unless given).
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu());
  //@}
  /// A 0-d tensor holding `value`.
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());
  /// [start, end) in steps of `step`, like torch.arange.
  static Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32);
  /// [0, end) in steps of 1.
  static Tensor arange(double end, DType dtype = DType::f32) { return arange(0.0, end, 1.0, dtype); }
  /// `steps` evenly spaced values from start to end inclusive.
  static Tensor linspace(double start, double end, std::int64_t steps, DType dtype = DType::f32);
  /// n x m identity (m = n when m < 0).
  static Tensor eye(std::int64_t n, std::int64_t m = -1, DType dtype = DType::f32);
  /// Copies `values` (numel must equal shape.numel()); the dtype follows T.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  template <class T>
  /// A 1-d tensor of `values`; the dtype follows T.
  static Tensor from_vector(const std::vector<T>& values) { return from_vector(values, Shape{static_cast<std::int64_t>(values.size())}); }
  /// Copies `shape.numel()` elements of `dtype` from `data`.
  static Tensor from_buffer(const void* data, const Shape& shape, DType dtype);
  /// Standard normal samples from the global generator (see manual_seed).
  static Tensor randn(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  /// f32 standard normal samples on `device`.
  static Tensor randn(const Shape& shape, Device device) { return randn(shape, DType::f32, device); }
  /// Uniform samples in [0, 1).
  static Tensor rand(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  /// Uniform integers in [low, high).
  static Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, DType dtype = DType::i64);

  // ---- properties --------------------------------------------------------------------------
  /// Whether this handle refers to a tensor (false for a default-constructed one).
  bool defined() const { return impl_ != nullptr; }
  /// The extent of every dim.
  const Shape& shape() const;
  /// How many elements to step in the storage for one step along each dim.
  const Strides& strides() const;
  /// The extent of `dim` (negative counts from the end).
  std::int64_t size(std::int64_t dim) const;
  /// The stride of `dim` (negative counts from the end).
  std::int64_t stride(std::int64_t dim) const;
  /// The number of dims (0 for a scalar).
  int dim() const;
  /// The number of elements (the product of the extents).
  std::int64_t numel() const;
  /// The element type.
  DType dtype() const;
  /// Where the storage lives.
  Device device() const;
  /// Offset of element 0 inside the storage, in elements.
  std::int64_t storage_offset() const;
  /// Whether the elements lie in row-major order with no gaps.
  bool is_contiguous() const;
  /// Whether both handles view the same storage.
  bool shares_storage_with(const Tensor& other) const;
  /// Pointer to element 0 in the memory of the tensor's device: a GPU address for a tensor on
  /// a GPU (for CUDA kernels, NCCL, cuBLAS), as PyTorch's data_ptr. Read it on the host only for
  /// a CPU tensor. The caller must respect strides and dtype.
  void* data_ptr() const;
  template <class T>
  /// Typed pointer to element 0, on the tensor's device; DTypeError unless T matches dtype().
  T* data() const;  // checks dtype_of<T> == dtype()
  /// The single value of a one-element tensor, converted to T.
  template <class T>
  T item() const;
  /// All values in row-major order, converted to T.
  template <class T>
  std::vector<T> to_vector() const;
  /// Waits for pending device work on this tensor (no-op on the CPU).
  void synchronize() const;
  /// How many in-place writes the storage under this tensor has had (shared by all its views;
  /// torch's `_version`). backward() compares it with the value a node saw when it saved the
  /// tensor, and refuses to run on values that changed since.
  std::uint64_t version() const;

  // ---- views and shape ops -----------------------------------------------------------------
  /// Same data, new shape; one dim may be -1. A view when strides allow, else a copy.
  Tensor reshape(const Shape& shape) const;
  /// Like reshape but never copies; throws ShapeError when the strides do not allow a view.
  Tensor view(const Shape& shape) const;
  /// Merges dims start_dim..end_dim into one (a view when strides allow).
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  /// Swaps two dims: a view with their strides exchanged.
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  /// Transpose of a 2-d tensor (a 0-d or 1-d tensor is returned as is).
  Tensor t() const;
  /// Reorders the dims: dim i of the result is dim dims[i] of this tensor (a view).
  Tensor permute(const std::vector<std::int64_t>& dims) const;
  /// Elements start, start+step, ... < end along dim (negative start/end count from the end).
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  /// The `length` elements from `start` along dim (a view).
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  /// The element `index` along dim, with that dim removed.
  Tensor select(std::int64_t dim, std::int64_t index) const;
  /// Copies the entries `index` (1-d i32/i64) along dim.
  Tensor index_select(std::int64_t dim, const Tensor& index) const;
  /// @name Squeezing
  //@{
  /// Removes every dim of extent 1, or only `dim` if its extent is 1 (a view).
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  //@}
  /// Inserts a dim of extent 1 at `dim` (a view).
  Tensor unsqueeze(std::int64_t dim) const;
  /// Broadcast view to `shape` (-1 keeps a dim); size-1 dims get stride 0.
  Tensor expand(const Shape& shape) const;
  /// Same as expand().
  Tensor broadcast_to(const Shape& shape) const { return expand(shape); }
  /// This tensor if already contiguous, else a contiguous copy.
  Tensor contiguous() const;
  /// A contiguous copy that shares nothing with this tensor.
  Tensor clone() const;
  /// Converts the dtype (returns *this when it already matches).
  Tensor to(DType dtype) const;
  /// Copies to another device (returns *this when it already matches).
  Tensor to(Device device) const;

  // ---- elementwise -------------------------------------------------------------------------
  /// @name Arithmetic
  //@{
  /// Elementwise +, -, *, / with NumPy broadcasting and PyTorch's type promotion; a double
  /// operand acts as a 0-d tensor.
  Tensor add(const Tensor& other) const;
  Tensor sub(const Tensor& other) const;
  Tensor mul(const Tensor& other) const;
  Tensor div(const Tensor& other) const;
  Tensor add(double other) const;
  Tensor sub(double other) const;
  Tensor mul(double other) const;
  Tensor div(double other) const;
  //@}
  /// @name Elementwise functions
  //@{
  /// Elementwise functions: -x, |x|, e^x, ln x, sqrt x, x^exponent, max(x, 0), 1/(1+e^-x), tanh x.
  Tensor neg() const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor pow(double exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  //@}
  /// Exact (erf) GELU, as torch.nn.functional.gelu's default.
  Tensor gelu() const;
  /// Each element limited to [lo, hi]; a NaN element or bound gives NaN.
  Tensor clamp(double lo, double hi) const;
  /// @name Elementwise extremes
  //@{
  /// Elementwise larger or smaller of two tensors, with broadcasting.
  Tensor maximum(const Tensor& other) const;
  Tensor minimum(const Tensor& other) const;
  //@}
  /// @name Comparisons
  //@{
  /// Elementwise ==, !=, <, <=, >, >= with broadcasting; the result is bool.
  Tensor eq(const Tensor& other) const;
  Tensor ne(const Tensor& other) const;
  Tensor lt(const Tensor& other) const;
  Tensor le(const Tensor& other) const;
  Tensor gt(const Tensor& other) const;
  Tensor ge(const Tensor& other) const;
  Tensor eq(double other) const;
  Tensor ne(double other) const;
  Tensor lt(double other) const;
  Tensor le(double other) const;
  Tensor gt(double other) const;
  Tensor ge(double other) const;
  //@}

  // In place: write into this tensor's storage (which must not be an expanded view). Each one
  // bumps the storage's version(). While gradients are recorded, a leaf that requires grad
  // cannot be written (ValueError; write it under dm::NoGradGuard, as optimizers do), and
  // neither can any tensor from an operand that requires grad (in-place ops are not recorded,
  // so the operand's gradient would be lost).
  /// @name In place
  //@{
  /// In-place counterparts of the elementwise operations above, and zero_() / fill_(value);
  /// they return *this. See the comment above on versions and gradients.
  Tensor& add_(const Tensor& other);
  Tensor& sub_(const Tensor& other);
  Tensor& mul_(const Tensor& other);
  Tensor& div_(const Tensor& other);
  Tensor& add_(double other);
  Tensor& sub_(double other);
  Tensor& mul_(double other);
  Tensor& div_(double other);
  Tensor& neg_();
  Tensor& abs_();
  Tensor& exp_();
  Tensor& log_();
  Tensor& sqrt_();
  Tensor& pow_(double exponent);
  Tensor& relu_();
  Tensor& sigmoid_();
  Tensor& tanh_();
  Tensor& clamp_(double lo, double hi);
  Tensor& zero_();
  Tensor& fill_(double value);
  //@}
  /// Copies src (broadcast to this shape, converted to this dtype) into this tensor.
  Tensor& copy_(const Tensor& src);

  // ---- reductions --------------------------------------------------------------------------
  // Summation order is fixed by the data size alone, so results are bitwise identical for
  // any thread count. Integer and bool sums give i64; mean/var/std need a floating dtype.
  /// @name Reductions
  //@{
  /// Sum, mean, maximum or minimum over every element (a 0-d result), or over `dims` / `dim`
  /// (removed from the shape unless keepdim).
  Tensor sum() const;
  Tensor sum(const std::vector<std::int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<std::int64_t>& dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor max(std::int64_t dim, bool keepdim = false) const;
  Tensor min() const;
  Tensor min(std::int64_t dim, bool keepdim = false) const;
  //@}
  /// @name Arg max
  //@{
  /// Index of the (first) maximum over the flattened tensor, or along `dim`, as i64.
  Tensor argmax() const;
  Tensor argmax(std::int64_t dim, bool keepdim = false) const;
  //@}
  /// @name Arg min
  //@{
  /// Index of the (first) minimum over the flattened tensor, or along `dim`, as i64.
  Tensor argmin() const;
  Tensor argmin(std::int64_t dim, bool keepdim = false) const;
  //@}
  /// @name Variance
  //@{
  /// Variance over every element or over `dims`, divided by n - correction (Bessel's correction,
  /// 1, unless given), as torch.var.
  Tensor var(std::int64_t correction = 1) const;
  Tensor var(const std::vector<std::int64_t>& dims, std::int64_t correction = 1, bool keepdim = false) const;
  //@}
  /// @name Standard deviation
  //@{
  /// Standard deviation, the square root of var() with the same correction.
  Tensor std(std::int64_t correction = 1) const;
  Tensor std(const std::vector<std::int64_t>& dims, std::int64_t correction = 1, bool keepdim = false) const;
  //@}
  /// exp(x) / sum exp(x) along dim, computed stably.
  Tensor softmax(std::int64_t dim) const;
  /// log(softmax(dim)), computed without forming the softmax.
  Tensor log_softmax(std::int64_t dim) const;
  /// log(sum exp(x)) along dim, computed stably.
  Tensor logsumexp(std::int64_t dim, bool keepdim = false) const;

  // ---- linear algebra ----------------------------------------------------------------------
  /// torch.matmul: 1-d, 2-d, and batched with broadcast batch dims; f32 and f64.
  Tensor matmul(const Tensor& other) const;

  // ---- autograd (see democratising/autograd/autograd.hpp) -------------------------------------------
  /// Marks a leaf as a parameter whose gradient backward() accumulates. Set it before sharing
  /// the tensor with other threads.
  Tensor& set_requires_grad(bool enabled = true);
  /// True for leaves marked with set_requires_grad and for results recorded from them.
  bool requires_grad() const;
  /// True unless this tensor was produced by a recorded op.
  bool is_leaf() const;
  /// The gradient accumulated by backward() (undefined until one reaches this leaf).
  Tensor grad() const;
  /// Replaces (or with an undefined tensor, clears) the accumulated gradient.
  void set_grad(const Tensor& grad) const;
  /// Back-propagates from this one-element tensor (or with `grad_output` of its shape),
  /// accumulating into the grad() of every leaf it depends on. Throws ValueError, before any
  /// grad() changes, when the graph was already run through by a backward() without
  /// retain_graph, or when a value the graph saved (or a tensor it was computed from) was
  /// changed in place since the graph read it.
  void backward(const Tensor& grad_output = Tensor(), BackwardOptions options = {}) const;
  /// backward() of a one-element tensor with options: `loss.backward({.retain_graph = true})`.
  void backward(BackwardOptions options) const { backward(Tensor(), options); }
  /// Same data and shape, cut off from the graph.
  Tensor detach() const;
  /// Name of the op that produced this tensor ("" for a leaf), for graph dumps and errors.
  const char* grad_fn_name() const;

  /// Implementation access for the library's own layers.
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);

/// cond ? a : b elementwise, with broadcasting of all three; cond must be bool.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
/// Joins tensors along an existing dim; all other dims must match.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
/// Joins equal-shaped tensors along a new dim.
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor matmul(const Tensor& a, const Tensor& b);

/// Shape, dtype, device and values, summarised like PyTorch for large tensors.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace dm
