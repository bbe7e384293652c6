// Batch norm's statistics across the ranks of a World (see rank_batch_statistics.hpp).
#include "rank_batch_statistics.hpp"

#include <string>

#include "democratising/base/error.hpp"

namespace dm::dist {

Tensor RankBatchStatistics::all_gather(const Tensor& local) {
  if (!local.defined() || local.dtype() != DType::f64 || local.dim() != 1)
    throw DTypeError("[DistributedTrainer] batch statistics travel as one f64 vector per rank, got " +
                     (local.defined() ? local.shape().str() + " " + std::string(dtype_name(local.dtype()))
                                      : std::string("an undefined tensor")));
  const Tensor mine = local.to(Device::cpu()).contiguous();
  Tensor all = Tensor::empty(Shape{world_.size(), mine.numel()}, DType::f64);
  world_.transport()
      .start_all_gather(mine.data_ptr(), all.data_ptr(), mine.numel() * static_cast<std::int64_t>(sizeof(double)))
      ->wait();
  return all;
}

}  // namespace dm::dist
