// The MPI backend. MPI starts with the first backend in a process and finalizes with the last
// (unless the program had started MPI itself: then it stays the program's to finalize). Each
// World gets its own duplicate of MPI_COMM_WORLD, so its collectives never match a message of
// the program's own, and MPI errors are returned, not fatal, so they become DistributedErrors.
//
// Broadcast, all-gather and barrier are non-blocking operations polled against a deadline:
// that is how a silent peer turns into a TimeoutError instead of a hang. The blocking
// all-reduce is MPI_Allreduce itself (see there).
//
// Started all-reduces run as blocking MPI_Allreduce calls on the backend's own thread
// (OrderedJobs), in start order; the caller's waits have deadlines. MPI moves a non-blocking
// collective only inside MPI calls, and its non-blocking algorithms measured 2-4x slower than
// the blocking ones here (4 MB: 5.0 ms against 1.1 ms), so the thread is both the faster
// transfer and the one that really overlaps the caller's computation. Anything else the World
// does first waits for the started ones, so every rank issues its collectives in one order.
// That needs MPI_THREAD_MULTIPLE; where the program started MPI with less, started all-reduces
// fall back to polled non-blocking ones.
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <mutex>
#include <string>

#include "backends.hpp"
#include "democratising/error.hpp"
#include "ordered_jobs.hpp"

namespace dm::dist::detail {
namespace {

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<std::size_t>(length));
}

void check_mpi(int code, const char* op, int rank) {
  if (code != MPI_SUCCESS)
    throw DistributedError(std::string("[") + op + "] rank " + std::to_string(rank) + ": MPI error: " + mpi_error_text(code));
}

// The process's MPI lifetime, shared by every MPI backend.
class MpiRuntime {
 public:
  static std::shared_ptr<MpiRuntime> acquire() {
    static std::mutex mutex;
    static std::weak_ptr<MpiRuntime> current;
    std::lock_guard lock(mutex);
    if (auto alive = current.lock()) return alive;
    auto runtime = std::shared_ptr<MpiRuntime>(new MpiRuntime());
    current = runtime;
    return runtime;
  }
  ~MpiRuntime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_ && !finalized && !call_left_running_) MPI_Finalize();
  }
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  /// A call that will not return (its peer went silent) is left running on a detached thread:
  /// MPI_Finalize would wait for it, so the process ends without it.
  void leave_call_running() { call_left_running_ = true; }

  /// Whether threads other than the one that started MPI may call it too.
  bool threads_may_call() const {
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    return level == MPI_THREAD_MULTIPLE;
  }

 private:
  MpiRuntime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized)
      throw DistributedError("[World::mpi] MPI was finalized in this process already and cannot start again");
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return;  // the program started MPI: it finalizes it too
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
      throw DistributedError("[World::mpi] MPI_Init_thread failed");
    owns_ = true;
    if (provided < MPI_THREAD_FUNNELED)
      throw DistributedError("[World::mpi] this MPI does not offer MPI_THREAD_FUNNELED");
  }

  bool owns_ = false;
  std::atomic<bool> call_left_running_{false};
};

MPI_Datatype mpi_type(DType dtype, const char* op) {
  switch (dtype) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    default:
      throw DTypeError(std::string("[") + op + "] collectives support f32, f64, i32 and i64, not " +
                       std::string(dtype_name(dtype)));
  }
}

MPI_Op mpi_op(Reduction op) {
  switch (op) {
    case Reduction::Max: return MPI_MAX;
    case Reduction::Min: return MPI_MIN;
    default: return MPI_SUM;  // Mean is a sum here; the World divides afterwards
  }
}

int checked_count(std::int64_t count, const char* op) {
  if (count < 0 || count > INT_MAX)
    throw ValueError(std::string("[") + op + "] " + std::to_string(count) + " elements: MPI counts stop at " +
                     std::to_string(INT_MAX));
  return static_cast<int>(count);
}

class MpiBackend;

// Polls `request` until it completes; past the deadline, breaks the backend and throws.
void wait_for_request(MPI_Request& request, const char* op, int rank, std::chrono::milliseconds timeout,
                      std::string& broken_reason) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int done = 0;
  for (unsigned spins = 0;; ++spins) {
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), op, rank);
    if (done) return;
    // The clock is read every 64 polls: a poll is far cheaper than the timeout's resolution.
    if (spins % 64 == 63 && std::chrono::steady_clock::now() > deadline) {
      broken_reason = std::string("[") + op + "] rank " + std::to_string(rank) + " timed out after " +
                      std::to_string(timeout.count()) + " ms waiting for the other ranks";
      throw TimeoutError(broken_reason);
    }
  }
}

class MpiPendingAllReduce : public PendingCollective {
 public:
  MpiPendingAllReduce(MPI_Request request, int rank, std::chrono::milliseconds timeout, std::string& broken_reason)
      : request_(request), rank_(rank), timeout_(timeout), broken_reason_(broken_reason) {}
  ~MpiPendingAllReduce() override {
    // A collective cannot be cancelled; one left unfinished would write into freed memory.
    if (request_ != MPI_REQUEST_NULL && broken_reason_.empty()) {
      try {
        wait();
      } catch (...) {
      }
    }
  }
  bool test() override {
    if (request_ == MPI_REQUEST_NULL) return true;
    int done = 0;
    check_mpi(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), "all_reduce", rank_);
    return done != 0;
  }
  void wait() override {
    if (request_ != MPI_REQUEST_NULL) wait_for_request(request_, "all_reduce", rank_, timeout_, broken_reason_);
  }

 private:
  MPI_Request request_;
  int rank_;
  std::chrono::milliseconds timeout_;
  std::string& broken_reason_;
};

// A started all-reduce running on the backend's job thread.
class ThreadedPendingAllReduce : public PendingCollective {
 public:
  ThreadedPendingAllReduce(OrderedJobs& jobs, OrderedJobs::Handle handle, int rank, std::chrono::milliseconds timeout,
                           std::string& broken_reason)
      : jobs_(jobs), handle_(std::move(handle)), rank_(rank), timeout_(timeout), broken_reason_(broken_reason) {}
  ~ThreadedPendingAllReduce() override {
    // The job writes into the caller's tensor: it must be over before the caller moves on.
    if (broken_reason_.empty()) {
      try {
        wait();
      } catch (...) {
      }
    }
  }
  bool test() override { return handle_.done(); }
  void wait() override {
    if (handle_.wait_until(std::chrono::steady_clock::now() + timeout_)) return;
    broken_reason_ = "[all_reduce] rank " + std::to_string(rank_) + " timed out after " +
                     std::to_string(timeout_.count()) + " ms waiting for the other ranks";
    jobs_.abandon(broken_reason_);
    throw TimeoutError(broken_reason_);
  }

 private:
  OrderedJobs& jobs_;
  OrderedJobs::Handle handle_;
  int rank_;
  std::chrono::milliseconds timeout_;
  std::string& broken_reason_;
};

class MpiBackend : public Backend {
 public:
  explicit MpiBackend(const WorldOptions& options) : runtime_(MpiRuntime::acquire()), timeout_(options.timeout) {
    if (timeout_.count() <= 0)
      throw ValueError("[World::mpi] the timeout must be positive, got " + std::to_string(timeout_.count()) + " ms");
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "World::mpi", -1);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    if (runtime_->threads_may_call()) jobs_ = std::make_unique<OrderedJobs>();
  }
  ~MpiBackend() override {
    if (jobs_) {
      // What is queued fails at once if the world is broken; a call already running (perhaps
      // the very one a wait gave up on, its match still to come) gets one more timeout.
      if (!broken_reason_.empty()) jobs_->abandon(broken_reason_);
      if (!jobs_->drain_until(std::chrono::steady_clock::now() + timeout_)) {
        abort("a started all-reduce was still running when the world went");
        runtime_->leave_call_running();
      }
      jobs_.reset();
    }
    // Freeing is itself collective-like in some MPIs; after a failure, leave it to MPI_Finalize.
    if (broken_reason_.empty()) MPI_Comm_free(&comm_);
  }
  MpiBackend(const MpiBackend&) = delete;
  MpiBackend& operator=(const MpiBackend&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "mpi"; }

  // The blocking all-reduce is MPI's own: its tuned algorithms measured about 1.4x faster here
  // than the non-blocking one polled. It has no deadline of its own; the agreement exchange
  // that precedes it (on by default) has, and is where a silent peer is noticed.
  void all_reduce(void* data, std::int64_t count, DType dtype, Reduction op) override {
    throw_if_broken("all_reduce");
    finish_started("all_reduce");
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data, checked_count(count, "all_reduce"), mpi_type(dtype, "all_reduce"),
                            mpi_op(op), comm_),
              "all_reduce", rank_);
  }

  std::unique_ptr<PendingCollective> start_all_reduce(void* data, std::int64_t count, DType dtype,
                                                      Reduction op) override {
    throw_if_broken("all_reduce");
    if (jobs_) {
      const int n = checked_count(count, "all_reduce");
      const MPI_Datatype type = mpi_type(dtype, "all_reduce");
      const MPI_Op mpi_reduction = mpi_op(op);
      OrderedJobs::Handle handle = jobs_->push([=, this] {
        check_mpi(MPI_Allreduce(MPI_IN_PLACE, data, n, type, mpi_reduction, comm_), "all_reduce", rank_);
      });
      return std::make_unique<ThreadedPendingAllReduce>(*jobs_, std::move(handle), rank_, timeout_, broken_reason_);
    }
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data, checked_count(count, "all_reduce"), mpi_type(dtype, "all_reduce"),
                             mpi_op(op), comm_, &request),
              "all_reduce", rank_);
    return std::make_unique<MpiPendingAllReduce>(request, rank_, timeout_, broken_reason_);
  }

  void broadcast(void* data, std::int64_t bytes, int root) override {
    throw_if_broken("broadcast");
    finish_started("broadcast");
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Ibcast(data, checked_count(bytes, "broadcast"), MPI_BYTE, root, comm_, &request), "broadcast", rank_);
    wait_for_request(request, "broadcast", rank_, timeout_, broken_reason_);
  }

  void all_gather(const void* data, void* out, std::int64_t bytes) override {
    throw_if_broken("all_gather");
    finish_started("all_gather");
    MPI_Request request = MPI_REQUEST_NULL;
    const int n = checked_count(bytes, "all_gather");
    check_mpi(MPI_Iallgather(data, n, MPI_BYTE, out, n, MPI_BYTE, comm_, &request), "all_gather", rank_);
    wait_for_request(request, "all_gather", rank_, timeout_, broken_reason_);
  }

  void barrier() override {
    throw_if_broken("barrier");
    finish_started("barrier");
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Ibarrier(comm_, &request), "barrier", rank_);
    wait_for_request(request, "barrier", rank_, timeout_, broken_reason_);
  }

  void abort(const std::string& reason) override {
    if (broken_reason_.empty()) broken_reason_ = reason.empty() ? "aborted" : reason;
    if (jobs_) jobs_->abandon(broken_reason_);
  }

 private:
  void throw_if_broken(const char* op) const {
    if (!broken_reason_.empty())
      throw DistributedError(std::string("[") + op + "] rank " + std::to_string(rank_) +
                             ": the world is broken: " + broken_reason_);
  }

  // Started all-reduces come first: every rank then issues its collectives in call order.
  void finish_started(const char* op) {
    if (!jobs_ || jobs_->drain_until(std::chrono::steady_clock::now() + timeout_)) return;
    broken_reason_ = std::string("[") + op + "] rank " + std::to_string(rank_) + " timed out after " +
                     std::to_string(timeout_.count()) + " ms waiting for started all-reduces to finish";
    jobs_->abandon(broken_reason_);
    throw TimeoutError(broken_reason_);
  }

  std::shared_ptr<MpiRuntime> runtime_;
  std::chrono::milliseconds timeout_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  std::string broken_reason_;
  std::unique_ptr<OrderedJobs> jobs_;  // null without MPI_THREAD_MULTIPLE
};

}  // namespace

std::shared_ptr<Backend> make_mpi_backend(const WorldOptions& options) { return std::make_shared<MpiBackend>(options); }

}  // namespace dm::dist::detail
