#pragma once
// Data-parallel training: every rank holds the whole model, trains on its own shard of each
// batch, and the ranks combine their gradients before each (identical) optimizer step.
//
// Shards are weighted by their size, so they need not be equal: each rank back-propagates its
// shard's summed loss, the ranks add the gradients up and divide by the whole batch's size
// (agreed in one small all-reduce per step). The step is then the full batch's mean-loss
// gradient for any split, the same as one process (Model::train_step) or DataParallel on any
// number of threads compute, up to rounding.
//
// Gradients are grouped in buckets of about `bucket_bytes`, from the last parameter to the
// first (the order backward produces them). A bucket's all-reduce starts as soon as backward
// has finished every gradient in it, while backward goes on with the earlier layers; the step
// then waits for the buckets still in flight. Buckets start in the same order on every rank,
// which the collectives require.
//
// Batch norm (BatchNorm1d/2d in training mode) is synchronised: each layer normalises with
// the mean and variance of the whole batch, all ranks' shards together, its backward gives the
// whole batch's gradient, and the running statistics move by the whole batch's, so they stay
// the same on every rank (see democratising/nn/batch_statistics.hpp). That costs one small
// all-gather per layer in the forward and one in the backward.
//
// Parameters are broadcast from rank 0 when the trainer is made, and the averaged gradients,
// hence the updates, are bitwise the same on every rank, so the parameters stay identical.
//
// Compression (opt-in, f32 models): with Compression::bf16 each bucket travels as bf16, half
// the bytes. Each rank keeps per element what rounding its gradient lost (its error-feedback
// residual) and adds it to the next step's gradient before rounding, so the rounding errors
// cancel over the steps instead of adding up. The ranks exchange the bf16 values and each sums
// them in f32 in rank order, so the parameters still stay bitwise identical on every rank. The
// residuals are each rank's own state: a checkpoint of a compressed run saves every rank's
// (see compression_residual) for the run to continue exactly.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "democratising/distributed/world.hpp"
#include "democratising/model/model.hpp"

namespace dm::dist {

/// What form gradients travel in between the ranks.
enum class Compression {
  none,  ///< the gradients' own dtype, summed by the all-reduce
  bf16,  ///< bf16 (rounded to nearest even) with error feedback, summed in f32 in rank order
};

/// "none" or "bf16".
const char* compression_name(Compression compression);

/// How DistributedTrainer groups and sends gradients.
struct DistributedOptions {
  /// Target size of one gradient bucket. About a megabyte: small enough that a model's large
  /// layer late in the network gets a bucket of its own that starts early in backward, large
  /// enough that per-collective latency does not dominate (measured in benchmarks/RESULTS.md).
  std::int64_t bucket_bytes = 1 << 20;
  /// Start each bucket's all-reduce during backward (true), or only after it (false: the
  /// sequential baseline, kept for measurement).
  bool overlap = true;
  /// What train_step does with a non-finite loss or gradient (the same on every rank: both are
  /// the reduced values, identical everywhere).
  NonFinitePolicy non_finite = NonFinitePolicy::raise;
  /// What form the gradients travel in (the same on every rank).
  Compression compression = Compression::none;
};

/// One gradient bucket: the parameters whose gradients it sends together.
struct BucketInfo {
  /// The parameters' names, in layout order (the bucket sends the span they occupy).
  std::vector<std::string> parameters;
  /// Gradient elements in the bucket.
  std::int64_t elements = 0;
  /// Bytes one rank sends for it per step (before the transport's own framing).
  std::int64_t bytes = 0;
};

/// Where the last step's time went, in seconds.
struct StepTimes {
  double forward_backward = 0.0;  ///< forward, loss and backward (with overlapped communication inside)
  double communication_wait = 0.0;  ///< waiting for all-reduces after backward ended
  double update = 0.0;              ///< optimizer step
  /// The whole step.
  double total = 0.0;
};

/// Data-parallel training across the ranks of a World, all-reducing gradient buckets while
/// backward still runs (see the file comment).
class DistributedTrainer {
 public:
  /// Broadcasts the model's parameters from rank 0 to all ranks. Throws DistributedError when
  /// the ranks' parameter layouts differ (names, shapes or dtype) or their bucket sizes or
  /// compression do, and DTypeError for bf16 compression of a model that is not f32. `model`
  /// and `world` must outlive it.
  DistributedTrainer(Model& model, World& world, DistributedOptions options = {});
  ~DistributedTrainer();
  DistributedTrainer(const DistributedTrainer&) = delete;
  DistributedTrainer& operator=(const DistributedTrainer&) = delete;

  /// Forward and backward on this rank's shard (x: (n, ...), y: (n, ...); n may differ between
  /// ranks and be 0 on some), the whole batch's gradient, one optimizer step. Returns the whole
  /// batch's mean loss (a 0-d f64 tensor, the same on every rank). A non-finite loss or
  /// gradient is handled by options.non_finite, before any update; a skipped step also clears
  /// the compression residuals, which the non-finite values reached.
  Tensor train_step(const Tensor& x, const Tensor& y);
  /// Forward and backward with the bucketed all-reduce; the gradients returned are the whole
  /// batch's mean-loss gradient (views of one block in the model's layout, which the next call
  /// overwrites), and *loss the whole batch's mean loss.
  const Gradients& compute_gradients(const Tensor& x, const Tensor& y, Tensor* loss = nullptr);
  /// Rank `root`'s parameters into every rank's model.
  void broadcast_parameters(int root = 0);

  /// How many buckets the gradients are grouped in.
  int bucket_count() const;
  /// The buckets in the order they are sent (the last parameters first).
  std::vector<BucketInfo> buckets() const;
  /// The options it was made with.
  const DistributedOptions& options() const;
  /// This rank's error-feedback residuals: f32, one per gradient element in the model's
  /// parameter layout (a copy). Undefined without compression.
  Tensor compression_residual() const;
  /// Replaces this rank's residuals (to resume a compressed run): f32 of the layout's element
  /// count. ValueError without compression, ShapeError or DTypeError for another tensor.
  void set_compression_residual(const Tensor& residual);
  /// Where the last step's time went.
  const StepTimes& last_step() const;
  /// Steps train_step skipped for a non-finite loss or gradient (NonFinitePolicy::skip).
  std::int64_t skipped_steps() const;
  /// The World it trains over.
  World& world() const;
  /// The model it trains.
  Model& model() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dm::dist
