// The NCCL transport (World::nccl): MPI starts the ranks, carries host buffers and bootstraps the
// communicator (rank 0 makes the ncclUniqueId, MPI broadcasts it); NCCL moves the buffers that
// live on the rank's GPU. Which of the two a call takes is decided by where its pointer lives, so
// the DDP trainer's small host exchanges (rows and loss, option checks) stay on MPI while its
// gradient buckets go over NCCL.
//
// Waiting: the communicator is non-blocking (ncclConfig_t::blocking = 0), each collective is
// enqueued on the transport's own stream and followed by an event, and a wait polls that event
// and ncclCommGetAsyncError against WorldOptions::timeout (collective_poll.hpp). On timeout the
// communicator is aborted (ncclCommAbort), the transport is broken, and the TimeoutError names
// the operation and rank, as on MPI.
//
// Ordering: the library's kernels run on each device's default stream. Before a collective the
// transport's stream waits for an event recorded there, so NCCL reads the finished gradients,
// while backward goes on queuing kernels for the next bucket: that is the overlap. Collectives on
// one stream run in the order they were queued, and every rank queues them in the same order
// (the trainer starts buckets in bucket order), which is all NCCL needs.
//
// Mean is a Sum here and the World divides afterwards, as with MPI: one rounding rule for both
// transports, so a CPU run and a GPU run agree, and no dependence on ncclAvg's version.
#include <cuda_runtime_api.h>
#include <nccl.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "democratising/base/device.hpp"
#include "democratising/base/error.hpp"
#include "distributed/collective_poll.hpp"
#include "distributed/gpu_assignment.hpp"
#include "distributed/nccl_api.hpp"
#include "distributed/nccl_errors.hpp"
#include "distributed/nccl_library.hpp"
#include "distributed/nccl_provider.hpp"
#include "distributed/transports.hpp"

// nccl_api.hpp spells NCCL's ABI out for the host-side code; it must be NCCL's.
static_assert(dm::dist::nccl::kSuccess == ncclSuccess && dm::dist::nccl::kInProgress == ncclInProgress);
static_assert(dm::dist::nccl::kUnhandledCudaError == ncclUnhandledCudaError &&
              dm::dist::nccl::kSystemError == ncclSystemError && dm::dist::nccl::kInternalError == ncclInternalError &&
              dm::dist::nccl::kInvalidArgument == ncclInvalidArgument &&
              dm::dist::nccl::kInvalidUsage == ncclInvalidUsage && dm::dist::nccl::kRemoteError == ncclRemoteError);
static_assert(dm::dist::nccl::kInt8 == ncclInt8 && dm::dist::nccl::kInt32 == ncclInt32 &&
              dm::dist::nccl::kInt64 == ncclInt64 && dm::dist::nccl::kFloat32 == ncclFloat32 &&
              dm::dist::nccl::kFloat64 == ncclFloat64 && dm::dist::nccl::kBfloat16 == ncclBfloat16);
static_assert(dm::dist::nccl::kSum == ncclSum && dm::dist::nccl::kMax == ncclMax && dm::dist::nccl::kMin == ncclMin);
static_assert(sizeof(dm::dist::nccl::UniqueId) == sizeof(ncclUniqueId));

namespace dm::dist::detail {
namespace {

void check_cuda(cudaError_t err, const char* op, int rank) {
  if (err == cudaSuccess) return;
  cudaGetLastError();  // a non-sticky error must not fail the next call
  throw DeviceError(std::string("[") + op + "] rank " + std::to_string(rank) + ": CUDA: " + cudaGetErrorString(err));
}

bool on_gpu(const void* p) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

nccl::DataType nccl_type(DType dtype, const char* op) {
  switch (dtype) {
    case DType::f32: return nccl::kFloat32;
    case DType::f64: return nccl::kFloat64;
    case DType::bf16: return nccl::kBfloat16;
    case DType::i32: return nccl::kInt32;
    case DType::i64: return nccl::kInt64;
    default:
      throw DTypeError(std::string("[") + op + "] NCCL collectives support f32, f64, bf16, i32 and i64, not " +
                       std::string(dtype_name(dtype)));
  }
}

nccl::RedOp nccl_op(Reduction op) {
  switch (op) {
    case Reduction::Max: return nccl::kMax;
    case Reduction::Min: return nccl::kMin;
    default: return nccl::kSum;  // Mean: the World divides (see the file comment)
  }
}

class NcclTransport;

// A collective enqueued on the transport's stream, done when its event is.
class NcclPending : public PendingCollective {
 public:
  NcclPending(NcclTransport& transport, cudaEvent_t done, const char* op) : transport_(transport), done_(done), op_(op) {}
  ~NcclPending() override;
  bool test() override;
  void wait() override;

 private:
  NcclTransport& transport_;
  cudaEvent_t done_;
  const char* op_;
  bool finished_ = false;
};

class NcclTransport : public Transport {
 public:
  explicit NcclTransport(const WorldOptions& options) : host_(make_mpi_transport(options)), timeout_(options.timeout) {
    rank_ = host_->rank();
    size_ = host_->size();
    nccl::UniqueId id{};
    const LocalRank local = local_rank();
    // Every rank reports whether it could prepare, so that all fail together instead of the
    // ready ones waiting out the timeout for a rank that already gave up.
    std::string failure;
    try {
      library_ = nccl::process_library();
      gpu_ = gpu_for_local_rank(local, dm::cuda::device_count(), dm::cuda::unavailable_reason());
      check_cuda(cudaSetDevice(gpu_), "World::nccl", rank_);
      check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "World::nccl", rank_);
      if (rank_ == 0) settle(library_->get_unique_id(&id), "World::nccl");
    } catch (const Error& e) {
      failure = e.what();
    }
    const int mine = failure.empty() ? 0 : 1;
    std::vector<int> failed(static_cast<std::size_t>(size_));
    host_->all_gather(&mine, failed.data(), sizeof(int));
    if (!failure.empty()) throw DeviceError(failure);
    for (int r = 0; r < size_; ++r)
      if (failed[static_cast<std::size_t>(r)])
        throw DeviceError("[World::nccl] rank " + std::to_string(rank_) + ": rank " + std::to_string(r) +
                          " could not prepare its GPU or NCCL (its own error says why)");
    host_->broadcast(&id, sizeof(id), 0);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // calls return at once; waits poll with a deadline
    settle(library_->comm_init_rank_config(&comm_, size_, id, rank_, &config), "World::nccl");
  }

  ~NcclTransport() override {
    if (comm_) {
      bool idle = broken_reason().empty();
      if (idle) {
        try {
          poll_until_done([this] { return query(cudaStreamQuery(stream_), "World::nccl"); }, timeout_, {},
                          {"World::nccl", rank_, "its collectives to finish"});
        } catch (...) {
          idle = false;
        }
      }
      // A communicator with work that will never finish can only be aborted.
      if (idle)
        library_->comm_destroy(comm_);
      else
        library_->comm_abort(comm_);
    }
    if (stream_) cudaStreamDestroy(stream_);
  }
  NcclTransport(const NcclTransport&) = delete;
  NcclTransport& operator=(const NcclTransport&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "nccl"; }
  Device device() const override { return Device::cuda(gpu_); }

  void all_reduce(void* data, std::int64_t count, DType dtype, Reduction op) override {
    if (!on_gpu(data)) return host_->all_reduce(data, count, dtype, op);
    start_all_reduce(data, count, dtype, op)->wait();
  }

  std::unique_ptr<PendingCollective> start_all_reduce(void* data, std::int64_t count, DType dtype,
                                                      Reduction op) override {
    if (!on_gpu(data)) return host_->start_all_reduce(data, count, dtype, op);
    const nccl::DataType type = nccl_type(dtype, "all_reduce");
    return enqueue("all_reduce", [&] {
      return library_->all_reduce(data, data, static_cast<std::size_t>(count), type, nccl_op(op), comm_, stream_);
    });
  }

  void broadcast(void* data, std::int64_t bytes, int root) override {
    if (!on_gpu(data)) return host_->broadcast(data, bytes, root);
    enqueue("broadcast", [&] {
      return library_->broadcast(data, data, static_cast<std::size_t>(bytes), nccl::kInt8, root, comm_, stream_);
    })->wait();
  }

  void all_gather(const void* data, void* out, std::int64_t bytes) override {
    if (!on_gpu(data)) return host_->all_gather(data, out, bytes);
    start_all_gather(data, out, bytes)->wait();
  }

  std::unique_ptr<PendingCollective> start_all_gather(const void* data, void* out, std::int64_t bytes) override {
    if (!on_gpu(data)) return host_->start_all_gather(data, out, bytes);
    return enqueue("all_gather", [&] {
      return library_->all_gather(data, out, static_cast<std::size_t>(bytes), nccl::kInt8, comm_, stream_);
    });
  }

  void barrier() override { host_->barrier(); }

  void abort(const std::string& reason) override {
    {
      std::lock_guard lock(mutex_);
      if (broken_.empty()) broken_ = reason.empty() ? "aborted" : reason;
    }
    host_->abort(reason);
  }

  // ---- for NcclPending ----------------------------------------------------------------------
  /// Done, pending, or a throw: a CUDA failure, or the asynchronous error NCCL reports.
  Progress query(cudaError_t status, const char* op) {
    if (status == cudaSuccess) return Progress::done;
    throw_if_broken(op);  // an aborted communicator finishes nothing more
    if (status != cudaErrorNotReady) check_cuda(status, op, rank_);
    nccl::Result state = nccl::kSuccess;
    library_->comm_get_async_error(comm_, &state);
    nccl::throw_if_failed(state, op, rank_, library_->get_error_string(state));
    return Progress::pending;
  }
  void wait_for(cudaEvent_t event, const char* op) {
    throw_if_broken(op);
    poll_until_done([&] { return query(cudaEventQuery(event), op); }, timeout_, [&] { break_on_timeout(op); },
                    {op, rank_, "the other ranks"});
  }
  std::string broken_reason() {
    std::lock_guard lock(mutex_);
    return broken_;
  }

 private:
  LocalRank local_rank() {
    char name[kHostNameBytes] = {};
    if (gethostname(name, sizeof(name) - 1) != 0) name[0] = '\0';  // then it counts as a host named ""
    std::vector<char> all(kHostNameBytes * static_cast<std::size_t>(size_));
    host_->all_gather(name, all.data(), static_cast<std::int64_t>(kHostNameBytes));
    std::vector<std::string> hosts;
    for (int r = 0; r < size_; ++r) {
      const char* at = all.data() + static_cast<std::size_t>(r) * kHostNameBytes;
      hosts.emplace_back(at, strnlen(at, kHostNameBytes));
    }
    return local_rank_among(hosts, rank_);
  }

  // A call's result: a failure throws; "in progress" (the non-blocking communicator still
  // working on it) is waited out, since NCCL wants that before the next call.
  void settle(nccl::Result result, const char* op) {
    nccl::throw_if_failed(result, op, rank_, library_->get_error_string(result));
    if (result != nccl::kInProgress) return;
    poll_until_done(
        [&] {
          nccl::Result state = nccl::kSuccess;
          library_->comm_get_async_error(comm_, &state);
          if (state == nccl::kInProgress) return Progress::pending;
          nccl::throw_if_failed(state, op, rank_, library_->get_error_string(state));
          return Progress::done;
        },
        timeout_, [&] { break_on_timeout(op); }, {op, rank_, "NCCL to accept the call"});
  }

  template <class Call>
  std::unique_ptr<PendingCollective> enqueue(const char* op, Call&& call) {
    throw_if_broken(op);
    check_cuda(cudaSetDevice(gpu_), op, rank_);
    // NCCL's stream waits for the kernels that wrote the buffer, on the device's default stream.
    cudaEvent_t ready = nullptr;
    check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), op, rank_);
    check_cuda(cudaEventRecord(ready, nullptr), op, rank_);
    check_cuda(cudaStreamWaitEvent(stream_, ready, 0), op, rank_);
    cudaEventDestroy(ready);  // released once the wait above no longer needs it
    settle(call(), op);
    cudaEvent_t done = nullptr;
    check_cuda(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), op, rank_);
    check_cuda(cudaEventRecord(done, stream_), op, rank_);
    return std::make_unique<NcclPending>(*this, done, op);
  }

  void throw_if_broken(const char* op) {
    const std::string reason = broken_reason();
    if (!reason.empty())
      throw DistributedError(std::string("[") + op + "] rank " + std::to_string(rank_) +
                             ": the world is broken: " + reason);
  }

  // The communicator cannot finish what the silent rank never joined: abort it, so the stream
  // and NCCL's threads are freed, and break the transport.
  void break_on_timeout(const char* op) {
    abort(timeout_message({op, rank_, "the other ranks"}, timeout_));
    if (comm_) library_->comm_abort(comm_);
    comm_ = nullptr;
  }

  std::shared_ptr<Transport> host_;
  std::shared_ptr<const nccl::Library> library_;
  std::chrono::milliseconds timeout_;
  int rank_ = 0;
  int size_ = 1;
  int gpu_ = 0;
  nccl::Comm comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  std::mutex mutex_;
  std::string broken_;
};

NcclPending::~NcclPending() {
  // The collective writes into the caller's tensor: it must be over before the caller moves on.
  if (!finished_ && transport_.broken_reason().empty()) {
    try {
      wait();
    } catch (...) {
    }
  }
  cudaEventDestroy(done_);
}

bool NcclPending::test() {
  if (finished_) return true;
  finished_ = transport_.query(cudaEventQuery(done_), op_) == Progress::done;
  return finished_;
}

void NcclPending::wait() {
  if (finished_) return;
  transport_.wait_for(done_, op_);
  finished_ = true;
}

std::shared_ptr<Transport> make(const WorldOptions& options) {
  if (options.timeout.count() <= 0)
    throw ValueError("[World::nccl] the timeout must be positive, got " + std::to_string(options.timeout.count()) + " ms");
  return std::make_shared<NcclTransport>(options);
}

}  // namespace
}  // namespace dm::dist::detail

extern "C" const dm::dist::detail::NcclProvider* dm_nccl_transport_provider() {
  static constexpr dm::dist::detail::NcclProvider provider{&dm::dist::detail::make};
  return &provider;
}
