#pragma once
// The DDP trainer's batch statistics reducer: batch norm's per-channel buffers gathered from
// every rank of a World (see democratising/nn/batch_statistics.hpp).
#include "democratising/distributed/world.hpp"
#include "democratising/nn/batch_statistics.hpp"

namespace dm::dist {

/// Gathers through the World's transport as a started all-gather waited for at once: it then
/// runs in start order with the gradient buckets already on their way (every rank starts both
/// in the same order, the order backward reaches them), under the World's timeout, so a rank
/// that never comes is a TimeoutError, not a hang. No agreement exchange: the trainer has
/// checked that every rank holds the same layers, so the buffers' lengths agree.
class RankBatchStatistics : public nn::BatchStatisticsReducer {
 public:
  explicit RankBatchStatistics(World& world) : world_(world) {}
  Tensor all_gather(const Tensor& local) override;

 private:
  World& world_;
};

}  // namespace dm::dist
