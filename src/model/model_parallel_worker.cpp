// Stage workers and hand-offs of a pipeline (see model_parallel_worker.hpp).
#include "model_parallel_worker.hpp"

#include <utility>

#include "democratising/error.hpp"

namespace dm::pipeline {

StageWorker::StageWorker() : thread_([this] { run(); }) {}

StageWorker::~StageWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::future<void> StageWorker::submit(std::function<void()> job) {
  std::packaged_task<void()> task(std::move(job));
  std::future<void> done = task.get_future();
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(task));
  }
  wake_.notify_one();
  return done;
}

void StageWorker::run() {
  while (true) {
    std::packaged_task<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      task = std::move(jobs_.front());
      jobs_.pop_front();
    }
    task();  // an exception is stored in the task's future
  }
}

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
