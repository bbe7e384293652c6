#pragma once
// The device seam. A Backend owns one kind of device's memory and computes every kernel on
// it; the ops layer above validates arguments (shapes, dtypes, one device per op), works out
// result shapes, dtypes and layouts, allocates outputs and then makes exactly one call here.
// Backends never validate user input and never see a Tensor: they take raw buffers with
// their layouts, so the core layer (which owns Tensor) sits above this one.
//
// Layout conventions used by the entries below:
//   Output / Operand  strided arrays; element [i...] at data + sum_d(i_d * strides[d]) items.
//                     An operand's strides are over the OUTPUT's shape (0 on broadcast dims).
//   (rows, cols)      contiguous row-major blocks of the dtype named beside them.
//   flat (n)          contiguous vectors of n elements.
// Every floating kernel computes f32 data in f32 and f64 data in f64 unless it says otherwise;
// a kernel's arithmetic, and so every bit of its result, does not depend on the thread count.
//
// A new device is one new folder under src/backend/ with a Backend subclass registered by
// backend_for(), and a green run of the conformance program (tests/conformance/).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "backend/attention_geometry.hpp"
#include "backend/conv_geometry.hpp"
#include "backend/norm_geometry.hpp"
#include "backend/op_kinds.hpp"
#include "democratising/base/device.hpp"
#include "democratising/base/dtype.hpp"
#include "democratising/base/shape.hpp"

namespace dm::backend {

/// Memory a kernel writes, with its logical shape.
struct Output {
  std::byte* data = nullptr;
  DType dtype = DType::f32;
  Shape shape;
  Strides strides;
  /// No operand reads this memory (a freshly allocated result), so stores may bypass caches.
  bool fresh = false;
};

/// Memory a kernel reads, seen through strides over the output's shape.
struct Operand {
  const std::byte* data = nullptr;
  DType dtype = DType::f32;
  Strides strides;
};

/// One input of a batched GEMM. Batch item b is the matrix starting at data + batch_offsets[b]
/// elements. Not transposed: stored row-major with leading dimension ld. Transposed: its
/// transpose is stored row-major with leading dimension ld (the matrix is column-major).
struct GemmOperand {
  const std::byte* data = nullptr;
  std::span<const std::int64_t> batch_offsets;
  bool transposed = false;
  std::int64_t ld = 0;
};

/// A device's work queue. The CPU runs every kernel before returning and ignores it; a GPU
/// backend orders work on it (0: the calling thread's default stream of that device).
struct Stream {
  std::uintptr_t handle = 0;
};

/// Scalars of one SGD step (torch.optim.SGD): d = g + weight_decay * p; with momentum,
/// buf = first ? d : buf * momentum + (1 - dampening) * d, d = nesterov ? d + momentum * buf : buf;
/// then p += -lr * d. Rounded to the parameter dtype before use, as torch does.
struct SgdStep {
  double lr = 0.0, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
  bool first = false;  // the parameter's first step: buf is overwritten with d
};

/// Scalars of one Adam/AdamW step at step count t (torch.optim.Adam/AdamW, 1-based t).
struct AdamStep {
  double lr = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled = false;  // AdamW: p *= 1 - lr * weight_decay instead of g += weight_decay * p
  std::int64_t t = 1;
};

class Backend {
 public:
  virtual ~Backend() = default;
  /// "cpu", "cuda": used in error messages.
  virtual std::string_view name() const = 0;

  // ---- memory --------------------------------------------------------------------------------
  /// 64-byte aligned memory of at least nbytes on device `index`; throws when there is none.
  virtual void* allocate(std::size_t nbytes, int index) = 0;
  /// Returns a block from allocate(nbytes, index).
  virtual void release(void* ptr, std::size_t nbytes, int index) = 0;
  /// Contiguous byte copies. Each is ordered on `stream`; copies that involve host memory have
  /// completed when they return.
  virtual void copy_from_host(void* dst, const void* src, std::size_t nbytes, int index, Stream stream) = 0;
  virtual void copy_to_host(void* dst, const void* src, std::size_t nbytes, int index, Stream stream) = 0;
  virtual void copy_on_device(void* dst, int dst_index, const void* src, int src_index, std::size_t nbytes,
                              Stream stream) = 0;
  /// Waits for every queued kernel and copy on device `index`.
  virtual void synchronize(int index) = 0;

  // ---- elementwise (inputs converted to `compute`, results to out's dtype) ---------------------
  virtual void unary(UnaryOp op, const Output& out, const Operand& a, UnaryParams params, DType compute) = 0;
  virtual void binary(BinaryOp op, const Output& out, const Operand& a, const Operand& b, DType compute) = 0;
  /// out = op(a, scalar) (side right) or op(scalar, a) (side left).
  virtual void binary_scalar(BinaryOp op, const Output& out, const Operand& a, double scalar, ScalarSide side,
                             DType compute) = 0;
  /// out (bool) = a op b, compared in `compute`.
  virtual void compare(CompareOp op, const Output& out, const Operand& a, const Operand& b, DType compute) = 0;
  virtual void compare_scalar(CompareOp op, const Output& out, const Operand& a, double scalar, DType compute) = 0;
  /// out = cond ? a : b; cond bool, values converted to out's dtype.
  virtual void where(const Output& out, const Operand& cond, const Operand& a, const Operand& b) = 0;
  /// out[i] = src[i] converted to out's dtype (a strided copy and cast in one pass).
  virtual void copy(const Output& out, const Operand& src) = 0;
  /// out[i] = value converted to out's dtype.
  virtual void fill(const Output& out, double value) = 0;
  /// The fused backward of an activation over flat (n) arrays of `dtype` (f32/f64):
  /// dx = g * f'(x) written with y = f(x) where that is cheaper (relu selects on y > 0).
  virtual void unary_backward(UnaryGradOp op, DType dtype, const std::byte* g, const std::byte* x, const std::byte* y,
                              std::byte* dx, std::int64_t n) = 0;

  // ---- reductions over a dense (outer, reduce, inner) block, see ReduceGeometry -----------------
  /// sum: f32/f64/bf16 keep their dtype (accumulated in f64), integers and bool give i64.
  /// mean, var, std: floating only; var/std divide by max(0, reduce - correction).
  virtual void reduce_sum(SumKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::int64_t correction,
                          std::byte* out) = 0;
  /// The first largest (smallest) element; NaN wins. values (input dtype) and indices (i64) may be null.
  virtual void reduce_extreme(Extreme kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* values,
                              std::int64_t* indices) = 0;
  /// out has the input's layout and (floating) dtype.
  virtual void softmax(SoftmaxKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) = 0;
  /// out (outer, inner) = log(sum_k exp(in)), stable.
  virtual void logsumexp(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) = 0;

  // ---- matrix products -----------------------------------------------------------------------
  /// c (batch x m x n, contiguous) = alpha * a * b + beta * c per batch item, f32 or f64, and
  /// bf16 (f32 accumulation, one rounding of the result) where gemm_takes_bf16().
  /// k == 0 gives beta * c. With beta == 0, c is never read (it may hold NaN).
  virtual void gemm(DType dtype, const GemmShape& shape, const GemmOperand& a, const GemmOperand& b, std::byte* c,
                    double alpha, double beta, Schedule schedule) = 0;
  /// Whether gemm multiplies bf16 operands itself; otherwise matmul widens them to f32 first.
  virtual bool gemm_takes_bf16() const { return false; }

  // ---- gathers --------------------------------------------------------------------------------
  /// out (contiguous, out.shape[dim] = count) = src at index[0..count) along `dim`; src is read
  /// through src_strides over its own shape, which is out's with src_size at `dim`. Indices are
  /// already checked to lie in [0, src_size), and are host memory.
  virtual void index_select(const Output& out, const std::byte* src, const Strides& src_strides, int dim,
                            const std::int64_t* index) = 0;

  // ---- random numbers (Philox 4x32-10, counter based: block b of a draw is generate(start + b, seed)) --
  /// flat (n) uniform in [low, high) of dtype f32 or f64 (4 f32 or 2 f64 values per block).
  virtual void random_uniform(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start,
                              double low, double high) = 0;
  /// flat (n) normal(mean, std) of dtype f32 or f64 by Box-Muller (4 f32 or 2 f64 values per block).
  virtual void random_normal(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start,
                             double mean, double std) = 0;
  /// flat (n) i64 uniform in [low, high) (2 values per block).
  virtual void random_int(std::int64_t* out, std::int64_t n, std::uint64_t seed, std::uint64_t start,
                          std::int64_t low, std::int64_t high) = 0;

  // ---- fused training kernels (dtype f32 or f64 unless stated) ----------------------------------
  /// y (rows, cols) += b (cols) on every row.
  virtual void bias_add_rows(DType dtype, std::byte* y, const std::byte* b, std::int64_t rows, std::int64_t cols) = 0;
  /// Whether every element of flat (n) `data` of dtype f32, f64 or bf16 is finite.
  virtual bool all_finite(const std::byte* data, DType dtype, std::int64_t n) = 0;
  /// out (cols) = sum over rows of g (rows, cols), rows added in order.
  virtual void sum_rows(DType dtype, const std::byte* g, std::byte* out, std::int64_t rows, std::int64_t cols) = 0;
  /// x (rows, d) -> y (rows, d), mean (rows), rstd (rows); w, b (d) may be null. Biased
  /// variance in f64, rstd = 1 / sqrt(var + eps).
  virtual void layer_norm_forward(DType dtype, const std::byte* x, const std::byte* w, const std::byte* b,
                                  std::byte* y, std::byte* mean, std::byte* rstd, std::int64_t rows, std::int64_t d,
                                  double eps) = 0;
  /// dx (rows, d) (may be null), dw and db (d) (each may be null) from g, x, mean, rstd, w (may be null).
  virtual void layer_norm_backward(DType dtype, const std::byte* g, const std::byte* x, const std::byte* w,
                                   const std::byte* mean, const std::byte* rstd, std::byte* dx, std::byte* dw,
                                   std::byte* db, std::int64_t rows, std::int64_t d) = 0;
  /// logits (rows, cols), labels (rows, checked, in host memory) -> probs (rows, cols) =
  /// softmax, row_loss (rows, f64 on the host) = logsumexp - logit of the label. The labels of
  /// the other loss entries below are host memory too.
  virtual void cross_entropy_forward(DType dtype, const std::byte* logits, const std::int64_t* labels,
                                     std::byte* probs, double* row_loss, std::int64_t rows, std::int64_t cols) = 0;
  /// dlogits (rows, cols) = (probs - onehot(labels)) * scale.
  virtual void cross_entropy_backward(DType dtype, const std::byte* probs, const std::int64_t* labels,
                                      std::byte* dlogits, double scale, std::int64_t rows, std::int64_t cols) = 0;
  /// -sum over rows of log_probs (rows, cols) at each row's label, in f64, rows in order.
  virtual double nll_sum(DType dtype, const std::byte* log_probs, const std::int64_t* labels, std::int64_t rows,
                         std::int64_t cols) = 0;
  /// out (rows, cols), already zero, gets `value` at each row's label.
  virtual void nll_backward(DType dtype, std::byte* out, const std::int64_t* labels, double value, std::int64_t rows,
                            std::int64_t cols) = 0;
  /// sum of (p - t)^2 over flat (n), in f64, in fixed blocks added in order; t may be null:
  /// then the sum of p^2 (a gradient block's squared norm, for clipping).
  virtual double squared_error_sum(DType dtype, const std::byte* p, const std::byte* t, std::int64_t n) = 0;
  /// out (n) = (p - t) * scale.
  virtual void scaled_difference(DType dtype, const std::byte* p, const std::byte* t, std::byte* out, double scale,
                                 std::int64_t n) = 0;
  /// mask (n) holds uniform [0, 1) draws on entry and (u < keep ? 1 / keep : 0) on return.
  virtual void dropout_mask(DType dtype, std::byte* mask, double keep, std::int64_t n) = 0;
  /// out (n) = a * b.
  virtual void multiply(DType dtype, const std::byte* a, const std::byte* b, std::byte* out, std::int64_t n) = 0;
  /// One SGD step over flat (n) p, g and (with momentum) buf; buf may be null without momentum.
  virtual void sgd_step(DType dtype, std::byte* p, const std::byte* g, std::byte* buf, std::int64_t n,
                        const SgdStep& step) = 0;
  /// One Adam/AdamW step over flat (n) p, g, m, v.
  virtual void adam_step(DType dtype, std::byte* p, const std::byte* g, std::byte* m, std::byte* v, std::int64_t n,
                         const AdamStep& step) = 0;
  /// f32 p (n) += alpha * delta_k (n) for each delta in order, in blocks sized for the cache:
  /// each element sees the same additions in the same order as one update at a time.
  virtual void add_scaled_many(float* p, std::span<const float* const> deltas, float alpha, std::int64_t n) = 0;
  /// out (n) = sum_k weights[k] * sources[k] (n), k in order; out may be sources[0].
  virtual void weighted_sum(DType dtype, std::byte* out, std::span<const std::byte* const> sources,
                            std::span<const double> weights, std::int64_t n) = 0;

  // ---- convolution and pooling over contiguous NCHW data of `dtype` (f32 or f64) -------------
  /// y (see Conv2dGeometry) = conv(x, w) + bias (out_channels) per channel; bias may be null.
  virtual void conv2d_forward(DType dtype, const Conv2dGeometry& geo, const std::byte* x, const std::byte* w,
                              const std::byte* bias, std::byte* y) = 0;
  /// From g (shaped like y): dx (like x), dw (like w), db (out_channels); each may be null and
  /// is overwritten. dw and db add the batch's images in a fixed order.
  virtual void conv2d_backward(DType dtype, const Conv2dGeometry& geo, const std::byte* g, const std::byte* x,
                               const std::byte* w, std::byte* dx, std::byte* dw, std::byte* db) = 0;
  /// y (planes, out_h, out_w) = window maxima (padding never wins; NaN does), indices (same
  /// shape, i64) = the first maximum's flat position ih * in_w + iw in its plane.
  virtual void max_pool2d_forward(DType dtype, const Pool2dGeometry& geo, const std::byte* x, std::byte* y,
                                  std::int64_t* indices) = 0;
  /// dx (planes, in_h, in_w) = g scattered to indices (overwritten; overlapping windows add).
  virtual void max_pool2d_backward(DType dtype, const Pool2dGeometry& geo, const std::byte* g,
                                   const std::int64_t* indices, std::byte* dx) = 0;
  /// y = window means (no dilation); count_include_pad divides by the window clipped to the
  /// padded input, else by the elements inside the input (torch.nn.functional.avg_pool2d).
  virtual void avg_pool2d_forward(DType dtype, const Pool2dGeometry& geo, bool count_include_pad,
                                  const std::byte* x, std::byte* y) = 0;
  /// dx (overwritten) = g spread evenly over each window with the forward's divisor.
  virtual void avg_pool2d_backward(DType dtype, const Pool2dGeometry& geo, bool count_include_pad,
                                   const std::byte* g, std::byte* dx) = 0;
  /// y (planes, out_h, out_w): cell (oh, ow) is the mean over input rows
  /// [floor(oh * in_h / out_h), ceil((oh + 1) * in_h / out_h)) and likewise for columns
  /// (torch.nn.functional.adaptive_avg_pool2d); only planes, in_* and out_* of geo are read.
  virtual void adaptive_avg_pool2d_forward(DType dtype, const Pool2dGeometry& geo, const std::byte* x,
                                           std::byte* y) = 0;
  /// dx (overwritten) = g spread evenly over each cell's input window.
  virtual void adaptive_avg_pool2d_backward(DType dtype, const Pool2dGeometry& geo, const std::byte* g,
                                            std::byte* dx) = 0;

  // ---- embedding and attention (dtype f32 or f64) ----------------------------------------------
  /// dw (num, dim), overwritten: row r = the sum of the rows p of g (n, dim) whose indices[p]
  /// (n) is r, added in increasing p. Indices are already checked to lie in [0, num).
  virtual void embedding_backward(DType dtype, const std::byte* g, const std::int64_t* indices, std::int64_t n,
                                  std::int64_t num, std::int64_t dim, std::byte* dw) = 0;
  /// out (through geo.o) = attention of q, k, v (see AttentionGeometry); lse (B, H, Lq),
  /// contiguous, = each query row's logsumexp of its scaled, masked scores, for the backward.
  virtual void attention_forward(DType dtype, const AttentionGeometry& geo, const std::byte* q, const std::byte* k,
                                 const std::byte* v, std::byte* out, std::byte* lse) = 0;
  /// From g (the output's gradient, through geo.o), q, k, v and the forward's lse: dq
  /// (B, H, Lq, D), dk (B, H, Lk, D), dv (B, H, Lk, Dv), contiguous and overwritten; each may be null.
  virtual void attention_backward(DType dtype, const AttentionGeometry& geo, const std::byte* g, const std::byte* q,
                                  const std::byte* k, const std::byte* v, const std::byte* lse, std::byte* dq,
                                  std::byte* dk, std::byte* dv) = 0;
  // ---- batch and group normalisation over contiguous (batch, channels, spatial) data of `dtype`
  // (f32 or f64), see NormGeometry. Statistics and every per-element result are computed in f64
  // and rounded once; sums run over fixed blocks added in order.
  /// y = (x - mean) * invstd * w + b per channel; w, b (channels) may be null. Training: mean
  /// and invstd = 1 / sqrt(var + eps) from the batch (biased var over batch * spatial values),
  /// and unbiased_var (channels, may be null) gets var * count / (count - 1) for the running
  /// update; else mean = running_mean, invstd = 1 / sqrt(running_var + eps). Either way mean
  /// and invstd (channels) are written for the backward.
  virtual void batch_norm_forward(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                                  const std::byte* b, const std::byte* running_mean, const std::byte* running_var,
                                  bool training, double eps, std::byte* y, std::byte* mean, std::byte* invstd,
                                  std::byte* unbiased_var) = 0;
  /// From g (like x): dx (like x), dw and db (channels); each may be null and is overwritten;
  /// w may be null (a scale of one). Training differentiates through the batch statistics too.
  virtual void batch_norm_backward(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                                   const std::byte* w, const std::byte* mean, const std::byte* invstd, bool training,
                                   std::byte* dx, std::byte* dw, std::byte* db) = 0;
  // Batch norm over a batch split between processes, in the parts that run between their
  // exchanges. Statistics and sums are f64 and contiguous; one row is `channels` values.
  /// stats (1 + 2 * channels): the number of values per channel (batch * spatial), then each
  /// channel's mean and the sum of squared deviations from it (M2), as batch_norm_forward
  /// computes them in training.
  virtual void batch_norm_statistics(DType dtype, const NormGeometry& geo, const std::byte* x, std::byte* stats) = 0;
  /// Combines `parts` rows of batch_norm_statistics, (parts, 1 + 2 * channels), pairwise in row
  /// order (Chan et al.'s update; rows with no values add nothing), into the whole batch's
  /// (3, channels): mean, invstd = 1 / sqrt(var + eps) with the biased var, and the unbiased
  /// var. One row gives exactly batch_norm_forward's statistics. The total count exceeds 1.
  virtual void batch_norm_combine_statistics(std::int64_t parts, std::int64_t channels, const std::byte* gathered,
                                             double eps, std::byte* combined) = 0;
  /// y = (x - mean) * invstd * w + b per channel, with mean and invstd (channels, f64) given;
  /// w, b may be null.
  virtual void batch_norm_normalize(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                                    const std::byte* b, const std::byte* mean, const std::byte* invstd,
                                    std::byte* y) = 0;
  /// sums (2, channels): sum g and sum g * xhat per channel, xhat = (x - mean) * invstd, with
  /// mean and invstd (channels, of dtype) as the forward saved them.
  virtual void batch_norm_backward_sums(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                                        const std::byte* mean, const std::byte* invstd, std::byte* sums) = 0;
  /// dx (like x) = w * invstd * (g - sum g / count - xhat * sum g * xhat / count), from the
  /// sums (2, channels) and the value count of the whole batch; w may be null.
  virtual void batch_norm_backward_input(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                                         const std::byte* w, const std::byte* mean, const std::byte* invstd,
                                         const std::byte* sums, double count, std::byte* dx) = 0;
  /// y = (x - mean) * rstd * w + b with mean and rstd = 1 / sqrt(var + eps) (biased) of each
  /// (sample, group), written to mean and rstd (batch * groups); w, b (channels) may be null.
  virtual void group_norm_forward(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                                  const std::byte* b, double eps, std::byte* y, std::byte* mean, std::byte* rstd) = 0;
  /// From g (like x): dx (like x), dw and db (channels); each may be null and is overwritten.
  virtual void group_norm_backward(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                                   const std::byte* w, const std::byte* mean, const std::byte* rstd, std::byte* dx,
                                   std::byte* dw, std::byte* db) = 0;
};

/// The backend registered for `device`'s kind: the CPU backend always; for CUDA the CUDA
/// backend when it was built, else one whose every entry throws a DeviceError naming the op.
Backend& backend_for(Device device);

/// Whether the backend of `kind` was built into this library (the CPU's always is).
bool is_built(DeviceKind kind);
/// Usable devices of `kind` (1 for the CPU); on 0, *reason (when given) says why.
int device_count(DeviceKind kind, std::string* reason);

}  // namespace dm::backend
