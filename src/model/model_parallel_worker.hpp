#pragma once
// The moving parts of a pipeline: a worker thread per stage, and hand-offs that carry one
// tensor per micro-batch from one stage to the next.
#include <condition_variable>
#include <cstddef>
#include <future>
#include <mutex>
#include <vector>

#include "democratising/core/tensor.hpp"
#include "runtime/serial_executor.hpp"

namespace dm::pipeline {

/// A thread of its own that runs submitted jobs in order. Stages block while waiting for their
/// neighbours, which pool tasks must never do (a small pool would deadlock), so each stage gets
/// a dedicated thread; the ops a stage runs still spread over the pool. The destructor runs
/// what is still queued, then joins.
using StageWorker = detail::SerialExecutor;

/// Thrown in a stage that was waiting when another stage failed; the caller reports the
/// failure that caused it instead.
struct PipelineAborted {};

/// One tensor per micro-batch, put by the producing stage and taken by the consuming one.
class Handoff {
 public:
  /// Empties every slot and clears an abort, for a new pass over `micro_batches`.
  void reset(std::size_t micro_batches);
  void put(std::size_t micro_batch, Tensor value);
  /// Waits for the slot's value and takes it; throws PipelineAborted once abort() was called.
  Tensor take(std::size_t micro_batch);
  /// Wakes every waiting taker with PipelineAborted.
  void abort();

 private:
  std::mutex mutex_;
  std::condition_variable filled_;
  std::vector<Tensor> slots_;
  std::vector<bool> ready_;
  bool aborted_ = false;
};

/// Waits for every future and rethrows the first real failure (a PipelineAborted only counts
/// when nothing else failed, which cannot happen, but then it is still reported).
void wait_all(std::vector<std::future<void>>& futures);

}  // namespace dm::pipeline
