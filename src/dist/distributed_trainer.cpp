// Data-parallel steps with gradient buckets all-reduced while backward runs (see
// distributed_trainer.hpp). The hook is autograd::grad_into's per-input "gradient ready"
// callback: each gradient is by then in its place in one flat buffer, and once a bucket's last
// gradient has arrived, the bucket's all-reduce is started.
#include "democratising/dist/distributed_trainer.hpp"

#include <chrono>
#include <string>
#include <vector>

#include "autograd/grad_into.hpp"
#include "democratising/autograd.hpp"
#include "democratising/error.hpp"

namespace dm::dist {
namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// A span of the flat gradient buffer: parameters [first_param, last_param] in model order.
struct Bucket {
  Tensor view;  // contiguous slice of the flat buffer
  int params = 0;
  int waiting = 0;  // gradients of this bucket not yet final in the current step
  std::unique_ptr<PendingCollective> pending;
};

}  // namespace

struct DistributedTrainer::State {
  Model& model;
  World& world;
  DistributedOptions options;
  std::vector<Tensor> params;
  Gradients grads;
  std::vector<Bucket> buckets;       // in the order they are expected to be ready: last layers first
  std::vector<std::size_t> bucket_of;  // parameter index -> bucket index
  std::size_t next_to_start = 0;
  StepTimes times;

  State(Model& m, World& w, DistributedOptions o) : model(m), world(w), options(o) {}

  // Starts, in bucket order, every bucket whose gradients are all final: the ranks must start
  // collectives in the same order, and bucket order is the same everywhere.
  void start_ready_buckets() {
    while (next_to_start < buckets.size() && buckets[next_to_start].waiting == 0) {
      Bucket& b = buckets[next_to_start++];
      b.pending = world.start_all_reduce(b.view, Reduction::Sum);
    }
  }

  // Gives the transport a chance to move data: MPI progresses non-blocking collectives only
  // inside MPI calls, and backward makes none of its own.
  void poll_started() {
    for (std::size_t i = 0; i < next_to_start; ++i)
      if (buckets[i].pending) buckets[i].pending->test();
  }
};

DistributedTrainer::DistributedTrainer(Model& model, World& world, DistributedOptions options)
    : state_(std::make_unique<State>(model, world, options)) {
  State& s = *state_;
  if (options.bucket_bytes <= 0)
    throw ValueError("[DistributedTrainer] bucket_bytes must be positive, got " + std::to_string(options.bucket_bytes));
  const nn::NamedTensors named = model.module().named_parameters();
  if (named.empty()) throw ValueError("[DistributedTrainer] the model has no parameters");
  const DType dtype = named.front().second.dtype();
  std::int64_t total = 0;
  for (const auto& [name, p] : named) {
    if (p.dtype() != dtype)
      throw DTypeError("[DistributedTrainer] parameter '" + name + "' is " + std::string(dtype_name(p.dtype())) +
                       ", the first one " + std::string(dtype_name(dtype)) + ": gradients travel in one flat buffer");
    s.params.push_back(p);
    total += p.numel();
  }
  // Every rank must hold the same architecture, or the buckets would not line up.
  const Tensor mine = Tensor::from_vector<std::int64_t>(
      {static_cast<std::int64_t>(named.size()), total, static_cast<std::int64_t>(dtype)}, Shape{3});
  const std::vector<std::int64_t> all = world.all_gather(mine).to_vector<std::int64_t>();
  for (int r = 1; r < world.size(); ++r)
    for (int f = 0; f < 3; ++f)
      if (all[static_cast<std::size_t>(3 * r + f)] != all[static_cast<std::size_t>(f)])
        throw DistributedError("[DistributedTrainer] rank 0 has " + std::to_string(all[0]) + " parameters (" +
                               std::to_string(all[1]) + " elements), rank " + std::to_string(r) + " has " +
                               std::to_string(all[static_cast<std::size_t>(3 * r)]) + " (" +
                               std::to_string(all[static_cast<std::size_t>(3 * r + 1)]) + " elements) or another dtype");

  // The flat gradient buffer, in the parameters' order, with a view per parameter.
  s.grads.flat = Tensor::zeros(Shape{total}, dtype);
  std::vector<std::int64_t> offsets;
  std::int64_t offset = 0;
  for (const auto& [name, p] : named) {
    offsets.push_back(offset);
    s.grads.tensors.emplace_back(name, s.grads.flat.narrow(0, offset, p.numel()).view(p.shape()));
    offset += p.numel();
  }
  // Buckets from the last parameter backwards; each is a contiguous span of the flat buffer.
  const std::int64_t item = static_cast<std::int64_t>(itemsize(dtype));
  s.bucket_of.assign(named.size(), 0);
  std::int64_t end = total;
  std::int64_t bytes = 0;
  int count = 0;
  for (std::size_t k = named.size(); k-- > 0;) {
    s.bucket_of[k] = s.buckets.size();
    bytes += named[k].second.numel() * item;
    ++count;
    if (bytes >= options.bucket_bytes || k == 0) {
      Bucket b;
      b.view = s.grads.flat.narrow(0, offsets[k], end - offsets[k]);
      b.params = count;
      s.buckets.push_back(std::move(b));
      end = offsets[k];
      bytes = 0;
      count = 0;
    }
  }
  broadcast_parameters(0);
}

DistributedTrainer::~DistributedTrainer() = default;

void DistributedTrainer::broadcast_parameters(int root) {
  State& s = *state_;
  NoGradGuard no_grad;
  Tensor flat = s.model.module().flat_parameters();
  if (flat.defined() && flat.is_contiguous()) {
    s.world.broadcast(flat, root);
    return;
  }
  for (Tensor& p : s.params) s.world.broadcast(p, root);
}

const Gradients& DistributedTrainer::compute_gradients(const Tensor& x, const Tensor& y, Tensor* loss) {
  State& s = *state_;
  const auto start = Clock::now();
  Tensor value;
  {
    EnableGradGuard recording;
    value = s.model.loss_fn()(s.model.module().forward(x), y);
  }
  if (!value.requires_grad())
    throw ValueError("[DistributedTrainer] the loss " + value.shape().str() + " does not depend on any parameter");
  for (Bucket& b : s.buckets) {
    b.waiting = b.params;
    b.pending.reset();
  }
  s.next_to_start = 0;
  std::vector<Tensor> destinations;
  destinations.reserve(s.grads.tensors.size());
  for (const auto& named : s.grads.tensors) destinations.push_back(named.second);
  // Each gradient is in its bucket's slice of the flat buffer by the time it is reported.
  autograd::grad_into(value, s.params, destinations, [&](std::size_t i, const Tensor&) {
    --s.buckets[s.bucket_of[i]].waiting;
    if (s.options.overlap) {
      s.start_ready_buckets();
      s.poll_started();
    }
  });
  const auto backward_done = Clock::now();
  s.start_ready_buckets();  // all gradients are final now
  for (Bucket& b : s.buckets) b.pending->wait();
  NoGradGuard no_grad;
  if (s.world.size() > 1) s.grads.flat.div_(static_cast<double>(s.world.size()));
  s.times.forward_backward = seconds(start, backward_done);
  s.times.communication_wait = seconds(backward_done, Clock::now());
  if (loss) *loss = value.detach();
  return s.grads;
}

Tensor DistributedTrainer::train_step(const Tensor& x, const Tensor& y) {
  State& s = *state_;
  const auto start = Clock::now();
  Tensor local_loss;
  const Gradients& grads = compute_gradients(x, y, &local_loss);
  const auto update_start = Clock::now();
  s.model.apply_gradients(grads);
  const auto end = Clock::now();
  s.times.update = seconds(update_start, end);
  s.times.total = seconds(start, end);
  Tensor mean_loss = local_loss.to(DType::f64).contiguous().clone();
  s.world.all_reduce(mean_loss, Reduction::Mean);
  return mean_loss;
}

int DistributedTrainer::bucket_count() const { return static_cast<int>(state_->buckets.size()); }
const StepTimes& DistributedTrainer::last_step() const { return state_->times; }
World& DistributedTrainer::world() const { return state_->world; }
Model& DistributedTrainer::model() const { return state_->model; }

}  // namespace dm::dist
