// dm::ModelParallel: placement of a Sequential's stages on devices and the GPipe schedule.
//
// Each stage keeps its own graph: its input is a fresh leaf on its device, so backward through
// one stage ends at that leaf, whose gradient is what the previous stage needs. That keeps
// every stage's backward on its own worker, overlapping with its neighbours, instead of one
// backward on one thread running through every stage.
#include "democratising/model/model_parallel.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <utility>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/sequential.hpp"
#include "model/gradient_step.hpp"
#include "model_parallel_partition.hpp"
#include "model_parallel_worker.hpp"

namespace dm {
namespace {

// Binds `optimizer` to `parameters` with the state it had for their namesakes. Per-parameter
// state is named "<kind>.<parameter>" (momentum_buffer, exp_avg, ...); each such tensor is
// taken to its parameter's device first, since load_state copies within a device.
void rebind_keeping_state(optim::Optimizer& optimizer, const nn::NamedTensors& parameters,
                          std::shared_ptr<const nn::ParameterLayout> layout) {
  nn::NamedTensors state = optimizer.state();
  for (auto& [name, value] : state) {
    const std::size_t dot = name.find('.');
    if (dot == std::string::npos) continue;
    for (const auto& [parameter, p] : parameters)
      if (name.compare(dot + 1, std::string::npos, parameter) == 0 && value.device() != p.device()) value = value.to(p.device());
  }
  optimizer.bind(parameters, std::move(layout));
  optimizer.load_state(state);
}

// Recording on for the scope, whatever the thread's mode: backward() needs the graph.
class RecordingScope {
 public:
  RecordingScope() : previous_(is_grad_enabled()) { set_grad_enabled(true); }
  ~RecordingScope() { set_grad_enabled(previous_); }
  RecordingScope(const RecordingScope&) = delete;
  RecordingScope& operator=(const RecordingScope&) = delete;

 private:
  bool previous_;
};

// Near-equal micro-batch sizes (the first ones one larger), at most one per sample.
std::vector<std::int64_t> micro_batch_sizes(std::int64_t batch, int micro_batches) {
  const std::int64_t count = std::min<std::int64_t>(batch, micro_batches);
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(count), batch / count);
  for (std::int64_t i = 0; i < batch % count; ++i) sizes[static_cast<std::size_t>(i)]++;
  return sizes;
}

}  // namespace

struct ModelParallel::State {
  Model* model = nullptr;
  nn::Sequential* sequential = nullptr;
  std::vector<Device> devices;
  std::vector<std::size_t> first_layer;  // per stage, plus the layer count at the end
  nn::NamedTensors home;                 // the model's own parameters, where they were
  nn::NamedTensors placed;               // the same, on their stages' devices
  std::vector<std::pair<std::string, Device>> moved_buffers;  // buffers placed on a stage, and their home
  std::vector<std::unique_ptr<pipeline::StageWorker>> workers;
  std::vector<pipeline::Handoff> activations;  // [s]: stage s -> s+1
  std::vector<pipeline::Handoff> gradients;    // [s]: stage s+1 -> s

  // The last forward(): per stage and micro-batch, the input leaf and the output.
  std::vector<std::vector<Tensor>> inputs, outputs;
  std::vector<std::int64_t> sizes;
  std::int64_t batch = 0;
  int micro_batches = 1;
  // The loss of the backward() calls since the last step(), for its non-finite check.
  Tensor loss;
  NonFinitePolicy non_finite = NonFinitePolicy::raise;
  std::int64_t skipped = 0;

  std::atomic<std::uint64_t> clock{0};
  mutable std::mutex events_mutex;
  std::vector<PipelineEvent> events;

  std::size_t stage_count() const { return devices.size(); }

  Tensor run_stage(std::size_t s, const Tensor& x) const {
    Tensor h = x;
    for (std::size_t l = first_layer[s]; l < first_layer[s + 1]; ++l) h = (*sequential)[l]->forward(h);
    return h;
  }

  template <class Work>
  void timed(PipelineEvent::Phase phase, std::size_t s, std::size_t m, Work&& work) {
    PipelineEvent e{phase, s, m, clock.fetch_add(1), 0, std::this_thread::get_id()};
    work();
    e.end = clock.fetch_add(1);
    std::lock_guard lock(events_mutex);
    events.push_back(e);
  }

  // Runs stage_job(s) on every stage's worker at once. A failing stage aborts the hand-offs so
  // its neighbours stop waiting; the caller gets the first real failure.
  template <class StageJob>
  void run_pipeline(StageJob&& stage_job) {
    for (auto& h : activations) h.reset(sizes.size());
    for (auto& h : gradients) h.reset(sizes.size());
    std::vector<std::future<void>> done;
    for (std::size_t s = 0; s < stage_count(); ++s) {
      done.push_back(workers[s]->submit([this, s, &stage_job] {
        try {
          stage_job(s);
        } catch (...) {
          for (auto& h : activations) h.abort();
          for (auto& h : gradients) h.abort();
          throw;
        }
      }));
    }
    pipeline::wait_all(done);
  }
};

ModelParallel::ModelParallel(Model& model, std::vector<Device> devices, ModelParallelOptions options)
    : state_(std::make_unique<State>()) {
  State& st = *state_;
  auto* sequential = dynamic_cast<nn::Sequential*>(&model.module());
  if (!sequential) throw ValueError("[ModelParallel] the model's module must be an nn::Sequential, got " + model.module().name());
  if (devices.empty()) throw ValueError("[ModelParallel] the device list is empty: give at least one device");
  if (options.micro_batches < 1)
    throw ValueError("[ModelParallel] micro_batches must be at least 1, got " + std::to_string(options.micro_batches));
  // Batch statistics over a micro-batch are not the batch's: refuse rather than train a
  // different model than the single-process one.
  if (options.micro_batches > 1 && sequential->uses_batch_statistics())
    throw ValueError("[ModelParallel] the model normalises by batch statistics (batch norm), which " +
                     std::to_string(options.micro_batches) +
                     " micro-batches would compute per micro-batch: use micro_batches = 1, or GroupNorm/LayerNorm");
  const std::size_t layers = sequential->size();
  if (devices.size() > layers)
    throw ValueError("[ModelParallel] " + std::to_string(devices.size()) + " devices but the Sequential has " +
                     std::to_string(layers) + " layer(s): every stage needs at least one layer");

  std::vector<std::size_t> points = options.split_points;
  if (points.empty() && devices.size() > 1) {
    std::vector<std::int64_t> costs;
    for (std::size_t l = 0; l < layers; ++l) costs.push_back((*sequential)[l]->num_parameters());
    points = pipeline::balanced_split_points(costs, devices.size());
  }
  pipeline::check_split_points(points, layers, devices.size());

  st.model = &model;
  st.micro_batches = options.micro_batches;
  st.non_finite = options.non_finite;
  st.sequential = sequential;
  st.devices = std::move(devices);
  st.first_layer.push_back(0);
  st.first_layer.insert(st.first_layer.end(), points.begin(), points.end());
  st.first_layer.push_back(layers);

  // Place each stage's parameters: a copy on its device, or the model's own tensor if it is
  // already there. Parameters are named "<layer>.<name>" by the Sequential.
  // Names are "<layer>.<name>" (parameters and buffers alike).
  auto stage_of = [&](const std::string& name) {
    const std::size_t layer = pipeline::layer_of(name, layers);
    return static_cast<std::size_t>(
        std::upper_bound(st.first_layer.begin() + 1, st.first_layer.end() - 1, layer) - (st.first_layer.begin() + 1));
  };
  st.home = sequential->named_parameters();
  std::vector<std::pair<std::string, Tensor>> moved;
  for (const auto& [name, home] : st.home) {
    const Device target = st.devices[stage_of(name)];
    Tensor placed = home.device() == target ? home : home.detach().to(target).detach();
    if (!placed.shares_storage_with(home)) moved.emplace_back(name, placed);
  }
  // Buffers (batch norm's running statistics) go with their layers, as values taken under
  // their locks.
  std::vector<std::pair<std::string, Tensor>> moved_buffers;
  for (const auto& [name, value] : sequential->named_buffers()) {
    const Device target = st.devices[stage_of(name)];
    if (value.device() == target) continue;
    moved_buffers.emplace_back(name, value.to(target));
    st.moved_buffers.emplace_back(name, value.device());
  }
  // Only after every copy succeeded does the module change.
  for (auto& [name, placed] : moved) sequential->replace_parameter(name, placed);
  for (auto& [name, placed] : moved_buffers) sequential->replace_buffer(name, placed);
  st.placed = sequential->named_parameters();
  // The optimizer's state (momentum, moments, step counts) goes with the parameters, so a run
  // placed on a device after a resumed checkpoint continues where it stopped.
  rebind_keeping_state(model.optimizer(), st.placed, nullptr);
  model.optimizer().zero_grad();

  st.activations = std::vector<pipeline::Handoff>(st.stage_count() - 1);
  st.gradients = std::vector<pipeline::Handoff>(st.stage_count() - 1);
  for (std::size_t s = 0; s < st.stage_count(); ++s) st.workers.push_back(std::make_unique<pipeline::StageWorker>());
}

ModelParallel::~ModelParallel() {
  State& st = *state_;
  try {
    sync_to_model();
    for (const auto& [name, home] : st.home) st.sequential->replace_parameter(name, home);
    // The running statistics go home with what the stages made of them.
    const nn::NamedTensors buffers = st.sequential->named_buffers();
    for (const auto& [name, home_device] : st.moved_buffers)
      for (const auto& [buffer_name, value] : buffers)
        if (buffer_name == name) st.sequential->replace_buffer(name, value.to(home_device));
    rebind_keeping_state(st.model->optimizer(), st.home, st.model->parameter_layout());
  } catch (...) {
    // A destructor must not throw; the copies above only fail if memory ran out.
  }
}

void ModelParallel::sync_to_model() {
  State& st = *state_;
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < st.home.size(); ++i) {
    const Tensor& home = st.home[i].second;
    const Tensor& placed = st.placed[i].second;
    if (placed.shares_storage_with(home)) continue;
    home.detach().copy_(placed.detach().to(home.device()));
  }
}

Tensor ModelParallel::forward(const Tensor& x) {
  State& st = *state_;
  if (!x.defined()) throw ValueError("[ModelParallel::forward] the input is undefined");
  if (x.dim() == 0 || x.size(0) == 0)
    throw ShapeError("[ModelParallel::forward] needs a batch along dim 0, got shape " + x.shape().str());
  // Free the previous pass's graphs before building new ones.
  st.inputs.assign(st.stage_count(), {});
  st.outputs.assign(st.stage_count(), {});
  {
    std::lock_guard lock(st.events_mutex);
    st.events.clear();
  }
  st.batch = x.size(0);
  st.sizes = micro_batch_sizes(st.batch, st.micro_batches);
  const std::size_t count = st.sizes.size();
  for (std::size_t s = 0; s < st.stage_count(); ++s) {
    st.inputs[s].resize(count);
    st.outputs[s].resize(count);
  }

  auto forget_pass = [&] {
    st.inputs.assign(st.stage_count(), {});
    st.outputs.assign(st.stage_count(), {});
  };
  try {
    st.run_pipeline([&](std::size_t s) {
    RecordingScope recording;
    std::int64_t offset = 0;
    for (std::size_t m = 0; m < count; ++m) {
      Tensor in;
      if (s == 0) {
        in = x.narrow(0, offset, st.sizes[m]).to(st.devices[0]);
        offset += st.sizes[m];
      } else {
        in = st.activations[s - 1].take(m).to(st.devices[s]).detach();
        in.set_requires_grad(true);  // a leaf: its gradient is what stage s-1 needs
      }
      st.timed(PipelineEvent::Phase::forward, s, m, [&] {
        st.outputs[s][m] = st.run_stage(s, in);
        st.inputs[s][m] = in;
      });
      if (s + 1 < st.stage_count()) st.activations[s].put(m, st.outputs[s][m].detach());
    }
  });
  } catch (...) {
    forget_pass();  // a half-done pass must not be back-propagated
    throw;
  }
  NoGradGuard no_grad;
  return cat(st.outputs.back(), 0).detach();
}

Tensor ModelParallel::backward(const Tensor& y) {
  State& st = *state_;
  if (st.outputs.empty() || st.outputs.back().empty() || !st.outputs.back().front().defined())
    throw ValueError("[ModelParallel::backward] call forward() first (each forward() allows one backward())");
  if (!y.defined()) throw ValueError("[ModelParallel::backward] the target is undefined");
  if (y.dim() == 0 || y.size(0) != st.batch)
    throw ShapeError("[ModelParallel::backward] the target " + y.shape().str() + " must have the forward batch's " +
                     std::to_string(st.batch) + " rows along dim 0");
  const std::size_t count = st.sizes.size();
  const std::size_t last = st.stage_count() - 1;
  Tensor loss;

  st.run_pipeline([&](std::size_t s) {
    RecordingScope recording;
    // GPipe runs the backward passes in reverse micro-batch order, the last one first: its
    // activations are the freshest.
    for (std::size_t m = count; m-- > 0;) {
      Tensor grad_out;
      if (s < last) grad_out = st.gradients[s].take(m).to(st.devices[s]);
      st.timed(PipelineEvent::Phase::backward, s, m, [&] {
        const Tensor& out = st.outputs[s][m];
        if (s == last) {
          std::int64_t offset = 0;
          for (std::size_t k = 0; k < m; ++k) offset += st.sizes[k];
          const Tensor target = y.narrow(0, offset, st.sizes[m]).to(st.devices[s]);
          // The batch loss is the mean over samples, so micro-batch m weighs in by its share.
          const Tensor value = st.model->loss_fn()(out, target);
          detail::check_loss(value, "ModelParallel::backward");
          const Tensor weighted = value * detail::shard_weight(st.sizes[m], st.batch, value.dtype());
          weighted.backward();
          NoGradGuard no_grad;
          loss = loss.defined() ? loss + weighted.detach() : weighted.detach();
        } else if (out.requires_grad()) {
          out.backward(grad_out);
        }
      });
      if (s > 0) {
        const Tensor& in = st.inputs[s][m];
        Tensor g = in.grad();
        if (!g.defined()) g = Tensor::zeros(in.shape(), in.dtype(), in.device());  // the stage ignored its input
        st.gradients[s - 1].put(m, g);
      }
    }
  });
  // The graphs are spent; drop them so their memory goes now.
  st.inputs.assign(st.stage_count(), {});
  st.outputs.assign(st.stage_count(), {});
  NoGradGuard no_grad;
  st.loss = st.loss.defined() ? st.loss + loss.to(st.loss.device()) : loss;
  return loss.reshape({});
}

void ModelParallel::step() {
  State& st = *state_;
  NoGradGuard no_grad;
  optim::Optimizer& optimizer = st.model->optimizer();
  std::vector<Tensor> grads;
  for (const auto& [_, p] : optimizer.parameters()) grads.push_back(p.grad());
  const Tensor loss = std::exchange(st.loss, Tensor());
  if (!loss.defined() || detail::admit_step(loss, grads, st.non_finite, "ModelParallel")) {
    detail::clip_for_update(grads, st.model->clip_grad_norm());  // the stages' gradients together
    optimizer.step(grads);
  } else {
    ++st.skipped;
  }
  optimizer.zero_grad();
}

std::int64_t ModelParallel::skipped_steps() const { return state_->skipped; }

std::vector<std::pair<std::size_t, std::size_t>> ModelParallel::stages() const {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t s = 0; s < state_->stage_count(); ++s)
    out.emplace_back(state_->first_layer[s], state_->first_layer[s + 1]);
  return out;
}

const std::vector<Device>& ModelParallel::devices() const { return state_->devices; }

const nn::NamedTensors& ModelParallel::parameters() const { return state_->placed; }

std::vector<PipelineEvent> ModelParallel::schedule() const {
  std::lock_guard lock(state_->events_mutex);
  return state_->events;
}

}  // namespace dm
