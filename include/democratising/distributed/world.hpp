#pragma once
// dm::dist::World: the processes (or threads) that train one model together, and the
// collectives between them.
//
//   dm::dist::World world = dm::dist::World::mpi();   // under `mpirun -np N`, or alone as size 1
//   world.all_reduce(grads, dm::dist::Reduction::Mean);
//
// Three transports behind one interface: MPI (OpenMPI, one process per rank), NCCL for tensors on
// a GPU (`World::nccl()`: MPI starts the ranks and carries host tensors, NCCL the CUDA ones, one
// GPU per rank) and an in-process one (`World::local(n)` or `run_local(n, fn)`: n threads, one
// World handle each) that runs the same code without MPI, for tests. Every rank must call the same collectives in the same order.
// Before each collective the ranks compare what they pass (operation, element count, dtype,
// root), so a mismatch is a DistributedError naming the ranks and shapes instead of corrupt
// memory or a hang; `WorldOptions::check_agreement = false` skips that extra exchange.
//
// Timeouts: every wait, all-reduces included, gives up after `WorldOptions::timeout` with a
// TimeoutError that names the operation and rank and, with MPI, the rank that fell silent
// (the ranks exchange heartbeats from a thread of their own, so a stopped process is told
// apart from one that is alive but never called the collective). After a timeout or a
// mismatch the World is broken: later collectives throw at once. With MPI, a rank that gave
// up cannot take back what it started, and the others may be waiting in a call that will
// never return: a program ends the whole job with abort_mpi_job.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "democratising/base/dtype.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
struct Gradients;
}

namespace dm::dist {

enum class Reduction { Sum, Mean, Max, Min };

/// "sum", "mean", "max", "min".
const char* reduction_name(Reduction reduction);

/// How the all-reduces of an MPI World travel.
enum class AllReduceRoute {
  /// tcp_ring when no two ranks share a host (each is alone on its node, as MPI sees it), mpi
  /// otherwise: the faster of the two in every measurement (docs/distributed.md).
  automatic,
  /// MPI_Allreduce: shared memory between ranks on one host, MPI's TCP between hosts. MPI makes
  /// progress by polling, so a collective in flight keeps a core busy.
  mpi,
  /// A ring of TCP connections between the ranks (set up when the World is made, addresses
  /// exchanged over MPI) whose waits sleep until a socket is ready: an all-reduce running beside
  /// backward leaves the core to backward. For ranks on different hosts; on one host shared
  /// memory is faster.
  tcp_ring,
};

/// "automatic", "mpi" or "tcp_ring".
const char* all_reduce_route_name(AllReduceRoute route);

/// Timeouts and checks of a World's collectives.
struct WorldOptions {
  /// How long any wait for the other ranks may last.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  /// Compare operation, count, dtype and root across ranks before each collective.
  bool check_agreement = true;
  /// The route of all-reduces (World::mpi only; the other transports have one way each).
  AllReduceRoute all_reduce_route = AllReduceRoute::automatic;
};

/// A collective started without waiting for it (see World::start_all_reduce).
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  /// Lets the collective make progress; true once it has finished. Never blocks.
  virtual bool test() = 0;
  /// Blocks until it has finished (or the World's timeout passes: TimeoutError).
  virtual void wait() = 0;
};

/// What a transport provides: raw collectives over contiguous buffers. The World validates and
/// converts tensors; a transport only moves and combines bytes.
class Transport {
 public:
  virtual ~Transport() = default;
  /// This rank, in [0, size()).
  virtual int rank() const = 0;
  /// The number of ranks.
  virtual int size() const = 0;
  /// "mpi", "nccl" or "local".
  virtual const char* name() const = 0;
  /// How its all-reduces travel: its name, or "tcp_ring" for an MPI transport that uses one.
  virtual const char* all_reduce_route() const { return name(); }
  /// Where the tensors of its collectives may live besides the CPU: the GPU of an NCCL rank.
  virtual Device device() const { return Device::cpu(); }
  /// Element-wise Sum, Max or Min of `count` elements across ranks, in place.
  virtual void all_reduce(void* data, std::int64_t count, DType dtype, Reduction op) = 0;
  /// all_reduce() started without waiting for it.
  virtual std::unique_ptr<PendingCollective> start_all_reduce(void* data, std::int64_t count, DType dtype,
                                                              Reduction op) = 0;
  /// Root's `bytes` bytes into every rank's `data`.
  virtual void broadcast(void* data, std::int64_t bytes, int root) = 0;
  /// Each rank's `bytes` bytes, concatenated in rank order into `out` (size() * bytes).
  virtual void all_gather(const void* data, void* out, std::int64_t bytes) = 0;
  /// all_gather() started without waiting for it: `data` and `out` must stay alive and
  /// untouched until the handle's wait(). Started collectives meet their matches on the other
  /// ranks in start order (all-reduces among themselves and all-gathers among themselves where
  /// a TCP ring carries the all-reduces). The default gathers at once and returns a finished
  /// handle.
  virtual std::unique_ptr<PendingCollective> start_all_gather(const void* data, void* out, std::int64_t bytes);
  /// Returns once every rank has called it.
  virtual void barrier() = 0;
  /// Makes every later (and, for the in-process transport, every current) wait fail at once.
  virtual void abort(const std::string& reason) = 0;
};

/// The ranks that train one model together, and the collectives between them (see the file comment).
class World {
 public:
  /// This process's rank of the MPI job (MPI starts with the first World and finalizes with the
  /// last; it cannot start again in the same process afterwards). Without mpirun: size 1.
  static World mpi(WorldOptions options = {});
  /// n Worlds in one process, one per rank, to hand to n threads.
  static std::vector<World> local(int n, WorldOptions options = {});
  /// This process's rank of the MPI job, collectives of CUDA tensors on NCCL: the GPU is the
  /// rank's local rank on its host (device()), and CPU tensors still go over MPI. NCCL is loaded
  /// at run time (libnccl.so.2, or DM_NCCL_LIBRARY). A DeviceError, before any collective, when
  /// this build has no CUDA, there is no GPU, NCCL cannot be loaded, or a host has more ranks
  /// than GPUs. bf16 is reduced too (on the GPU); Mean is a Sum then a division, as on MPI.
  static World nccl(WorldOptions options = {});

  /// A World over a transport of one's own.
  explicit World(std::shared_ptr<Transport> transport, WorldOptions options = {});

  /// This rank, in [0, size()).
  int rank() const;
  /// The number of ranks.
  int size() const;
  /// "mpi", "nccl" or "local".
  const char* transport_name() const;
  /// How its all-reduces travel: "tcp_ring" where an MPI World chose the ring, else transport_name().
  const char* all_reduce_route() const { return transport_->all_reduce_route(); }
  /// The GPU of an NCCL World; the CPU otherwise.
  Device device() const;
  /// The options it was made with.
  const WorldOptions& options() const { return options_; }

  /// Reduces a tensor in place across ranks (f32, f64, i32, i64; bf16 too on an NCCL World's GPU).
  /// Mean is for floating dtypes: the sum divided by size().
  void all_reduce(Tensor& tensor, Reduction reduction = Reduction::Sum);
  /// Several tensors (each reduced element-wise), in as few collectives as their dtypes allow.
  void all_reduce(std::vector<Tensor>& tensors, Reduction reduction = Reduction::Sum);
  /// A model's gradients: one collective over their flat buffer.
  void all_reduce(Gradients& grads, Reduction reduction = Reduction::Mean);
  /// Starts reducing `tensor` in place (Sum, Max or Min) and returns without waiting. The tensor
  /// must stay alive and untouched until the returned handle's wait(), and the handle must not
  /// outlive this World.
  std::unique_ptr<PendingCollective> start_all_reduce(Tensor& tensor, Reduction reduction = Reduction::Sum);

  /// Root's values into `tensor` on every rank (same shape and dtype everywhere).
  void broadcast(Tensor& tensor, int root = 0);
  /// Every rank's tensor (same shape and dtype everywhere), stacked on a new first dimension
  /// in rank order: (size(), ...shape).
  Tensor all_gather(const Tensor& tensor);
  /// Returns once every rank has called it.
  void barrier();
  /// Breaks the World: every rank's next (or, in-process, current) collective throws.
  void abort(const std::string& reason);

  /// The transport that moves the bytes.
  Transport& transport() const { return *transport_; }

 private:
  void agree(const char* op, const Tensor& tensor, std::int64_t extra);

  std::shared_ptr<Transport> transport_;
  WorldOptions options_;
};

/// Ends every process of the MPI job (MPI_Abort) after printing `reason` on stderr; without MPI,
/// ends this process. For programs whose rank failed while the others may be inside a
/// collective that can no longer finish (dm train does this); a library never calls it.
[[noreturn]] void abort_mpi_job(const std::string& reason, int exit_code);

/// Runs fn(world) on n threads, each with its rank's in-process World, and waits for all.
/// When one rank throws, the World is aborted so the others stop waiting; the first
/// exception is rethrown here.
void run_local(int n, const std::function<void(World&)>& fn, WorldOptions options = {});

}  // namespace dm::dist
