#pragma once
// A thread of its own that runs jobs one at a time, in the order they were queued, and the
// handles to wait for them with a deadline. The MPI backend runs started all-reduces on it as
// blocking calls: they move data while the caller computes, and in queue order, which is the
// order every rank must issue its collectives in.
//
// A job that never returns (a blocking call whose peer went silent) cannot be interrupted:
// waiting for it times out, the runner is abandoned (the jobs still queued fail without
// running), and its thread is detached when the runner goes.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace dm::dist::detail {

class OrderedJobs {
 public:
  struct Job;
  /// What the caller keeps of a queued job.
  class Handle {
   public:
    Handle(OrderedJobs& jobs, std::shared_ptr<Job> job) : jobs_(&jobs), job_(std::move(job)) {}
    /// True once the job has run; rethrows what it threw.
    bool done() const;
    /// Blocks until the job has run (rethrowing what it threw), or until `deadline`: false.
    bool wait_until(std::chrono::steady_clock::time_point deadline) const;

   private:
    OrderedJobs* jobs_;
    std::shared_ptr<Job> job_;
  };

  OrderedJobs() = default;
  ~OrderedJobs();
  OrderedJobs(const OrderedJobs&) = delete;
  OrderedJobs& operator=(const OrderedJobs&) = delete;

  /// Queues fn behind every job queued before it; the thread starts with the first job.
  Handle push(std::function<void()> fn);
  /// Blocks until every queued job has run, or until `deadline`: false.
  bool drain_until(std::chrono::steady_clock::time_point deadline);
  /// Stops running jobs: those queued fail with `reason`, and the thread is detached at the
  /// end if a job is still running then.
  void abandon(const std::string& reason);
  /// Whether a job is running now.
  bool busy();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool running_job_ = false;
  bool stopping_ = false;
  std::string abandoned_;  // why, once abandoned
  std::thread thread_;
};

struct OrderedJobs::Job {
  std::function<void()> fn;
  bool done = false;
  std::exception_ptr error;
};

}  // namespace dm::dist::detail
