// The MPI transport. MPI starts with the first transport in a process and finalizes with the last
// (unless the program had started MPI itself: then it stays the program's to finalize). Each
// World gets its own duplicate of MPI_COMM_WORLD, so its collectives never match a message of
// the program's own, and MPI errors are returned, not fatal, so they become DistributedErrors.
//
// Broadcast, all-gather and barrier are non-blocking operations polled against a deadline:
// that is how a silent peer turns into a TimeoutError instead of a hang. All-reduces are
// blocking MPI_Allreduce calls on a thread of their own (below), waited for with the same
// deadline. A heartbeat between the ranks (mpi_heartbeat.hpp) lets the TimeoutError name the
// rank that fell silent.
//
// Started all-reduces (and started all-gathers, which the compressed DDP step sends) run as
// blocking MPI_Allreduce (MPI_Allgather) calls on the transport's own thread (a
// SerialExecutor), in start order; the caller's waits have deadlines. MPI moves a non-blocking
// collective only inside MPI calls, and its non-blocking algorithms measured 2-4x slower than
// the blocking ones here (4 MB: 5.0 ms against 1.1 ms), so the thread is both the faster
// transfer and the one that really overlaps the caller's computation. The thread has a
// communicator of its own: MPI matches collectives per communicator, so every rank's started
// collectives meet in start order, the caller's in call order, and neither waits for the other.
// That needs MPI_THREAD_MULTIPLE; where the program started MPI with less, started all-reduces
// fall back to polled non-blocking ones.
//
// With AllReduceRoute::tcp_ring the all-reduces go round a ring of TCP connections instead
// (tcp_ring.hpp), on a thread of their own, in start order; MPI carries everything else.
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "runtime/serial_executor.hpp"
#include "transports.hpp"
#include "democratising/base/error.hpp"
#include "mpi_heartbeat.hpp"
#include "tcp_ring.hpp"

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

// The process's MPI lifetime, shared by every MPI transport.
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

// The longest a world that goes waits for its peers to go too, so that the heartbeat's
// communicator can be freed (mpi_heartbeat.hpp); a peer later than that leaves it kept.
constexpr std::chrono::milliseconds kLongestGoodbye{2000};

// What every wait of one transport shares: the deadline, why the transport broke (empty while it
// works), and the heartbeat that tells who fell silent.
struct Deadlines {
  int rank = 0;
  std::chrono::milliseconds timeout{0};
  std::string broken_reason;
  std::unique_ptr<MpiHeartbeat> heartbeat;  // null without MPI_THREAD_MULTIPLE

  /// A beat every eighth of the timeout, within [20 ms, 1 s]: cheap, and many beats per timeout.
  std::chrono::milliseconds beat_interval() const {
    return std::clamp(timeout / 8, std::chrono::milliseconds(20), std::chrono::milliseconds(1000));
  }
  /// Breaks the transport with the message of a timeout of `op` and returns it.
  std::string time_out(const char* op, const std::string& waiting_for) {
    std::string what = std::string("[") + op + "] rank " + std::to_string(rank) + " timed out after " +
                       std::to_string(timeout.count()) + " ms waiting for " + waiting_for;
    // A rank that beats is at most about one interval behind; half the timeout of silence is
    // far beyond that, and well within what a rank stopped before the collective has missed.
    if (heartbeat) what += ": " + heartbeat->describe_silence(std::max(3 * beat_interval(), timeout / 2));
    if (broken_reason.empty()) broken_reason = what;
    return what;
  }
};

// Polls `request` until it completes; past the deadline, breaks the transport and throws.
void wait_for_request(MPI_Request& request, const char* op, Deadlines& deadlines) {
  const auto deadline = std::chrono::steady_clock::now() + deadlines.timeout;
  int done = 0;
  for (unsigned spins = 0;; ++spins) {
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), op, deadlines.rank);
    if (done) return;
    // The clock is read every 64 polls: a poll is far cheaper than the timeout's resolution.
    if (spins % 64 == 63 && std::chrono::steady_clock::now() > deadline)
      throw TimeoutError(deadlines.time_out(op, "the other ranks"));
  }
}

// A started non-blocking collective (all_reduce or all_gather), polled against the deadline.
class MpiPendingRequest : public PendingCollective {
 public:
  MpiPendingRequest(MPI_Request request, Deadlines& deadlines, const char* op)
      : request_(request), deadlines_(deadlines), op_(op) {}
  ~MpiPendingRequest() override {
    // A collective cannot be cancelled; one left unfinished would write into freed memory.
    if (request_ != MPI_REQUEST_NULL && deadlines_.broken_reason.empty()) {
      try {
        wait();
      } catch (...) {
      }
    }
  }
  bool test() override {
    if (request_ == MPI_REQUEST_NULL) return true;
    int done = 0;
    check_mpi(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), op_, deadlines_.rank);
    return done != 0;
  }
  void wait() override {
    if (request_ != MPI_REQUEST_NULL) wait_for_request(request_, op_, deadlines_);
  }

 private:
  MPI_Request request_;
  Deadlines& deadlines_;
  const char* op_;
};

// A started collective (all_reduce or all_gather) running on the transport's job thread.
class ThreadedPendingCollective : public PendingCollective {
 public:
  ThreadedPendingCollective(dm::detail::SerialExecutor& jobs, std::future<void> done, Deadlines& deadlines,
                            const char* op)
      : jobs_(jobs), done_(std::move(done)), deadlines_(deadlines), op_(op) {}
  ~ThreadedPendingCollective() override {
    // The job writes into the caller's tensor: it must be over before the caller moves on.
    if (deadlines_.broken_reason.empty()) {
      try {
        wait();
      } catch (...) {
      }
    }
  }
  bool test() override {
    if (done_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
    done_.get();  // rethrows what the call threw
    return true;
  }
  void wait() override {
    if (done_.wait_until(std::chrono::steady_clock::now() + deadlines_.timeout) == std::future_status::ready) {
      done_.get();
      return;
    }
    const std::string what = deadlines_.time_out(op_, "the other ranks");
    jobs_.close(std::make_exception_ptr(DistributedError(what)));
    throw TimeoutError(what);
  }

 private:
  dm::detail::SerialExecutor& jobs_;
  std::shared_future<void> done_;
  Deadlines& deadlines_;
  const char* op_;
};

class MpiTransport : public Transport {
 public:
  explicit MpiTransport(const WorldOptions& options) : runtime_(MpiRuntime::acquire()) {
    d_.timeout = options.timeout;
    if (d_.timeout.count() <= 0)
      throw ValueError("[World::mpi] the timeout must be positive, got " + std::to_string(d_.timeout.count()) + " ms");
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "World::mpi", -1);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    d_.rank = rank_;
    if (runtime_->threads_may_call()) {
      // The job thread's collectives get a communicator of their own: MPI matches collectives
      // per communicator, so the caller's (a synchronised batch norm's all-gather during
      // backward, say) never wait behind a gradient bucket still in flight.
      check_mpi(MPI_Comm_dup(comm_, &job_comm_), "World::mpi", rank_);
      MPI_Comm_set_errhandler(job_comm_, MPI_ERRORS_RETURN);
      jobs_ = std::make_unique<dm::detail::SerialExecutor>();
      d_.heartbeat = std::make_unique<MpiHeartbeat>(comm_, d_.beat_interval());
    }
    if (size_ > 1 && wants_ring(options.all_reduce_route)) {
      const TcpRing::Exchange exchange = [this](const std::vector<std::byte>& mine) {
        std::vector<std::byte> all(mine.size() * static_cast<std::size_t>(size_));
        const int n = checked_count(static_cast<std::int64_t>(mine.size()), "World::mpi");
        check_mpi(MPI_Allgather(mine.data(), n, MPI_BYTE, all.data(), n, MPI_BYTE, comm_), "World::mpi", rank_);
        return all;
      };
      ring_ = std::make_shared<TcpRing>(rank_, size_, exchange, d_.timeout);
      ring_jobs_ = std::make_unique<dm::detail::SerialExecutor>();
    }
  }
  ~MpiTransport() override {
    if (ring_jobs_) {
      // A ring call in flight after a failure ends at once once its sockets are shut.
      if (!d_.broken_reason.empty()) {
        ring_jobs_->close(std::make_exception_ptr(DistributedError(d_.broken_reason)));
        ring_->interrupt();
      }
      if (!ring_jobs_->wait_idle_until(std::chrono::steady_clock::now() + d_.timeout)) {
        abort("a started all-reduce was still running on the tcp ring when the world went");
        ring_->interrupt();
      }
      ring_jobs_.reset();
    }
    if (jobs_) {
      // What is queued fails at once if the world is broken; a call already running (perhaps
      // the very one a wait gave up on, its match still to come) gets one more timeout.
      if (!d_.broken_reason.empty()) jobs_->close(std::make_exception_ptr(DistributedError(d_.broken_reason)));
      if (!jobs_->wait_idle_until(std::chrono::steady_clock::now() + d_.timeout)) {
        abort("a started all-reduce was still running when the world went");
        runtime_->leave_call_running();
      }
      jobs_.reset();
    }
    if (d_.heartbeat) {
      // The peers part at about the same time when all is well; a broken world does not wait.
      const auto wait = d_.broken_reason.empty() ? std::min(d_.timeout, kLongestGoodbye) : std::chrono::milliseconds(0);
      d_.heartbeat->stop(wait);
      d_.heartbeat.reset();
    }
    // Freeing is itself collective-like in some MPIs; after a failure, leave it to MPI_Finalize.
    if (d_.broken_reason.empty()) {
      if (job_comm_ != MPI_COMM_NULL) MPI_Comm_free(&job_comm_);
      MPI_Comm_free(&comm_);
    }
  }
  MpiTransport(const MpiTransport&) = delete;
  MpiTransport& operator=(const MpiTransport&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "mpi"; }
  const char* all_reduce_route() const override { return ring_ ? "tcp_ring" : "mpi"; }

  // MPI_Allreduce itself, whose tuned algorithms measured about 1.4x faster here than the
  // non-blocking one polled, but run on the job thread: a blocking call has no deadline of its
  // own, and a rank stopped between the agreement exchange and the call would hang it forever.
  void all_reduce(void* data, std::int64_t count, DType dtype, Reduction op) override {
    throw_if_broken("all_reduce");
    if (jobs_ || ring_) {
      start_all_reduce(data, count, dtype, op)->wait();
      return;
    }
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data, checked_count(count, "all_reduce"), mpi_type(dtype, "all_reduce"),
                             mpi_op(op), comm_, &request),
              "all_reduce", rank_);
    wait_for_request(request, "all_reduce", d_);
  }

  std::unique_ptr<PendingCollective> start_all_reduce(void* data, std::int64_t count, DType dtype,
                                                      Reduction op) override {
    throw_if_broken("all_reduce");
    if (ring_) {
      if (count < 0) throw ValueError("[all_reduce] negative element count " + std::to_string(count));
      (void)mpi_type(dtype, "all_reduce");  // the ring's dtypes are MPI's: a bad one fails here, not on its thread
      // The job holds the ring: a call left running after the transport went still has it.
      std::future<void> done = ring_jobs_->submit([=, ring = ring_] { ring->all_reduce(data, count, dtype, op); });
      return std::make_unique<ThreadedPendingCollective>(*ring_jobs_, std::move(done), d_, "all_reduce");
    }
    if (jobs_) {
      const int n = checked_count(count, "all_reduce");
      const MPI_Datatype type = mpi_type(dtype, "all_reduce");
      const MPI_Op mpi_reduction = mpi_op(op);
      std::future<void> done = jobs_->submit([=, this] {
        check_mpi(MPI_Allreduce(MPI_IN_PLACE, data, n, type, mpi_reduction, job_comm_), "all_reduce", rank_);
      });
      return std::make_unique<ThreadedPendingCollective>(*jobs_, std::move(done), d_, "all_reduce");
    }
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data, checked_count(count, "all_reduce"), mpi_type(dtype, "all_reduce"),
                             mpi_op(op), comm_, &request),
              "all_reduce", rank_);
    return std::make_unique<MpiPendingRequest>(request, d_, "all_reduce");
  }

  // Like started all-reduces: MPI_Allgather on the job thread, in start order with them.
  std::unique_ptr<PendingCollective> start_all_gather(const void* data, void* out, std::int64_t bytes) override {
    throw_if_broken("all_gather");
    const int n = checked_count(bytes, "all_gather");
    if (jobs_) {
      std::future<void> done = jobs_->submit([=, this] {
        check_mpi(MPI_Allgather(data, n, MPI_BYTE, out, n, MPI_BYTE, job_comm_), "all_gather", rank_);
      });
      return std::make_unique<ThreadedPendingCollective>(*jobs_, std::move(done), d_, "all_gather");
    }
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Iallgather(data, n, MPI_BYTE, out, n, MPI_BYTE, comm_, &request), "all_gather", rank_);
    return std::make_unique<MpiPendingRequest>(request, d_, "all_gather");
  }

  void broadcast(void* data, std::int64_t bytes, int root) override {
    throw_if_broken("broadcast");
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Ibcast(data, checked_count(bytes, "broadcast"), MPI_BYTE, root, comm_, &request), "broadcast", rank_);
    wait_for_request(request, "broadcast", d_);
  }

  void all_gather(const void* data, void* out, std::int64_t bytes) override {
    throw_if_broken("all_gather");
    MPI_Request request = MPI_REQUEST_NULL;
    const int n = checked_count(bytes, "all_gather");
    check_mpi(MPI_Iallgather(data, n, MPI_BYTE, out, n, MPI_BYTE, comm_, &request), "all_gather", rank_);
    wait_for_request(request, "all_gather", d_);
  }

  void barrier() override {
    throw_if_broken("barrier");
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Ibarrier(comm_, &request), "barrier", rank_);
    wait_for_request(request, "barrier", d_);
  }

  void abort(const std::string& reason) override {
    if (d_.broken_reason.empty()) d_.broken_reason = reason.empty() ? "aborted" : reason;
    if (jobs_) jobs_->close(std::make_exception_ptr(DistributedError(d_.broken_reason)));
    if (ring_jobs_) ring_jobs_->close(std::make_exception_ptr(DistributedError(d_.broken_reason)));
    if (ring_) ring_->interrupt();  // a ring all-reduce in flight fails now, not at its deadline
  }

 private:
  // Whether all-reduces go round the tcp ring. Automatic: when no host has two ranks (MPI's
  // shared-memory transport is faster between ranks on one host), decided together so that
  // every rank chooses alike. The ring's waits must not block the caller, so it runs on a
  // thread of its own, which needs MPI_THREAD_MULTIPLE.
  bool wants_ring(AllReduceRoute route) {
    if (route == AllReduceRoute::mpi) return false;
    if (route == AllReduceRoute::tcp_ring) {
      if (!jobs_)
        throw DistributedError("[World::mpi] the tcp ring needs MPI_THREAD_MULTIPLE, and the program started MPI with less");
      return true;
    }
    MPI_Comm node = MPI_COMM_NULL;
    check_mpi(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "World::mpi", rank_);
    int on_my_host = 1;
    MPI_Comm_size(node, &on_my_host);
    MPI_Comm_free(&node);
    // One exchange for both: the most ranks on any host, and whether any rank lacks the thread.
    int most[2] = {on_my_host, jobs_ ? 0 : 1};
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, most, 2, MPI_INT, MPI_MAX, comm_), "World::mpi", rank_);
    return most[0] == 1 && most[1] == 0;
  }

  void throw_if_broken(const char* op) const {
    if (!d_.broken_reason.empty())
      throw DistributedError(std::string("[") + op + "] rank " + std::to_string(rank_) +
                             ": the world is broken: " + d_.broken_reason);
  }

  std::shared_ptr<MpiRuntime> runtime_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm job_comm_ = MPI_COMM_NULL;  // the job thread's collectives
  int rank_ = 0;
  int size_ = 1;
  Deadlines d_;
  std::unique_ptr<dm::detail::SerialExecutor> jobs_;  // null without MPI_THREAD_MULTIPLE
  std::shared_ptr<TcpRing> ring_;                     // with AllReduceRoute::tcp_ring
  std::unique_ptr<dm::detail::SerialExecutor> ring_jobs_;  // its all-reduces, in start order
};

}  // namespace

std::shared_ptr<Transport> make_mpi_transport(const WorldOptions& options) { return std::make_shared<MpiTransport>(options); }

}  // namespace dm::dist::detail

namespace dm::dist {

void abort_mpi_job(const std::string& reason, int exit_code) {
  std::fprintf(stderr, "%s\n", reason.c_str());
  std::fflush(stderr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // without MPI, or if MPI_Abort came back
}

}  // namespace dm::dist
