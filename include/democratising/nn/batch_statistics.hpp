#pragma once
// Batch norm over a batch that is split between processes (or threads), each holding a shard:
// synchronised batch norm, as torch.nn.SyncBatchNorm. While a BatchStatisticsScope is alive on
// a thread, every training-mode batch norm there (nn::batch_norm, BatchNorm1d/2d) normalises
// with the per-channel mean and variance of all the shards together, and its backward gives
// the gradient of the whole batch's loss. The data-parallel trainer installs one for its
// forward and backward passes; nothing else needs to.
//
// Each layer exchanges two small f64 buffers per step through the reducer: its shard's count,
// means and sums of squared deviations in the forward, and its two per-channel gradient sums in
// the backward. Every participant therefore has to run the same layers in the same order.
// Evaluation mode uses the running statistics and exchanges nothing.
#include <memory>

#include "democratising/core/tensor.hpp"

namespace dm::nn {

/// What synchronised batch norm needs from the participants that share a batch.
class BatchStatisticsReducer {
 public:
  virtual ~BatchStatisticsReducer() = default;
  /// Collective: every participant passes a contiguous f64 vector of the same length, in the
  /// same order of calls; returns all of them stacked in participant order, (participants, n),
  /// the same bits on every participant.
  virtual Tensor all_gather(const Tensor& local) = 0;
};

/// Installs a reducer for the training-mode batch norm calls of the calling thread while it
/// lives, and restores the one before it afterwards. The autograd nodes those calls record keep
/// the reducer, so their backward exchanges through it wherever it runs.
class BatchStatisticsScope {
 public:
  /// Installs `reducer` (null: none, each batch its own statistics) on the calling thread.
  explicit BatchStatisticsScope(std::shared_ptr<BatchStatisticsReducer> reducer);
  /// Restores the reducer that was installed before.
  ~BatchStatisticsScope();
  BatchStatisticsScope(const BatchStatisticsScope&) = delete;
  BatchStatisticsScope& operator=(const BatchStatisticsScope&) = delete;

 private:
  std::shared_ptr<BatchStatisticsReducer> previous_;
};

/// The reducer installed on the calling thread, or null (batch norm then uses its own batch).
std::shared_ptr<BatchStatisticsReducer> batch_statistics_reducer();

}  // namespace dm::nn
