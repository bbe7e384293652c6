// Data-parallel steps with gradient buckets all-reduced while backward runs (see
// distributed_trainer.hpp). The step is the model's own (model/gradient_step.hpp); the hook is
// its per-parameter "gradient ready" callback: each gradient is by then in its place in the
// layout's gradient block, and once a bucket's last gradient has arrived, the bucket's
// all-reduce is started.
//
// Shards may be unequal (a batch of 50 on 3 ranks is 16, 17 and 17 rows). Each rank
// back-propagates its shard's summed loss (the mean times its n rows); the ranks add these up
// and divide by the global batch, agreed in one small all-reduce started right after the
// forward pass, so the step is the full batch's mean-loss gradient whatever the split.
//
// Batch norm normalises with the statistics of the whole batch: for the forward and backward
// the trainer installs a reducer (rank_batch_statistics.hpp) through which each batch norm layer
// exchanges its shard's per-channel statistics, and in backward its gradient sums, with the
// other ranks. A rank without rows still runs the model on its empty shard, so that it takes
// part in every one of those exchanges.
//
// On a GPU (a model whose parameters live on CUDA, a World::nccl()) the gradient block lives on
// the model's device and the buckets go over NCCL, while the rows-and-loss exchange and the
// option checks, host tensors, stay on MPI.
//
// With bf16 compression a ready bucket is first rounded with error feedback into a bf16 copy
// (gradient_compression.hpp), which is all-gathered instead of all-reduced; once it has
// arrived, the ranks' values are added in rank order into the bucket's slice of the block.
#include "democratising/distributed/distributed_trainer.hpp"

#include <bit>
#include <chrono>
#include <string>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "gradient_compression.hpp"
#include "model/gradient_step.hpp"
#include "rank_batch_statistics.hpp"

namespace dm::dist {
namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// A span of the gradient block: parameters [first_param, last_param] in layout order.
struct Bucket {
  Tensor view;  // contiguous slice of the block
  std::size_t first_param = 0;
  int params = 0;
  int waiting = 0;  // gradients of this bucket not yet final in the current step
  std::unique_ptr<PendingCollective> pending;
  // Compressed only: this rank's residuals for the slice (a view of State::residual), the bf16
  // values it sends, and every rank's, (ranks, n) in rank order.
  Tensor residual;
  Tensor sent;
  Tensor gathered;
};

// The options every rank must share, or their collectives would not line up.
constexpr int kAgreedOptions = 2;
std::vector<std::int64_t> agreed_options(const DistributedOptions& o) {
  return {o.bucket_bytes, static_cast<std::int64_t>(o.compression)};
}

}  // namespace

struct DistributedTrainer::State {
  Model& model;
  World& world;
  Device device = Device::cpu();  // where the parameters, and so the gradient block, live
  DistributedOptions options;
  std::shared_ptr<const nn::ParameterLayout> layout;
  std::vector<Tensor> params;
  Gradients grads;                 // one block in the layout, reused by every step
  std::vector<Tensor> grad_views;  // its views, in layout order
  std::vector<Bucket> buckets;       // in the order they are expected to be ready: last layers first
  std::vector<std::size_t> bucket_of;  // parameter index -> bucket index
  std::size_t next_to_start = 0;
  Tensor residual;  // compressed only: this rank's error feedback, f32 in the layout
  // [rows, rows * loss] of this rank, summed over the ranks in place.
  Tensor batch_and_loss;
  std::unique_ptr<PendingCollective> batch_pending;
  std::shared_ptr<RankBatchStatistics> batch_statistics;
  StepTimes times;
  std::int64_t skipped = 0;

  State(Model& m, World& w, DistributedOptions o) : model(m), world(w), options(o) {}

  // Starts, in bucket order, every bucket whose gradients are all final: the ranks must start
  // collectives in the same order, and bucket order is the same everywhere.
  void start_ready_buckets() {
    while (next_to_start < buckets.size() && buckets[next_to_start].waiting == 0) {
      Bucket& b = buckets[next_to_start++];
      if (options.compression == Compression::none) {
        b.pending = world.start_all_reduce(b.view, Reduction::Sum);
      } else {
        compression::compress_with_error_feedback(b.view, b.residual, b.sent);
        b.pending = world.transport().start_all_gather(b.sent.data_ptr(), b.gathered.data_ptr(),
                                                       b.sent.numel() * static_cast<std::int64_t>(itemsize(DType::bf16)));
      }
    }
  }

  // Waits for every bucket and leaves the sum over the ranks in the gradient block.
  void finish_buckets() {
    for (Bucket& b : buckets) {
      b.pending->wait();
      if (options.compression != Compression::none) compression::sum_in_rank_order(b.gathered, b.view);
    }
  }

  void skip_step() {
    ++skipped;
    // The non-finite values reached some rank's residuals (and every rank skips alike): keeping
    // them would poison every later step, while starting afresh costs one step's correction.
    if (residual.defined()) {
      NoGradGuard no_grad;
      residual.zero_();
    }
  }

  // Compression's buffers for each bucket, once the buckets are laid out.
  void prepare_compression() {
    if (options.compression == Compression::none) return;
    if (!device.is_cpu())
      throw DeviceError(std::string("[DistributedTrainer] ") + compression_name(options.compression) +
                        " compression rounds gradients on the CPU; the model is on " + device.str() +
                        ": train a GPU model without compression");
    if (layout->dtype() != DType::f32)
      throw DTypeError(std::string("[DistributedTrainer] ") + compression_name(options.compression) +
                       " compression takes f32 gradients, the model's are " + std::string(dtype_name(layout->dtype())));
    residual = Tensor::zeros(Shape{layout->numel()}, DType::f32);
    for (Bucket& b : buckets) {
      const std::int64_t offset = (*layout)[b.first_param].offset;
      b.residual = residual.narrow(0, offset, b.view.numel());
      b.sent = Tensor::empty(Shape{b.view.numel()}, DType::bf16);
      b.gathered = Tensor::empty(Shape{world.size(), b.view.numel()}, DType::bf16);
    }
  }

  // The options that decide what every rank sends must be the same on all of them.
  void check_options_agree() {
    const std::vector<std::int64_t> mine_values = agreed_options(options);
    const Tensor mine = Tensor::from_vector<std::int64_t>(mine_values, Shape{kAgreedOptions});
    const std::vector<std::int64_t> all = world.all_gather(mine).to_vector<std::int64_t>();
    for (int r = 1; r < world.size(); ++r) {
      const auto at = [&](int rank, int field) { return all[static_cast<std::size_t>(kAgreedOptions * rank + field)]; };
      if (at(r, 0) != at(0, 0) || at(r, 1) != at(0, 1))
        throw DistributedError("[DistributedTrainer] rank 0 has bucket_bytes " + std::to_string(at(0, 0)) +
                               " and compression " + compression_name(static_cast<Compression>(at(0, 1))) + ", rank " +
                               std::to_string(r) + " has bucket_bytes " + std::to_string(at(r, 0)) + " and compression " +
                               compression_name(static_cast<Compression>(at(r, 1))) +
                               ": every rank must send its gradients alike");
    }
  }

  // Gives the transport a chance to move data: MPI progresses non-blocking collectives only
  // inside MPI calls, and backward makes none of its own.
  void poll_started() {
    for (std::size_t i = 0; i < next_to_start; ++i)
      if (buckets[i].pending) buckets[i].pending->test();
  }

  // This rank's rows and summed loss, on their way to the others before backward starts.
  void start_batch_exchange(std::int64_t rows, double loss) {
    batch_and_loss = Tensor::from_vector<double>({static_cast<double>(rows), static_cast<double>(rows) * loss}, Shape{2});
    batch_pending = world.start_all_reduce(batch_and_loss, Reduction::Sum);
  }
};

DistributedTrainer::DistributedTrainer(Model& model, World& world, DistributedOptions options)
    : state_(std::make_unique<State>(model, world, options)) {
  State& s = *state_;
  if (options.bucket_bytes <= 0)
    throw ValueError("[DistributedTrainer] bucket_bytes must be positive, got " + std::to_string(options.bucket_bytes));
  s.layout = model.parameter_layout();
  const nn::ParameterLayout& layout = *s.layout;
  if (layout.size() == 0) throw ValueError("[DistributedTrainer] the model has no parameters");
  s.batch_statistics = std::make_shared<RankBatchStatistics>(world);
  for (const auto& [_, p] : model.module().named_parameters()) s.params.push_back(p);
  s.device = s.params.empty() ? Device::cpu() : s.params.front().device();
  for (const Tensor& p : s.params)
    if (p.device() != s.device)
      throw DeviceError("[DistributedTrainer] the model's parameters are on " + s.device.str() + " and " +
                        p.device().str() + ": a data-parallel rank holds its whole model on one device");
  if (!s.device.is_cpu() && world.device() != s.device)
    throw DeviceError("[DistributedTrainer] the model is on " + s.device.str() + " but the " + world.transport_name() +
                      " world's collectives run on " + world.device().str() +
                      (world.device().is_cpu() ? ": make the world with World::nccl()" : ": move the model there"));
  // Every rank must hold the same layout, or the buckets would not line up.
  const Tensor mine = Tensor::from_vector<std::int64_t>(
      {static_cast<std::int64_t>(layout.size()), layout.numel(), std::bit_cast<std::int64_t>(layout.fingerprint())},
      Shape{3});
  const std::vector<std::int64_t> all = world.all_gather(mine).to_vector<std::int64_t>();
  for (int r = 1; r < world.size(); ++r)
    for (int f = 0; f < 3; ++f)
      if (all[static_cast<std::size_t>(3 * r + f)] != all[static_cast<std::size_t>(f)])
        throw DistributedError("[DistributedTrainer] rank 0 has " + std::to_string(all[0]) + " parameters (" +
                               std::to_string(all[1]) + " elements), rank " + std::to_string(r) + " has " +
                               std::to_string(all[static_cast<std::size_t>(3 * r)]) + " (" +
                               std::to_string(all[static_cast<std::size_t>(3 * r + 1)]) +
                               " elements) or other names, shapes or dtype");

  s.grads = detail::gradient_block(s.layout, s.device);
  s.grad_views = layout.views(s.grads.flat);
  // Buckets from the last parameter backwards; each is a contiguous span of the block.
  const std::int64_t item = static_cast<std::int64_t>(itemsize(layout.dtype()));
  s.bucket_of.assign(layout.size(), 0);
  std::int64_t end = layout.numel();
  std::int64_t bytes = 0;
  int count = 0;
  for (std::size_t k = layout.size(); k-- > 0;) {
    s.bucket_of[k] = s.buckets.size();
    bytes += layout[k].numel * item;
    ++count;
    if (bytes >= options.bucket_bytes || k == 0) {
      Bucket b;
      b.view = s.grads.flat.narrow(0, layout[k].offset, end - layout[k].offset);
      b.first_param = k;
      b.params = count;
      s.buckets.push_back(std::move(b));
      end = layout[k].offset;
      bytes = 0;
      count = 0;
    }
  }
  s.check_options_agree();
  s.prepare_compression();
  broadcast_parameters(0);
}

DistributedTrainer::~DistributedTrainer() = default;

void DistributedTrainer::broadcast_parameters(int root) {
  State& s = *state_;
  NoGradGuard no_grad;
  Tensor flat = s.model.module().flat_parameters();
  // A model placed on a GPU parameter by parameter keeps its flat buffer on the host: not the one to send.
  if (flat.defined() && flat.is_contiguous() && flat.device() == s.device) {
    s.world.broadcast(flat, root);
    return;
  }
  for (Tensor& p : s.params) s.world.broadcast(p, root);
}

const Gradients& DistributedTrainer::compute_gradients(const Tensor& x_in, const Tensor& y_in, Tensor* loss) {
  State& s = *state_;
  if (!x_in.defined() || !y_in.defined() || x_in.dim() == 0 || y_in.dim() == 0 || y_in.size(0) != x_in.size(0))
    throw ShapeError("[DistributedTrainer] inputs " + (x_in.defined() ? x_in.shape().str() : std::string("(undefined)")) +
                     " and targets " + (y_in.defined() ? y_in.shape().str() : std::string("(undefined)")) +
                     " need the same batch dimension");
  // A host batch meets a GPU model on its device.
  const Tensor x = s.device.is_cpu() ? x_in : x_in.to(s.device);
  const Tensor y = s.device.is_cpu() ? y_in : y_in.to(s.device);
  const auto start = Clock::now();
  const std::int64_t rows = x.size(0);
  for (Bucket& b : s.buckets) {
    b.waiting = b.params;
    b.pending.reset();
  }
  s.next_to_start = 0;
  // Only training-mode batch norm calls it; a model without batch norm exchanges nothing more.
  const nn::BatchStatisticsScope shared_statistics(s.batch_statistics);
  if (rows == 0 && !s.model.module().uses_batch_statistics()) {
    // A rank without rows this step adds nothing, but still takes part in every collective.
    s.start_batch_exchange(0, 0.0);
    NoGradGuard no_grad;
    s.grads.flat.zero_();
    for (Bucket& b : s.buckets) b.waiting = 0;
  } else {
    detail::StepHooks hooks;
    hooks.loss_scale = static_cast<double>(rows);
    // Without rows (batch norm only), the forward and backward run for their exchanges alone:
    // the empty output's sum is a loss of 0 whose gradients are all zero.
    const LossFn no_rows = [](const Tensor& output, const Tensor&) { return output.sum(); };
    hooks.after_loss = [&](const Tensor& value) { s.start_batch_exchange(rows, value.item<double>()); };
    // Each gradient is in its bucket's slice of the block by the time it is reported.
    hooks.on_ready = [&](std::size_t i, const Tensor&) {
      --s.buckets[s.bucket_of[i]].waiting;
      if (s.options.overlap) {
        s.start_ready_buckets();
        s.poll_started();
      }
    };
    detail::gradient_step(s.model.module(), rows == 0 ? no_rows : s.model.loss_fn(), s.params, x, y, s.grad_views,
                          "DistributedTrainer", hooks);
  }
  const auto backward_done = Clock::now();
  s.start_ready_buckets();  // all gradients are final now
  s.batch_pending->wait();
  s.finish_buckets();
  const std::vector<double> totals = s.batch_and_loss.to_vector<double>();
  if (!(totals[0] >= 1.0)) throw ShapeError("[DistributedTrainer] the batch is empty on every rank");
  NoGradGuard no_grad;
  // The sum over ranks of each shard's summed-loss gradient, over the batch: its mean-loss gradient.
  s.grads.flat.div_(totals[0]);
  s.times.forward_backward = seconds(start, backward_done);
  s.times.communication_wait = seconds(backward_done, Clock::now());
  if (loss) *loss = Tensor::scalar(totals[1] / totals[0], DType::f64);
  return s.grads;
}

Tensor DistributedTrainer::train_step(const Tensor& x, const Tensor& y) {
  State& s = *state_;
  const auto start = Clock::now();
  Tensor loss;
  const Gradients& grads = compute_gradients(x, y, &loss);
  const auto update_start = Clock::now();
  // The loss and the gradient are the same bits on every rank, so every rank decides alike.
  if (detail::admit_step(loss, {grads.flat}, s.options.non_finite, "DistributedTrainer"))
    s.model.apply_gradients(grads);
  else
    s.skip_step();
  const auto end = Clock::now();
  s.times.update = seconds(update_start, end);
  s.times.total = seconds(start, end);
  return loss;
}

int DistributedTrainer::bucket_count() const { return static_cast<int>(state_->buckets.size()); }

std::vector<BucketInfo> DistributedTrainer::buckets() const {
  const State& s = *state_;
  const std::int64_t item = static_cast<std::int64_t>(
      itemsize(s.options.compression == Compression::bf16 ? DType::bf16 : s.layout->dtype()));
  std::vector<BucketInfo> out;
  for (const Bucket& b : s.buckets) {
    BucketInfo info;
    for (std::size_t k = b.first_param; k < b.first_param + static_cast<std::size_t>(b.params); ++k)
      info.parameters.push_back((*s.layout)[k].name);
    info.elements = b.view.numel();
    info.bytes = info.elements * item;
    out.push_back(std::move(info));
  }
  return out;
}

const DistributedOptions& DistributedTrainer::options() const { return state_->options; }

Tensor DistributedTrainer::compression_residual() const {
  const State& s = *state_;
  return s.residual.defined() ? s.residual.clone() : Tensor();
}

void DistributedTrainer::set_compression_residual(const Tensor& residual) {
  State& s = *state_;
  if (!s.residual.defined())
    throw ValueError("[DistributedTrainer::set_compression_residual] the trainer does not compress: it keeps no residuals");
  if (!residual.defined() || residual.shape() != s.residual.shape())
    throw ShapeError("[DistributedTrainer::set_compression_residual] expected " + s.residual.shape().str() + ", got " +
                     (residual.defined() ? residual.shape().str() : std::string("an undefined tensor")));
  if (residual.dtype() != DType::f32)
    throw DTypeError("[DistributedTrainer::set_compression_residual] expected f32, got " +
                     std::string(dtype_name(residual.dtype())));
  NoGradGuard no_grad;
  s.residual.copy_(residual);
}

const char* compression_name(Compression compression) {
  switch (compression) {
    case Compression::none: return "none";
    case Compression::bf16: return "bf16";
  }
  return "unknown";
}
const StepTimes& DistributedTrainer::last_step() const { return state_->times; }
std::int64_t DistributedTrainer::skipped_steps() const { return state_->skipped; }
World& DistributedTrainer::world() const { return state_->world; }
Model& DistributedTrainer::model() const { return state_->model; }

}  // namespace dm::dist
