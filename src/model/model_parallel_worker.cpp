// Hand-offs of a pipeline (see model_parallel_worker.hpp).
#include "model_parallel_worker.hpp"

#include <utility>

#include "democratising/base/error.hpp"

namespace dm::pipeline {

void Handoff::reset(std::size_t micro_batches) {
  std::lock_guard lock(mutex_);
  slots_.assign(micro_batches, Tensor());
  ready_.assign(micro_batches, false);
  aborted_ = false;
}

void Handoff::put(std::size_t micro_batch, Tensor value) {
  {
    std::lock_guard lock(mutex_);
    slots_.at(micro_batch) = std::move(value);
    ready_.at(micro_batch) = true;
  }
  filled_.notify_all();
}

Tensor Handoff::take(std::size_t micro_batch) {
  std::unique_lock lock(mutex_);
  filled_.wait(lock, [&] { return aborted_ || ready_.at(micro_batch); });
  if (aborted_) throw PipelineAborted{};
  ready_[micro_batch] = false;
  return std::move(slots_[micro_batch]);
}

void Handoff::abort() {
  {
    std::lock_guard lock(mutex_);
    aborted_ = true;
  }
  filled_.notify_all();
}

void wait_all(std::vector<std::future<void>>& futures) {
  std::exception_ptr failure;
  bool aborted = false;
  for (auto& f : futures) {
    try {
      f.get();
    } catch (const PipelineAborted&) {
      aborted = true;
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  if (aborted) throw Error("[ModelParallel] the pipeline was aborted without a reported failure");
}

}  // namespace dm::pipeline
