// dm::ModelParallel over logical CPU devices: training equals single-device training, the
// schedule is GPipe's, stages overlap, micro-batch gradients add up to the full batch's, and
// bad configurations are refused with errors that say what is wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <set>

#include "core/reference_indexing.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/model/model.hpp"
#include "democratising/model/model_parallel.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/normalization.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"
#include "model_test_util.hpp"

namespace {

using dm::Device;
using dm::Model;
using dm::ModelParallel;
using dm::ModelParallelOptions;
using dm::PipelineEvent;
using dm::Tensor;
using testing::HasSubstr;
namespace nn = dm::nn;

// Seven layers: Dense, ReLU, Dense, ReLU, Dense, ReLU, Dense.
nn::Sequential seven_layers(std::uint64_t seed) {
  dm::manual_seed(seed);
  return nn::mlp_from_spec("mlp:6-12-10-8-3");
}

Model make_model(std::uint64_t seed, dm::ModelOptions options = {}) {
  return Model(std::make_shared<nn::Sequential>(seven_layers(seed)), options);
}

std::vector<Device> cpu_devices(int n) {
  std::vector<Device> out;
  for (int i = 0; i < n; ++i) out.push_back(Device::cpu(i));
  return out;
}

void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  const auto va = a.to_vector<double>();
  const auto vb = b.to_vector<double>();
  ASSERT_EQ(va.size(), vb.size()) << what;
  for (std::size_t i = 0; i < va.size(); ++i)
    ASSERT_NEAR(va[i], vb[i], tol * (1.0 + std::abs(vb[i]))) << what << " element " << i;
}

struct TrainingCase {
  int devices;
  int micro_batches;
  bool adam;
};

class ModelParallelTraining : public testing::TestWithParam<TrainingCase> {};

TEST_P(ModelParallelTraining, EqualsSingleDeviceTraining) {
  const TrainingCase c = GetParam();
  auto options = [&] {
    dm::ModelOptions o;
    if (c.adam) o.optimizer = std::make_shared<dm::optim::Adam>(dm::optim::AdamOptions{.lr = 0.01});
    return o;
  };
  Model reference = make_model(11, options());
  Model model = make_model(11, options());
  const auto data = model_test::blobs(26, 6, 3, 5);  // 26 rows: uneven micro-batches
  std::vector<double> reference_losses;
  {
    ModelParallel mp(model, cpu_devices(c.devices), {.micro_batches = c.micro_batches});
    ASSERT_EQ(mp.stages().size(), static_cast<std::size_t>(c.devices));
    for (int step = 0; step < 6; ++step) {
      const double expected = reference.train_step(data.x, data.y).item<double>();
      const Tensor out = mp.forward(data.x);
      EXPECT_EQ(out.shape(), (dm::Shape{26, 3}));
      EXPECT_EQ(out.device(), Device::cpu(c.devices - 1));
      const double loss = mp.backward(data.y).item<double>();
      mp.step();
      EXPECT_NEAR(loss, expected, 1e-5 * (1.0 + std::abs(expected))) << "step " << step;
      reference_losses.push_back(expected);
    }
    // Each stage's parameters live on its device and equal the reference's.
    const auto ref_params = reference.module().named_parameters();
    const auto& placed = mp.parameters();
    ASSERT_EQ(placed.size(), ref_params.size());
    const auto stages = mp.stages();
    for (std::size_t i = 0; i < placed.size(); ++i) {
      const std::size_t layer = std::stoul(placed[i].first);
      std::size_t s = 0;
      while (layer >= stages[s].second) ++s;
      EXPECT_EQ(placed[i].second.device(), Device::cpu(static_cast<int>(s))) << placed[i].first;
      expect_close(placed[i].second, ref_params[i].second, 1e-5, placed[i].first);
    }
  }
  EXPECT_LT(reference_losses.back(), reference_losses.front()) << "the run should learn something";
  // Once the pipeline is gone the model holds the trained values again, on its own device and
  // in its own flat buffer, and trains on by itself.
  const auto ref_params = reference.module().named_parameters();
  const auto params = model.module().named_parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(params[i].second.device(), Device::cpu());
    EXPECT_TRUE(params[i].second.shares_storage_with(model.module().flat_parameters()));
    expect_close(params[i].second, ref_params[i].second, 1e-5, params[i].first);
  }
  const double next = model.train_step(data.x, data.y).item<double>();
  EXPECT_TRUE(std::isfinite(next));
}

INSTANTIATE_TEST_SUITE_P(CpuDevices, ModelParallelTraining,
                         testing::Values(TrainingCase{1, 3, false}, TrainingCase{2, 4, false}, TrainingCase{3, 5, false},
                                         TrainingCase{4, 4, false}, TrainingCase{4, 8, true},
                                         TrainingCase{3, 1, true}));

// The gradient accumulated over micro-batches, read before step(), against autograd on the
// whole batch in one piece.
TEST(ModelParallel, MicroBatchGradientsAddUpToTheFullBatchGradient) {
  const auto data = model_test::blobs(10, 6, 3, 9);
  nn::Sequential reference = seven_layers(3);
  const Tensor full_loss = nn::cross_entropy(reference.forward(data.x), data.y);
  const std::vector<Tensor> expected = dm::autograd::grad(full_loss, reference.parameters());
  for (int micro : {1, 3, 4, 10, 16}) {
    Model model = make_model(3);
    ModelParallel mp(model, cpu_devices(3), {.micro_batches = micro});
    mp.forward(data.x);
    const double loss = mp.backward(data.y).item<double>();
    EXPECT_NEAR(loss, full_loss.item<double>(), 1e-5) << micro << " micro-batches";
    const auto& placed = mp.parameters();
    for (std::size_t i = 0; i < placed.size(); ++i)
      expect_close(placed[i].second.grad(), expected[i], 1e-5, placed[i].first + " with " + std::to_string(micro));
    // A second pass before step() adds the same gradient again.
    mp.forward(data.x);
    mp.backward(data.y);
    for (std::size_t i = 0; i < placed.size(); ++i)
      expect_close(placed[i].second.grad(), expected[i] * 2.0, 1e-5, placed[i].first + " accumulated");
    mp.step();
    for (const auto& [name, p] : placed) EXPECT_FALSE(p.grad().defined()) << name << " after step()";
  }
}

TEST(ModelParallel, ScheduleIsGPipe) {
  constexpr std::size_t stages = 4, micro = 6;
  Model model = make_model(4);
  ModelParallel mp(model, cpu_devices(static_cast<int>(stages)), {.micro_batches = static_cast<int>(micro)});
  const auto data = model_test::blobs(24, 6, 3, 2);
  mp.forward(data.x);
  const auto forward_events = mp.schedule();
  mp.backward(data.y);
  const auto events = mp.schedule();
  ASSERT_EQ(forward_events.size(), stages * micro);
  ASSERT_EQ(events.size(), 2 * stages * micro);

  std::map<std::tuple<int, std::size_t, std::size_t>, PipelineEvent> at;
  std::map<std::size_t, std::set<std::thread::id>> workers;
  for (const PipelineEvent& e : events) {
    EXPECT_LT(e.begin, e.end);
    at[{static_cast<int>(e.phase), e.stage, e.micro_batch}] = e;
    workers[e.stage].insert(e.worker);
  }
  ASSERT_EQ(at.size(), 2 * stages * micro) << "every (phase, stage, micro-batch) exactly once";
  auto fwd = [&](std::size_t s, std::size_t m) { return at.at({0, s, m}); };
  auto bwd = [&](std::size_t s, std::size_t m) { return at.at({1, s, m}); };
  std::set<std::thread::id> all_workers;
  for (std::size_t s = 0; s < stages; ++s) {
    ASSERT_EQ(workers[s].size(), 1u) << "stage " << s << " runs on one worker";
    EXPECT_NE(*workers[s].begin(), std::this_thread::get_id());
    all_workers.insert(*workers[s].begin());
    for (std::size_t m = 0; m < micro; ++m) {
      // Forward: micro-batches in order within a stage, each after the previous stage's.
      if (m > 0) {
        EXPECT_GT(fwd(s, m).begin, fwd(s, m - 1).end);
      }
      if (s > 0) {
        EXPECT_GT(fwd(s, m).begin, fwd(s - 1, m).end);
      }
      // Backward: the last micro-batch first, each after the next stage's.
      if (m + 1 < micro) {
        EXPECT_GT(bwd(s, m).begin, bwd(s, m + 1).end);
      }
      if (s + 1 < stages) {
        EXPECT_GT(bwd(s, m).begin, bwd(s + 1, m).end);
      }
      // Every forward of every stage before any backward.
      EXPECT_GT(bwd(s, m).begin, fwd(stages - 1, micro - 1).end);
    }
  }
  EXPECT_EQ(all_workers.size(), stages) << "each stage has its own worker";
}

// A layer that hands the identity through but lets a test hold micro-batch 1 of the first
// stage until the second stage has started micro-batch 0: only overlapping stages get past it.
struct Rendezvous {
  std::mutex mutex;
  std::condition_variable changed;
  int first_stage_calls = 0;
  bool second_stage_started = false;
  bool timed_out = false;
};

class Gate : public nn::Module {
 public:
  Gate(std::shared_ptr<Rendezvous> r, bool first_stage) : r_(std::move(r)), first_stage_(first_stage) {}
  Tensor forward(const Tensor& x) const override {
    std::unique_lock lock(r_->mutex);
    if (!first_stage_) {
      r_->second_stage_started = true;
      r_->changed.notify_all();
    } else if (++r_->first_stage_calls == 2) {
      // Bounded: a pipeline that runs its stages one after the other fails here, never hangs.
      if (!r_->changed.wait_for(lock, std::chrono::seconds(10), [&] { return r_->second_stage_started; }))
        r_->timed_out = true;
    }
    return x;
  }
  std::string name() const override { return "Gate"; }

 private:
  std::shared_ptr<Rendezvous> r_;
  bool first_stage_;
};

TEST(ModelParallel, StagesWorkOnDifferentMicroBatchesAtOnce) {
  auto r = std::make_shared<Rendezvous>();
  dm::manual_seed(8);
  nn::Sequential net;
  net.add(nn::Dense(6, 5)).add(Gate(r, true)).add(Gate(r, false)).add(nn::Dense(5, 3));
  Model model(std::make_shared<nn::Sequential>(std::move(net)));
  ModelParallel mp(model, cpu_devices(2), {.micro_batches = 3, .split_points = {2}});
  const auto data = model_test::blobs(9, 6, 3, 1);
  mp.forward(data.x);
  EXPECT_FALSE(r->timed_out) << "stage 0 never saw stage 1 start while it still had micro-batches to run";
  EXPECT_TRUE(r->second_stage_started);
  EXPECT_NO_THROW(mp.backward(data.y));
}

// Balanced stages: contiguous, non-empty, and no larger than the best cut found by trying all.
TEST(ModelParallel, BalancesStagesByParameterCount) {
  dm::manual_seed(1);
  nn::Sequential net;
  net.add(nn::Dense(8, 64)).add(nn::ReLU()).add(nn::Dense(64, 64)).add(nn::ReLU()).add(nn::Dense(64, 4));
  net.add(nn::ReLU()).add(nn::Dense(4, 2));
  std::vector<std::int64_t> costs;
  for (std::size_t l = 0; l < net.size(); ++l) costs.push_back(net[l]->num_parameters());
  Model model(std::make_shared<nn::Sequential>(std::move(net)));
  for (std::size_t n = 1; n <= 4; ++n) {
    // The best largest-stage cost, by trying every way of cutting 7 layers into n runs.
    std::int64_t best = std::numeric_limits<std::int64_t>::max();
    const std::size_t layers = costs.size();
    for (unsigned mask = 0; mask < (1u << (layers - 1)); ++mask) {
      if (static_cast<std::size_t>(__builtin_popcount(mask)) != n - 1) continue;
      std::int64_t largest = 0, run = 0;
      for (std::size_t l = 0; l < layers; ++l) {
        if (l > 0 && (mask >> (l - 1)) & 1u) {
          largest = std::max(largest, run);
          run = 0;
        }
        run += costs[l];
      }
      best = std::min(best, std::max(largest, run));
    }
    ModelParallel mp(model, cpu_devices(static_cast<int>(n)));
    const auto stages = mp.stages();
    ASSERT_EQ(stages.size(), n);
    std::size_t expected_first = 0;
    std::int64_t largest = 0;
    for (const auto& [first, last] : stages) {
      EXPECT_EQ(first, expected_first);
      EXPECT_LT(first, last) << "an empty stage";
      std::int64_t cost = 0;
      for (std::size_t l = first; l < last; ++l) cost += costs[l];
      largest = std::max(largest, cost);
      expected_first = last;
    }
    EXPECT_EQ(expected_first, layers);
    EXPECT_EQ(largest, best) << n << " stages";
  }
}

TEST(ModelParallel, UsesTheSplitPointsGiven) {
  Model model = make_model(2);
  ModelParallel mp(model, cpu_devices(3), {.split_points = {1, 5}});
  const std::vector<std::pair<std::size_t, std::size_t>> expected{{0, 1}, {1, 5}, {5, 7}};
  EXPECT_EQ(mp.stages(), expected);
  // Two stages may share a device.
  ModelParallel shared(model, {Device::cpu(1), Device::cpu(1)}, {.split_points = {3}});
  const auto data = model_test::blobs(8, 6, 3, 4);
  shared.forward(data.x);
  EXPECT_TRUE(std::isfinite(shared.backward(data.y).item<double>()));
}

TEST(ModelParallel, RefusesBadConfigurations) {
  using dm_test::error_of;
  Model model = make_model(1);
  EXPECT_THAT(error_of<dm::ValueError>([&] { ModelParallel(model, {}); }), HasSubstr("device list is empty"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { ModelParallel(model, cpu_devices(8)); }),
              HasSubstr("8 devices but the Sequential has 7 layer(s)"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { ModelParallel(model, cpu_devices(3), {.split_points = {2}}); }),
              HasSubstr("1 split point(s) for 3 device(s)"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { ModelParallel(model, cpu_devices(2), {.split_points = {0}}); }),
              HasSubstr("split point 0 is outside 1..6"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { ModelParallel(model, cpu_devices(2), {.split_points = {7}}); }),
              HasSubstr("split point 7 is outside 1..6"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { ModelParallel(model, cpu_devices(3), {.split_points = {4, 4}}); }),
              HasSubstr("must increase strictly, got 4 then 4"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { ModelParallel(model, cpu_devices(3), {.split_points = {5, 2}}); }),
              HasSubstr("must increase strictly"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { ModelParallel(model, cpu_devices(2), {.micro_batches = 0}); }),
              HasSubstr("micro_batches must be at least 1"));
  Model not_sequential(std::make_shared<nn::Dense>(4, 2));
  EXPECT_THAT(error_of<dm::ValueError>([&] { ModelParallel(not_sequential, cpu_devices(1)); }),
              HasSubstr("must be an nn::Sequential"));
  // Batch norm over micro-batches would normalise each by its own statistics.
  Model batch_norm = nn::Sequential().add(nn::Dense(4, 3)).add(nn::BatchNorm1d(3)).add(nn::Dense(3, 2)).build();
  EXPECT_THAT(error_of<dm::ValueError>([&] { ModelParallel(batch_norm, cpu_devices(2), {.micro_batches = 2}); }),
              HasSubstr("batch statistics"));
  EXPECT_NO_THROW(ModelParallel(batch_norm, cpu_devices(2), {.micro_batches = 1}));
  // A refused configuration leaves the model as it was.
  for (const auto& [name, p] : model.module().named_parameters()) EXPECT_EQ(p.device(), Device::cpu()) << name;
}

TEST(ModelParallel, RefusesBadCallsAndRecovers) {
  using dm_test::error_of;
  Model model = make_model(5);
  ModelParallel mp(model, cpu_devices(3), {.micro_batches = 2});
  const auto data = model_test::blobs(8, 6, 3, 4);
  EXPECT_THAT(error_of<dm::ValueError>([&] { mp.backward(data.y); }), HasSubstr("call forward() first"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { mp.forward(Tensor::ones({})); }), HasSubstr("needs a batch"));
  // A stage that fails (wrong feature count) stops the whole pipeline with the stage's error.
  EXPECT_THROW(mp.forward(Tensor::ones({8, 5})), dm::ShapeError);
  EXPECT_THAT(error_of<dm::ValueError>([&] { mp.backward(data.y); }), HasSubstr("call forward() first"));
  mp.forward(data.x);
  EXPECT_THAT(error_of<dm::ShapeError>([&] { mp.backward(data.y.narrow(0, 0, 5)); }),
              HasSubstr("forward batch's 8 rows"));
  // Labels out of range fail inside the last stage's loss, while the other stages wait for it.
  mp.forward(data.x);
  EXPECT_THROW(mp.backward(Tensor::full({8}, 7.0, dm::DType::i64)), dm::Error);
  // ...and the pipeline still works afterwards.
  for (const auto& [name, p] : mp.parameters()) p.set_grad(Tensor());
  mp.forward(data.x);
  EXPECT_TRUE(std::isfinite(mp.backward(data.y).item<double>()));
  mp.step();
}

}  // namespace

namespace {

// Batch norm's running statistics live with their layer's stage, are updated there, and come
// back to the model's device, trained, when the pipeline ends: as one device would train them.
TEST(ModelParallel, RunningStatisticsTrainOnTheirStagesDeviceAndComeHome) {
  auto build = [] {
    dm::manual_seed(21);
    return Model(std::make_shared<nn::Sequential>(
        nn::Sequential().add(nn::Dense(6, 5)).add(nn::ReLU()).add(nn::Dense(5, 4)).add(nn::BatchNorm1d(4)).add(nn::Dense(4, 3))));
  };
  const auto data = model_test::blobs(8, 6, 3, 4);
  Model alone = build();
  for (int step = 0; step < 3; ++step) alone.train_step(data.x, data.y);

  Model piped = build();
  {
    ModelParallel mp(piped, cpu_devices(2), {.micro_batches = 1, .split_points = {3}});
    for (const auto& [name, b] : piped.module().named_buffers())
      EXPECT_EQ(b.device(), Device::cpu(1)) << name << " should sit on the stage that holds layer 3";
    for (int step = 0; step < 3; ++step) {
      mp.forward(data.x);
      mp.backward(data.y);
      mp.step();
    }
  }
  const nn::NamedTensors want = alone.module().named_buffers(), got = piped.module().named_buffers();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].second.device(), Device::cpu()) << got[i].first;
    expect_close(got[i].second, want[i].second, 1e-6, got[i].first);
  }
}

}  // namespace

namespace {

// Placing a model that has trained keeps its optimizer's state (the default SGD's momentum):
// two steps alone and two through a pipeline equal four steps alone, and the state comes home.
TEST(ModelParallel, OptimizerStateTravelsWithTheParametersAndBack) {
  const auto data = model_test::blobs(8, 6, 3, 4);
  Model alone = make_model(31);
  for (int step = 0; step < 4; ++step) alone.train_step(data.x, data.y);

  Model moved = make_model(31);
  for (int step = 0; step < 2; ++step) moved.train_step(data.x, data.y);
  {
    ModelParallel mp(moved, cpu_devices(2), {.micro_batches = 1});
    mp.forward(data.x);
    mp.backward(data.y);
    mp.step();
  }
  moved.train_step(data.x, data.y);
  const auto want = alone.module().named_parameters(), got = moved.module().named_parameters();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) expect_close(got[i].second, want[i].second, 1e-6, got[i].first);
  const auto want_state = alone.optimizer().state(), got_state = moved.optimizer().state();
  ASSERT_EQ(got_state.size(), want_state.size());
  for (std::size_t i = 0; i < got_state.size(); ++i) {
    EXPECT_EQ(got_state[i].second.device(), Device::cpu()) << got_state[i].first;
    expect_close(got_state[i].second, want_state[i].second, 1e-6, got_state[i].first);
  }
}

}  // namespace
