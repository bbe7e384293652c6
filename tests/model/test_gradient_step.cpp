// The one training step behind every trainer: any split of a batch (DataParallel shards that
// do not divide it, on several threads; pipeline micro-batches) gives the full batch's gradient,
// f32 and f64 parameters are accepted by every trainer, gradients share the model's parameter
// layout, and the non-finite policy applies to Model::train_step and ModelParallel too.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "democratising/model/data_parallel.hpp"
#include "democratising/base/error.hpp"
#include "democratising/model/model.hpp"
#include "democratising/model/model_parallel.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"
#include "model_test_util.hpp"

namespace {

using dm::DType;
using dm::Model;
using dm::Tensor;
namespace nn = dm::nn;

constexpr std::int64_t kDims = 12, kClasses = 5, kBatch = 50;

Model make_model(std::uint64_t seed, DType dtype, dm::ModelOptions options = {}) {
  dm::manual_seed(seed);
  if (!options.optimizer) options.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
  return nn::Sequential()
      .add(nn::Dense(kDims, 32, true, dtype))
      .add(nn::ReLU())
      .add(nn::Dense(32, 16, true, dtype))
      .add(nn::ReLU())
      .add(nn::Dense(16, kClasses, true, dtype))
      .build(options);
}

model_test::Problem problem(DType dtype, std::uint64_t seed = 4) {
  auto data = model_test::blobs(kBatch, kDims, kClasses, seed);
  data.x = data.x.to(dtype);
  return data;
}

// |got - want| <= atol + rtol * |want| for every element.
void expect_close(const std::vector<double>& got, const std::vector<double>& want, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double largest = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    largest = std::max(largest, std::abs(got[i] - want[i]));
    ASSERT_LE(std::abs(got[i] - want[i]), atol + rtol * std::abs(want[i]))
        << what << " element " << i << ": " << got[i] << " vs " << want[i];
  }
  // The margin to the tolerance, in the XML report.
  ::testing::Test::RecordProperty(what + " largest difference", std::to_string(largest));
}

// Tolerances for a gradient that is the same sum of per-sample terms added in another order
// (shards of 17, 17 and 16 rows reduced by weight, against one pass over 50 rows). In f32 each
// reordering of a sum of 50 terms moves it by up to ~50 ulp of the largest partial sum; the
// gradients here are O(0.1), so an absolute 1e-5 (PyTorch's atol) holds with room (measured:
// 1.1e-8). In f64 the same reasoning gives ~1e-14 (measured: 2e-17): the split is then exact up
// to rounding, which also shows that the shard weights are right (a wrong weight is off by percent).
constexpr double kF32Atol = 1e-5, kF32Rtol = 1.3e-6;
constexpr double kF64Atol = 1e-12, kF64Rtol = 1e-10;

TEST(GradientStep, UnequalDataParallelShardsOnThreeThreadsGiveTheFullBatchGradient) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dm::dtype_name(dtype));
    const auto data = problem(dtype);
    Model model = make_model(9, dtype);
    Tensor full_loss;
    const dm::Gradients full = model.compute_gradients(data.x, data.y, &full_loss);
    EXPECT_EQ(full.layout, model.parameter_layout());
    EXPECT_EQ(full.flat.dtype(), dtype);

    const int previous = dm::num_threads();
    dm::set_num_threads(3);
    dm::DataParallel trainer(model, {.shard_size = 17});  // 17 + 17 + 16: one shard per thread
    ASSERT_EQ(trainer.shard_count(kBatch), 3);
    Tensor split_loss;
    const dm::Gradients split = trainer.compute_gradients(data.x, data.y, &split_loss);
    dm::set_num_threads(previous);

    EXPECT_EQ(split.layout, model.parameter_layout());
    const bool f32 = dtype == DType::f32;
    expect_close(split.flat.to_vector<double>(), full.flat.to_vector<double>(), f32 ? kF32Atol : kF64Atol,
                 f32 ? kF32Rtol : kF64Rtol, "gradient");
    EXPECT_NEAR(split_loss.item<double>(), full_loss.item<double>(), f32 ? 1e-6 : 1e-13);
  }
}

TEST(GradientStep, PipelineMicroBatchesGiveTheFullBatchGradientInF64) {
  const auto data = problem(DType::f64);
  Model reference = make_model(11, DType::f64);
  const dm::Gradients full = reference.compute_gradients(data.x, data.y);
  Model model = make_model(11, DType::f64);
  dm::ModelParallel mp(model, {dm::Device::cpu(0), dm::Device::cpu(1)}, {.micro_batches = 3});  // 17, 17, 16
  mp.forward(data.x);
  mp.backward(data.y);
  const auto& placed = mp.parameters();
  ASSERT_EQ(placed.size(), full.tensors.size());
  for (std::size_t i = 0; i < placed.size(); ++i)
    expect_close(placed[i].second.grad().to_vector<double>(), full.tensors[i].second.to_vector<double>(), kF64Atol,
                 kF64Rtol, placed[i].first);
  mp.step();
}

TEST(GradientStep, EveryTrainerTrainsF64Parameters) {
  const auto data = problem(DType::f64, 6);
  auto expect_trained = [](const Model& m, const std::vector<double>& before, const char* who) {
    const std::vector<double> after = m.module().flat_parameters().to_vector<double>();
    EXPECT_EQ(m.module().flat_parameters().dtype(), DType::f64) << who;
    EXPECT_NE(after, before) << who << " did not train";
  };
  {
    Model m = make_model(1, DType::f64);
    const auto before = m.module().flat_parameters().to_vector<double>();
    const Tensor loss = m.train_step(data.x, data.y);
    EXPECT_EQ(loss.dtype(), DType::f64);
    expect_trained(m, before, "Model");
  }
  {
    Model m = make_model(1, DType::f64);
    const auto before = m.module().flat_parameters().to_vector<double>();
    dm::DataParallel trainer(m, {.shard_size = 16});
    EXPECT_TRUE(std::isfinite(trainer.train_step(data.x, data.y).item<double>()));
    expect_trained(m, before, "DataParallel");
  }
  {
    Model m = make_model(1, DType::f64);
    const auto before = m.module().flat_parameters().to_vector<double>();
    {
      dm::ModelParallel mp(m, {dm::Device::cpu(0), dm::Device::cpu(1)});
      mp.forward(data.x);
      mp.backward(data.y);
      mp.step();
    }
    expect_trained(m, before, "ModelParallel");
  }
}

TEST(GradientStep, OneStepOfEachTrainerMovesTheParametersAlike) {
  // Model on the whole batch, DataParallel in unequal shards and ModelParallel in micro-batches
  // take the same step from the same parameters (f64: up to rounding).
  const auto data = problem(DType::f64, 8);
  Model single = make_model(2, DType::f64);
  single.train_step(data.x, data.y);
  const auto want = single.module().flat_parameters().to_vector<double>();

  Model sharded = make_model(2, DType::f64);
  dm::DataParallel(sharded, {.shard_size = 7}).train_step(data.x, data.y);
  expect_close(sharded.module().flat_parameters().to_vector<double>(), want, kF64Atol, kF64Rtol, "DataParallel");

  Model piped = make_model(2, DType::f64);
  {
    dm::ModelParallel mp(piped, {dm::Device::cpu(0), dm::Device::cpu(1)}, {.micro_batches = 4});
    mp.forward(data.x);
    mp.backward(data.y);
    mp.step();
  }
  expect_close(piped.module().flat_parameters().to_vector<double>(), want, kF64Atol, kF64Rtol, "ModelParallel");
}

model_test::Problem poisoned(DType dtype) {
  auto data = problem(dtype, 3);
  std::vector<double> x = data.x.to_vector<double>();
  x[1] = std::numeric_limits<double>::quiet_NaN();
  data.x = Tensor::from_vector(x, {kBatch, kDims}).to(dtype);
  return data;
}

TEST(GradientStep, NonFinitePolicyAppliesToModelAndPipelineSteps) {
  const auto bad = poisoned(DType::f32);
  {
    Model m = make_model(5, DType::f32);
    const auto before = m.module().flat_parameters().to_vector<float>();
    try {
      m.train_step(bad.x, bad.y);
      ADD_FAILURE() << "a NaN step was applied";
    } catch (const dm::NonFiniteStepError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("[train_step] ", 0), 0u) << e.what();
    }
    EXPECT_EQ(m.module().flat_parameters().to_vector<float>(), before);
    EXPECT_EQ(m.optimizer().steps(), 0);
  }
  {
    Model m = make_model(5, DType::f32, {.non_finite = dm::NonFinitePolicy::skip});
    const auto before = m.module().flat_parameters().to_vector<float>();
    m.train_step(bad.x, bad.y);
    EXPECT_EQ(m.skipped_steps(), 1);
    EXPECT_EQ(m.module().flat_parameters().to_vector<float>(), before);
  }
  {
    Model m = make_model(5, DType::f32);
    const auto before = m.module().flat_parameters().to_vector<float>();
    {
      dm::ModelParallel mp(m, {dm::Device::cpu(0), dm::Device::cpu(1)}, {.non_finite = dm::NonFinitePolicy::skip});
      mp.forward(bad.x);
      mp.backward(bad.y);
      mp.step();
      EXPECT_EQ(mp.skipped_steps(), 1);
      for (const auto& [name, p] : mp.parameters()) EXPECT_FALSE(p.grad().defined()) << name;
    }
    {
      dm::ModelParallel mp(m, {dm::Device::cpu(0), dm::Device::cpu(1)});
      mp.forward(bad.x);
      mp.backward(bad.y);
      EXPECT_THROW(mp.step(), dm::NonFiniteStepError);
    }
    EXPECT_EQ(m.module().flat_parameters().to_vector<float>(), before);
  }
}

}  // namespace
