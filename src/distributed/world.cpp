// dm::dist::World: validation and tensor handling in front of a transport's raw collectives.
#include "democratising/distributed/world.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "transports.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/model/model.hpp"

namespace dm::dist {
namespace {

// Operation codes exchanged by agree(), so a rank that called something else is named.
enum class OpCode : std::int64_t { all_reduce, all_reduce_list, broadcast, all_gather };
const char* op_name(std::int64_t code) {
  switch (static_cast<OpCode>(code)) {
    case OpCode::all_reduce: return "all_reduce";
    case OpCode::all_reduce_list: return "all_reduce of a list";
    case OpCode::broadcast: return "broadcast";
    case OpCode::all_gather: return "all_gather";
  }
  return "an unknown operation";
}
OpCode op_code(const char* op) {
  const std::string s = op;
  if (s == "broadcast") return OpCode::broadcast;
  if (s == "all_gather") return OpCode::all_gather;
  if (s == "all_reduce_list") return OpCode::all_reduce_list;
  return OpCode::all_reduce;
}

// FNV-1a over the dimensions: equal shapes give equal hashes, so ranks compare shapes in a
// fixed-size record.
std::int64_t shape_hash(const Shape& shape) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::int64_t d : shape) {
    h ^= static_cast<std::uint64_t>(d);
    h *= 1099511628211ull;
  }
  return static_cast<std::int64_t>(h >> 1);
}

bool supported(DType dtype, const Device& device) {
  if (dtype == DType::bf16) return !device.is_cpu();  // NCCL reduces bf16; MPI has no such type
  return dtype == DType::f32 || dtype == DType::f64 || dtype == DType::i32 || dtype == DType::i64;
}

void check_tensor(const char* op, const Tensor& t, const Transport& transport) {
  const std::string where = std::string("[") + op + "] rank " + std::to_string(transport.rank()) + ": ";
  if (!t.defined()) throw ValueError(where + "the tensor is undefined");
  const Device device = t.device();
  if (device != Device::cpu() && device != transport.device()) {
    if (transport.device().is_cpu())
      throw DeviceError(where + "the " + transport.name() + " transport takes CPU tensors, this one is on " +
                        device.str() + " (World::nccl() reduces CUDA tensors)");
    throw DeviceError(where + "this rank's GPU is " + transport.device().str() + ", the tensor is on " + device.str());
  }
  if (!supported(t.dtype(), device))
    throw DTypeError(where + "collectives support f32, f64, i32 and i64 (and bf16 on a GPU), not " +
                     std::string(dtype_name(t.dtype())) + " on " + device.str());
}

// A collective that had finished by the time it was handed back.
class FinishedCollective : public PendingCollective {
 public:
  bool test() override { return true; }
  void wait() override {}
};

}  // namespace

std::unique_ptr<PendingCollective> Transport::start_all_gather(const void* data, void* out, std::int64_t bytes) {
  all_gather(data, out, bytes);
  return std::make_unique<FinishedCollective>();
}

const char* all_reduce_route_name(AllReduceRoute route) {
  switch (route) {
    case AllReduceRoute::tcp_ring: return "tcp_ring";
    case AllReduceRoute::mpi: return "mpi";
    default: return "automatic";
  }
}

const char* reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::Sum: return "sum";
    case Reduction::Mean: return "mean";
    case Reduction::Max: return "max";
    case Reduction::Min: return "min";
  }
  return "unknown";
}

World World::mpi(WorldOptions options) { return World(detail::make_mpi_transport(options), options); }

World World::nccl(WorldOptions options) { return World(detail::make_nccl_transport(options), options); }

std::vector<World> World::local(int n, WorldOptions options) {
  std::vector<World> worlds;
  for (auto& transport : detail::make_local_transports(n, options)) worlds.emplace_back(std::move(transport), options);
  return worlds;
}

World::World(std::shared_ptr<Transport> transport, WorldOptions options) : transport_(std::move(transport)), options_(options) {
  if (!transport_) throw ValueError("[World] the transport is null");
}

int World::rank() const { return transport_->rank(); }
int World::size() const { return transport_->size(); }
const char* World::transport_name() const { return transport_->name(); }
Device World::device() const { return transport_->device(); }

// Every rank shares what it is about to pass; all ranks see the same table, so either all go
// on or all throw the same complaint.
void World::agree(const char* op, const Tensor& tensor, std::int64_t extra) {
  if (!options_.check_agreement || size() == 1) return;
  constexpr int kFields = 6;
  const std::array<std::int64_t, kFields> mine{static_cast<std::int64_t>(op_code(op)), tensor.numel(),
                                               static_cast<std::int64_t>(tensor.dtype()), tensor.dim(),
                                               shape_hash(tensor.shape()), extra};
  std::vector<std::int64_t> all(static_cast<std::size_t>(kFields * size()));
  try {
    transport_->all_gather(mine.data(), all.data(), static_cast<std::int64_t>(sizeof(mine)));
  } catch (const TimeoutError& e) {
    // Said as the collective the caller made, not as the exchange that precedes it.
    throw TimeoutError(std::string("[") + op + "] the ranks did not all arrive: " + e.what());
  }
  const std::int64_t* first = all.data();
  for (int r = 1; r < size(); ++r) {
    const std::int64_t* other = all.data() + static_cast<std::ptrdiff_t>(r * kFields);
    if (std::equal(first, first + kFields, other)) continue;
    auto describe = [&](const std::int64_t* f, int who) {
      std::string s = "rank " + std::to_string(who) + " called " + op_name(f[0]) + " with " + std::to_string(f[1]) +
                      " elements of " + std::string(dtype_name(static_cast<DType>(f[2]))) + " in " +
                      std::to_string(f[3]) + " dims";
      if (who == rank()) {
        s += ' ';
        s += tensor.shape().str();
      }
      return s;
    };
    std::string what = std::string("[") + op + "] the ranks disagree: " + describe(first, 0) + ", " + describe(other, r);
    if (first[5] != other[5]) what += std::string(" (and a different ") + (op_code(op) == OpCode::broadcast ? "root" : "reduction") + ")";
    throw DistributedError(what);
  }
}

void World::all_reduce(Tensor& tensor, Reduction reduction) {
  check_tensor("all_reduce", tensor, *transport_);
  if (reduction == Reduction::Mean && !is_floating(tensor.dtype()))
    throw DTypeError("[all_reduce] a mean needs a floating dtype, the tensor is " + std::string(dtype_name(tensor.dtype())));
  agree("all_reduce", tensor, static_cast<std::int64_t>(reduction));
  NoGradGuard no_grad;
  Tensor buffer = tensor.is_contiguous() ? tensor : tensor.contiguous();
  transport_->all_reduce(buffer.data_ptr(), buffer.numel(), buffer.dtype(), reduction);
  if (reduction == Reduction::Mean && size() > 1) buffer.div_(static_cast<double>(size()));
  if (!buffer.shares_storage_with(tensor)) tensor.copy_(buffer);
}

void World::all_reduce(std::vector<Tensor>& tensors, Reduction reduction) {
  agree("all_reduce_list", Tensor::zeros(Shape{static_cast<std::int64_t>(tensors.size())}, DType::i32),
        static_cast<std::int64_t>(reduction));
  for (const Tensor& t : tensors) check_tensor("all_reduce", t, *transport_);
  NoGradGuard no_grad;
  // One collective per dtype and device: the tensors of that kind packed into one buffer, in list order.
  std::vector<bool> done(tensors.size(), false);
  for (std::size_t first = 0; first < tensors.size(); ++first) {
    if (done[first]) continue;
    const DType dtype = tensors[first].dtype();
    const Device device = tensors[first].device();
    auto same_kind = [&](const Tensor& t) { return t.dtype() == dtype && t.device() == device; };
    std::int64_t total = 0;
    for (std::size_t i = first; i < tensors.size(); ++i)
      if (same_kind(tensors[i])) total += tensors[i].numel();
    Tensor packed = Tensor::empty(Shape{total}, dtype, device);
    std::int64_t offset = 0;
    for (std::size_t i = first; i < tensors.size(); ++i) {
      if (!same_kind(tensors[i])) continue;
      packed.narrow(0, offset, tensors[i].numel()).copy_(tensors[i].reshape(Shape{tensors[i].numel()}));
      offset += tensors[i].numel();
    }
    all_reduce(packed, reduction);
    offset = 0;
    for (std::size_t i = first; i < tensors.size(); ++i) {
      if (!same_kind(tensors[i])) continue;
      tensors[i].copy_(packed.narrow(0, offset, tensors[i].numel()).reshape(tensors[i].shape()));
      offset += tensors[i].numel();
      done[i] = true;
    }
  }
}

void World::all_reduce(Gradients& grads, Reduction reduction) {
  if (grads.flat.defined()) {
    all_reduce(grads.flat, reduction);  // the named tensors are views of it
    return;
  }
  std::vector<Tensor> list;
  for (auto& [_, t] : grads.tensors) list.push_back(t);
  all_reduce(list, reduction);
}

std::unique_ptr<PendingCollective> World::start_all_reduce(Tensor& tensor, Reduction reduction) {
  check_tensor("start_all_reduce", tensor, *transport_);
  if (!tensor.is_contiguous())
    throw ValueError("[start_all_reduce] rank " + std::to_string(rank()) + ": the tensor " + tensor.shape().str() +
                     " must be contiguous: it is reduced where it lies");
  if (reduction == Reduction::Mean)
    throw ValueError("[start_all_reduce] takes Sum, Max or Min; for a mean, divide by size() after wait()");
  return transport_->start_all_reduce(tensor.data_ptr(), tensor.numel(), tensor.dtype(), reduction);
}

void World::broadcast(Tensor& tensor, int root) {
  check_tensor("broadcast", tensor, *transport_);
  if (root < 0 || root >= size())
    throw ValueError("[broadcast] root " + std::to_string(root) + " is not a rank of a world of size " + std::to_string(size()));
  agree("broadcast", tensor, root);
  Tensor buffer = tensor.is_contiguous() ? tensor : tensor.contiguous();
  transport_->broadcast(buffer.data_ptr(), buffer.numel() * static_cast<std::int64_t>(itemsize(buffer.dtype())), root);
  if (!buffer.shares_storage_with(tensor)) {
    NoGradGuard no_grad;
    tensor.copy_(buffer);
  }
}

Tensor World::all_gather(const Tensor& tensor) {
  check_tensor("all_gather", tensor, *transport_);
  agree("all_gather", tensor, 0);
  const Tensor buffer = tensor.contiguous();
  std::vector<std::int64_t> dims{size()};
  for (std::int64_t d : tensor.shape()) dims.push_back(d);
  Tensor out = Tensor::empty(Shape(dims), tensor.dtype(), tensor.device());
  transport_->all_gather(buffer.data_ptr(), out.data_ptr(), buffer.numel() * static_cast<std::int64_t>(itemsize(buffer.dtype())));
  return out;
}

void World::barrier() { transport_->barrier(); }

void World::abort(const std::string& reason) { transport_->abort(reason); }

void run_local(int n, const std::function<void(World&)>& fn, WorldOptions options) {
  std::vector<World> worlds = World::local(n, options);
  std::mutex mutex;
  std::exception_ptr first_failure;
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      World& world = worlds[static_cast<std::size_t>(r)];
      try {
        fn(world);
      } catch (const std::exception& e) {
        {
          std::lock_guard lock(mutex);
          if (!first_failure) first_failure = std::current_exception();
        }
        world.abort("rank " + std::to_string(r) + " failed: " + e.what());
      } catch (...) {
        {
          std::lock_guard lock(mutex);
          if (!first_failure) first_failure = std::current_exception();
        }
        world.abort("rank " + std::to_string(r) + " failed");
      }
    });
  }
  for (auto& t : threads) t.join();
  if (first_failure) std::rethrow_exception(first_failure);
}

}  // namespace dm::dist
