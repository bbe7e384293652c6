// OrderedJobs: one thread, one job at a time, in queue order.
#include "ordered_jobs.hpp"

#include "democratising/error.hpp"

namespace dm::dist::detail {

OrderedJobs::~OrderedJobs() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  changed_.notify_all();
  const bool stuck = running_job_ && !abandoned_.empty();
  lock.unlock();
  if (!thread_.joinable()) return;
  if (stuck) {
    thread_.detach();  // inside a call that will not return; the process is on its way out
  } else {
    thread_.join();  // runs what is queued first: a job may write into memory its caller still owns
  }
}

OrderedJobs::Handle OrderedJobs::push(std::function<void()> fn) {
  auto job = std::make_shared<Job>();
  job->fn = std::move(fn);
  std::lock_guard lock(mutex_);
  if (!abandoned_.empty()) {
    job->done = true;
    job->error = std::make_exception_ptr(DistributedError(abandoned_));
  } else {
    queue_.push_back(job);
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    changed_.notify_all();
  }
  return Handle(*this, job);
}

void OrderedJobs::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, with nothing left to run
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    if (!abandoned_.empty()) {
      job->error = std::make_exception_ptr(DistributedError(abandoned_));
    } else {
      running_job_ = true;
      lock.unlock();
      std::exception_ptr error;
      try {
        job->fn();
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      running_job_ = false;
      job->error = error;
    }
    job->done = true;
    changed_.notify_all();
  }
}

bool OrderedJobs::drain_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] { return queue_.empty() && !running_job_; });
}

void OrderedJobs::abandon(const std::string& reason) {
  std::lock_guard lock(mutex_);
  if (abandoned_.empty()) abandoned_ = reason.empty() ? "abandoned" : reason;
  changed_.notify_all();
}

bool OrderedJobs::busy() {
  std::lock_guard lock(mutex_);
  return running_job_;
}

bool OrderedJobs::Handle::done() const {
  std::lock_guard lock(jobs_->mutex_);
  if (job_->done && job_->error) std::rethrow_exception(job_->error);
  return job_->done;
}

bool OrderedJobs::Handle::wait_until(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(jobs_->mutex_);
  if (!jobs_->changed_.wait_until(lock, deadline, [&] { return job_->done; })) return false;
  if (job_->error) std::rethrow_exception(job_->error);
  return true;
}

}  // namespace dm::dist::detail
