// Runs that diverge: a NaN or infinite loss or gradient stops DataParallel's step (or skips it,
// by option) before it reaches the parameters, and checkpoints refuse to save or load NaN or
// infinity unless asked to. Also the batch arithmetic of huge shard sizes, and evaluate's
// refusal to count accuracy on outputs that are not (batch, classes).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/data/dataloader.hpp"
#include "democratising/data/dataset.hpp"
#include "democratising/model/data_parallel.hpp"
#include "democratising/base/error.hpp"
#include "democratising/io/safetensors.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"
#include "model_test_util.hpp"

namespace {

using dm::Model;
using dm::Tensor;
namespace nn = dm::nn;
using model_test::blobs;
using model_test::TempDir;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Model net(std::uint64_t seed) {
  dm::manual_seed(seed);
  return nn::Sequential().add(nn::Dense(4, 6)).add(nn::ReLU()).add(nn::Dense(6, 3)).build();
}

std::vector<float> flat_values(const Model& m) { return m.module().flat_parameters().to_vector<float>(); }

// True when every value is bitwise what it was (NaN compares unequal to itself, bytes do not).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool any_non_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return true;
  return false;
}

// A batch whose first sample holds `bad` in one input: its loss and gradients are not finite.
model_test::Problem poisoned_batch(double bad) {
  auto data = blobs(8, 4, 3, 1);
  std::vector<float> x = data.x.to_vector<float>();
  x[1] = static_cast<float>(bad);
  data.x = Tensor::from_vector(x, {8, 4});
  return data;
}

TEST(NonFiniteStep, RaisesAndLeavesTheParametersAsTheyWere) {
  for (const double bad : {kNaN, kInf}) {
    SCOPED_TRACE(bad);
    Model m = net(1);
    dm::DataParallel trainer(m, {.shard_size = 4});
    const auto good = blobs(8, 4, 3, 2);
    trainer.train_step(good.x, good.y);  // momentum state exists: it must not change either
    const std::vector<float> before = flat_values(m);
    const auto steps_before = m.optimizer().steps();
    const auto data = poisoned_batch(bad);
    try {
      trainer.train_step(data.x, data.y);
      ADD_FAILURE() << "a non-finite step went through";
    } catch (const dm::NonFiniteStepError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("[DataParallel] ", 0), 0u) << e.what();
      EXPECT_NE(std::string(e.what()).find("not applied"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(same_bits(flat_values(m), before));
    EXPECT_EQ(m.optimizer().steps(), steps_before);
    EXPECT_EQ(trainer.skipped_steps(), 0);
  }
}

TEST(NonFiniteStep, SkipPolicyCountsTheStepAndTrainingGoesOn) {
  Model m = net(2);
  dm::DataParallel trainer(m, {.shard_size = 4, .non_finite = dm::NonFinitePolicy::skip});
  const std::vector<float> before = flat_values(m);
  const auto bad = poisoned_batch(kNaN);
  trainer.train_step(bad.x, bad.y);
  EXPECT_EQ(trainer.skipped_steps(), 1);
  EXPECT_TRUE(same_bits(flat_values(m), before));

  // The next good batch trains exactly as if the bad one had never come: compare with a twin.
  Model twin = net(2);
  dm::DataParallel twin_trainer(twin, {.shard_size = 4});
  const auto good = blobs(8, 4, 3, 3);
  trainer.train_step(good.x, good.y);
  twin_trainer.train_step(good.x, good.y);
  EXPECT_TRUE(same_bits(flat_values(m), flat_values(twin)));
  EXPECT_FALSE(any_non_finite(flat_values(m)));
  EXPECT_EQ(trainer.skipped_steps(), 1);
}

TEST(NonFiniteStep, HugeShardSizeMakesOneShard) {
  Model m = net(3);
  Model reference = net(3);
  const std::int64_t huge = std::numeric_limits<std::int64_t>::max();
  dm::DataParallel trainer(m, {.shard_size = huge});
  EXPECT_EQ(trainer.shard_count(8), 1);
  EXPECT_EQ(trainer.shard_count(huge), 1);
  EXPECT_EQ(dm::DataParallel(m, {.shard_size = 3}).shard_count(huge), huge / 3 + 1);
  // One shard is the plain full-batch step.
  const auto data = blobs(8, 4, 3, 4);
  trainer.train_step(data.x, data.y);
  reference.train_step(data.x, data.y);
  EXPECT_TRUE(same_bits(flat_values(m), flat_values(reference)));
}

// Sets the first value of m's first parameter to `value`; returns that tensor's checkpoint name.
std::string poison(Model& m, double value) {
  dm::NoGradGuard no_grad;
  const auto first = m.module().named_parameters().front();
  first.second.detach().view({-1}).narrow(0, 0, 1).fill_(value);
  return "param." + first.first;
}

TEST(NonFiniteCheckpoint, SavingRefusesToReplaceAFileWithNaN) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  Model m = net(4);
  m.save_checkpoint(path, {{"epoch", "1"}});
  const auto good = dm::io::load_safetensors(path);

  const std::string name = poison(m, kNaN);
  try {
    m.save_checkpoint(path, {{"epoch", "2"}});
    ADD_FAILURE() << "a NaN checkpoint was written";
  } catch (const dm::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor '" + name + "'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  // The file is the finite one it was.
  EXPECT_EQ(dm::io::load_safetensors_metadata(path).at("epoch"), "1");
  const auto still = dm::io::load_safetensors(path);
  EXPECT_EQ(still.at(name).to_vector<float>(), good.at(name).to_vector<float>());

  // Asked for, it is written.
  m.save_checkpoint(path, {{"epoch", "2"}}, {.allow_non_finite = true});
  EXPECT_TRUE(std::isnan(dm::io::load_safetensors(path).at(name).view({-1}).narrow(0, 0, 1).item<float>()));
}

TEST(NonFiniteCheckpoint, LoadingRefusesNaNOrInfinityUnlessAsked) {
  TempDir dir;
  for (const double bad : {kNaN, -kInf}) {
    SCOPED_TRACE(bad);
    const std::string path = dir.file("diverged.safetensors");
    Model diverged = net(5);
    const std::string name = poison(diverged, bad);
    diverged.save_checkpoint(path, {}, {.allow_non_finite = true});

    Model m = net(6);
    const std::vector<float> before = flat_values(m);
    try {
      m.load_checkpoint(path);
      ADD_FAILURE() << "a non-finite checkpoint loaded";
    } catch (const dm::ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("[load_checkpoint] " + path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("tensor '" + name + "'"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(same_bits(flat_values(m), before));

    m.load_checkpoint(path, {.allow_non_finite = true});
    EXPECT_TRUE(same_bits(flat_values(m), flat_values(diverged)));
  }
}

TEST(ModelEvaluate, OutputsThatAreNotBatchByClassesAreAShapeError) {
  // A regression model: outputs (n, 3) against float targets (n, 3) have no accuracy.
  dm::manual_seed(7);
  Model m = nn::Sequential().add(nn::Dense(4, 3)).build({.loss = nn::mse_loss});
  const auto data = blobs(10, 4, 3, 8);
  const Tensor targets = Tensor::zeros({10, 3});
  const dm::data::DataLoader loader(dm::data::TensorDataset(data.x, targets), {.batch_size = 5});
  try {
    (void)m.evaluate(loader);
    ADD_FAILURE() << "evaluate counted accuracy on (batch, 3) targets";
  } catch (const dm::ShapeError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("[evaluate] ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("(5, 3)"), std::string::npos) << e.what();
  }

  // Float labels of the right shape are not class indices.
  Model classifier = net(9);
  const dm::data::DataLoader float_labels(dm::data::TensorDataset(data.x, data.y.to(dm::DType::f32)), {.batch_size = 5});
  EXPECT_THROW((void)classifier.evaluate(float_labels), dm::Error);
  // The ordinary case still counts.
  const dm::data::DataLoader labelled(dm::data::TensorDataset(data.x, data.y), {.batch_size = 5});
  EXPECT_EQ(classifier.evaluate(labelled).samples, 10);
}

}  // namespace
