#pragma once
// dm::DataParallel: synchronous data-parallel training of one Model on the process pool.
//
//   dm::DataParallel trainer(model);            // shards of at most 16 samples
//   for (dm::Batch b : loader) trainer.train_step(b.x, b.y);
//
// Each batch is cut into shards of `shard_size` samples (the last may be smaller). The
// gradients of the shards are computed in parallel on the pool (Model::compute_gradients is
// thread-safe: each call records its own graph under the parameters' read lock), reduced in
// shard order as sum_k (n_k / n) * g_k, and applied in one optimizer step.
//
// Why shards of a fixed size and not one shard per thread: the cut, and so every floating-point
// operation, then depends only on the batch, never on how many threads run it. The parameters
// after N steps are bitwise the same for 1, 2 or 64 threads. Weighting each shard's gradient by
// its share of the samples makes the sum the gradient of the full-batch mean loss (up to
// rounding), for any loss that is a mean over the samples, such as cross_entropy and mse_loss;
// the DDP trainer weights its ranks' shards the same way. f32 and f64 parameters are accepted.
// Layers that draw random numbers in training mode (dropout) draw them from a stream of each
// shard's own, derived from the global generator (which moves on by one counter per step) and
// the shard's index, so their masks do not depend on the thread count either.
//
// A model that normalises with batch statistics (nn::Module::uses_batch_statistics(): batch
// norm) is run as one shard of the whole batch, whatever shard_size says: statistics over a
// shard would differ from those over the batch, and so from Model::train_step's. Its result is
// then bitwise that of Model::train_step on the same batch, for any thread count; the ops
// inside the step still run in parallel on the pool.
#include <cstdint>

#include "democratising/base/error.hpp"
#include "democratising/model/model.hpp"

namespace dm {

/// How DataParallel cuts batches and treats a diverged step.
struct DataParallelOptions {
  /// Samples per shard (>= 1; ValueError otherwise). Smaller shards spread a small batch over
  /// more threads; larger ones keep each shard's matrix products efficient.
  std::int64_t shard_size = 16;
  /// What train_step does with a NaN or infinite loss or gradient.
  NonFinitePolicy non_finite = NonFinitePolicy::raise;
};

/// Synchronous data-parallel training of one Model on the pool, with a result that does not
/// depend on the thread count (see the file comment).
class DataParallel {
 public:
  /// Trains `model`, which must outlive this object.
  explicit DataParallel(Model& model, DataParallelOptions options = {});

  /// Shard gradients in parallel, one reduction, one optimizer step; returns the batch's mean
  /// loss (a 0-d tensor). x: (B, ...), y: (B, ...) with B >= 1 (ShapeError otherwise). A
  /// non-finite loss or gradient is handled by options().non_finite, before any update.
  Tensor train_step(const Tensor& x, const Tensor& y);
  /// The reduced gradient of the batch's mean loss, without a step; the loss goes to *loss.
  Gradients compute_gradients(const Tensor& x, const Tensor& y, Tensor* loss = nullptr) const;
  /// Number of shards a batch of `batch` samples is cut into (1 for a model that uses batch
  /// statistics, see the file comment).
  std::int64_t shard_count(std::int64_t batch) const;

  /// The model it trains.
  Model& model() const { return *model_; }
  /// The options it was made with.
  const DataParallelOptions& options() const { return options_; }
  /// Steps train_step skipped for a non-finite loss or gradient (NonFinitePolicy::skip).
  std::int64_t skipped_steps() const { return skipped_steps_; }

 private:
  std::int64_t shard_size(std::int64_t batch) const;

  Model* model_;
  DataParallelOptions options_;
  std::int64_t skipped_steps_ = 0;
};

}  // namespace dm
