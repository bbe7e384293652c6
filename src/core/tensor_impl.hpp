#pragma once
// What a Tensor handle points at. Shape, strides, offset and dtype never change after
// construction, which is what makes sharing a handle between threads safe; only the
// storage's bytes (through in-place ops) and the autograd slot are mutable.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "democratising/base/device.hpp"
#include "democratising/base/dtype.hpp"
#include "democratising/base/shape.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {

/// A block of device memory owned by the matching allocator.
class Storage {
 public:
  /// Allocates `nbytes` (64-byte aligned) on `device`.
  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  /// How many in-place writes this memory has had. Every view of it shares the count, so the
  /// autograd engine can tell whether values it saved for backward are still the ones the
  /// forward pass read. Atomic: writers under a lock and lock-free readers (a graph being
  /// recorded or checked) may look at it at once.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  void bump_version() { version_.fetch_add(1, std::memory_order_acq_rel); }
  /// Whether a leaf that requires grad has lived in this memory (set by set_requires_grad):
  /// an in-place write through a recorded view of it would change a parameter behind the
  /// graph's back, so the in-place ops refuse it while gradients are recorded.
  bool holds_grad_leaf() const { return holds_grad_leaf_.load(std::memory_order_acquire); }
  void mark_grad_leaf() { holds_grad_leaf_.store(true, std::memory_order_release); }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
  std::atomic<std::uint64_t> version_{0};
  std::atomic<bool> holds_grad_leaf_{false};
};

struct AutogradMeta;  // defined by the autograd layer

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  std::int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  std::shared_ptr<AutogradMeta> autograd;

  std::byte* data() const {
    return static_cast<std::byte*>(storage->data()) + offset * static_cast<std::int64_t>(itemsize(dtype));
  }
};

/// A fresh contiguous tensor (uninitialised memory).
Tensor make_tensor(const Shape& shape, DType dtype, Device device);
/// A view of `base`'s storage with new geometry.
Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides, std::int64_t offset);
/// Impl of a defined tensor; throws ValueError naming `op` for an undefined one.
const TensorImpl& impl_of(const Tensor& t, const char* op);

}  // namespace dm

namespace dm {
/// Strides that read `t` as if expanded to `target` (stride 0 on broadcast dims); throws
/// ShapeError naming `op` and both shapes when `t` cannot broadcast to `target`.
Strides broadcast_strides(const TensorImpl& t, const Shape& target, const char* op);
/// Throws DeviceError naming `op` and both devices unless every defined tensor is on one
/// device (mixing devices is an error, never a silent copy); returns that device, or the CPU
/// when none is defined. Undefined tensors are absent optional arguments, such as a missing bias.
Device common_device(std::initializer_list<const Tensor*> tensors, const char* op);
}  // namespace dm
