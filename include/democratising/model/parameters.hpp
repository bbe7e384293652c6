#pragma once
// dm::Parameters: one flat f32 parameter buffer behind a reader-writer lock.
//
//   dm::Parameters params(dm::Tensor::zeros({n}));
//   params.update(delta);            // takes the write lock once for this one update
//   params.update_batch(updates);    // takes it once for all of them, in one fused pass
//
// update_batch takes the lock as rarely as possible and walks memory once: instead of one
// lock acquisition and one sweep over the whole buffer per update, the buffer is walked once in
// cache-sized blocks (in parallel on the pool) and every update is added to a block while it is
// still in cache. Within each element the updates are added in their order, so the result is
// bitwise the same as calling update() on each of them in turn, for any pool size.
//
// A Parameters is also how to update a model's own parameters this way: Model::parameters()
// gives a handle on the model's flat block (no copy) behind the model's own lock, so
//   auto params = model.parameters();
//   params.update_batch(updates);    // the model's next forward sees the result
// Copies of a handle share the values and the lock.
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "democratising/runtime/sync.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {

class Model;

/// One flat f32 parameter buffer behind a reader-writer lock (see the file comment).
class Parameters {
 public:
  /// Takes a copy of `initial` (any shape; f32 on the CPU, else DTypeError / DeviceError),
  /// kept as one contiguous vector of initial.numel() values, behind a lock of its own.
  explicit Parameters(const Tensor& initial);

  /// Number of values.
  std::int64_t numel() const { return numel_; }

  /// params += alpha * delta under the write lock. delta: f32 on the CPU with numel() values
  /// (any shape, any strides); otherwise ShapeError, DTypeError or DeviceError, and nothing changes.
  void update(const Tensor& delta, float alpha = 1.0f);
  /// params += alpha * (deltas[0] + deltas[1] + ...), added in that order, under one write lock
  /// and in one pass over the buffer. Every delta is checked before anything changes.
  void update_batch(std::span<const Tensor> deltas, float alpha = 1.0f);

  /// params = values under the write lock (the same checks as update; nothing changes on error).
  void assign(const Tensor& values);

  /// A copy of the values (shape (numel)), taken under the read lock.
  Tensor snapshot() const;
  /// Calls fn(values) with the values (a read-only view, shape (numel)) under the read lock.
  template <class F>
  decltype(auto) read(F&& fn) const {
    std::shared_lock lock(*mutex_);
    return std::forward<F>(fn)(static_cast<const Tensor&>(values_));
  }

 private:
  friend class Model;
  /// A handle on `values` (contiguous f32 CPU, shape (numel)) guarded by `mutex`, both shared.
  Parameters(Tensor values, std::shared_ptr<WriterPreferringMutex> mutex);

  Tensor values_;  // contiguous f32, shape (numel)
  std::int64_t numel_ = 0;
  // Shared: with a model's own lock for a handle on its parameters, and between copies. The
  // lock prefers writers, so a stream of readers cannot starve the updates.
  std::shared_ptr<WriterPreferringMutex> mutex_;
};

}  // namespace dm
