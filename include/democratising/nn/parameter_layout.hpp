#pragma once
// nn::ParameterLayout: where each of a model's parameters lives in one flat block.
//
// Made once, when a module's parameters are flattened, and shared from then on by everything
// that handles the parameters as a whole: the module's own block, Gradients, the optimizers'
// state, the gradient buckets of the data-parallel trainer, the parameter server's frames,
// checkpoints and dm::Parameters. Each of them is then one pass over one block, and none of
// them works the offsets out again.
//
// The block is dense (parameter i starts where parameter i-1 ends) and of one dtype; its
// start is aligned by the allocator (64 bytes on the CPU).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "democratising/core/tensor.hpp"

namespace dm::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// Names, shapes and offsets of a model's parameters in one flat block of one dtype, made
/// once and shared by the parameters, gradients, optimizer state and checkpoints.
class ParameterLayout {
 public:
  /// One parameter's place in the block.
  struct Entry {
    /// The parameter's name, as in named_parameters().
    std::string name;
    /// Its shape.
    Shape shape;
    /// Its first element, counted in elements from the start of the block.
    std::int64_t offset = 0;
    /// Its number of elements.
    std::int64_t numel = 0;
  };

  /// The layout of `parameters` in this order, packed densely. They must share one dtype
  /// (DTypeError naming the two otherwise) and have unique names (ValueError).
  static std::shared_ptr<const ParameterLayout> of(const NamedTensors& parameters);

  /// Every entry, in block order.
  const std::vector<Entry>& entries() const { return entries_; }
  /// The number of parameters.
  std::size_t size() const { return entries_.size(); }
  /// Entry i.
  const Entry& operator[](std::size_t i) const { return entries_[i]; }
  /// The dtype of every parameter, hence of the block.
  DType dtype() const { return dtype_; }
  /// Elements in the block.
  std::int64_t numel() const { return numel_; }
  /// The entry called `name`; ValueError naming it otherwise.
  std::size_t index_of(const std::string& name) const;

  /// A new block of numel() elements (shape (numel)), zero-filled, of the layout's dtype
  /// unless told otherwise.
  Tensor allocate(Device device = Device::cpu()) const;
  /// A new zero-filled block of numel() elements of `dtype` (optimizer state in another dtype).
  Tensor allocate(DType dtype, Device device = Device::cpu()) const;
  /// A new block of the layout's dtype left uninitialised, for a caller that writes every
  /// element before reading any (a gradient that backward fills), saving a pass.
  Tensor allocate_for_overwrite(Device device = Device::cpu()) const;
  /// The view of each entry into `block` (contiguous, shape (numel), any dtype), in order;
  /// ShapeError for a block of another size.
  std::vector<Tensor> views(const Tensor& block) const;
  /// The same views by name.
  NamedTensors named_views(const Tensor& block) const;
  /// Whether `block` holds `tensors` in this layout: each tensor is the contiguous view of its
  /// entry, of the block's storage and dtype.
  bool describes(const std::vector<Tensor>& tensors, const Tensor& block) const;

  /// Same names, shapes, order and dtype.
  bool operator==(const ParameterLayout& other) const;
  /// A digest of names, shapes and dtype, for comparing layouts held by other processes.
  std::uint64_t fingerprint() const;

 private:
  std::vector<Entry> entries_;
  DType dtype_ = DType::f32;
  std::int64_t numel_ = 0;
};

}  // namespace dm::nn
