#pragma once
// Data-parallel training: every rank holds the whole model, trains on its own shard of each
// batch, and the ranks average their gradients before each (identical) optimizer step.
//
// Gradients are grouped in buckets of about `bucket_bytes`, from the last parameter to the
// first (the order backward produces them). A bucket's all-reduce starts as soon as backward
// has finished every gradient in it, while backward goes on with the earlier layers; the step
// then waits for the buckets still in flight. Buckets start in the same order on every rank,
// which the collectives require.
//
// Parameters are broadcast from rank 0 when the trainer is made, and the averaged gradients,
// hence the updates, are bitwise the same on every rank, so the parameters stay identical.
#include <cstdint>
#include <memory>

#include "democratising/dist/world.hpp"
#include "democratising/model.hpp"

namespace dm::dist {

/// How DistributedTrainer groups and sends gradients.
struct DistributedOptions {
  /// Target size of one gradient bucket. A few MB: small enough to start early, large
  /// enough that per-collective latency does not dominate.
  std::int64_t bucket_bytes = 4 << 20;
  /// Start each bucket's all-reduce during backward (true), or only after it (false: the
  /// sequential baseline, kept for measurement).
  bool overlap = true;
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
  /// the ranks' models differ in parameter count or dtype. `model` and `world` must outlive it.
  DistributedTrainer(Model& model, World& world, DistributedOptions options = {});
  ~DistributedTrainer();
  DistributedTrainer(const DistributedTrainer&) = delete;
  DistributedTrainer& operator=(const DistributedTrainer&) = delete;

  /// Forward and backward on this rank's shard, gradients averaged over the ranks, one
  /// optimizer step. Returns the loss averaged over the ranks (a 0-d tensor).
  Tensor train_step(const Tensor& x, const Tensor& y);
  /// Forward and backward with the bucketed all-reduce; the gradients returned are the mean
  /// over ranks (views of one flat buffer that the next call overwrites).
  const Gradients& compute_gradients(const Tensor& x, const Tensor& y, Tensor* loss = nullptr);
  /// Rank `root`'s parameters into every rank's model.
  void broadcast_parameters(int root = 0);

  /// How many buckets the gradients are grouped in.
  int bucket_count() const;
  /// Where the last step's time went.
  const StepTimes& last_step() const;
  /// The World it trains over.
  World& world() const;
  /// The model it trains.
  Model& model() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dm::dist
