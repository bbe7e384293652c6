// Models written as classes (tests/model/residual_net.hpp) in every trainer of the model layer:
// Model (steps, evaluation, checkpoints, names, modes), DataParallel against Model's own step,
// ModelParallel over a Sequential of class blocks, and gradient clipping in each of them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/model/data_parallel.hpp"
#include "democratising/model/model.hpp"
#include "democratising/model/model_parallel.hpp"
#include "democratising/runtime/pool.hpp"
#include "model_test_util.hpp"
#include "residual_net.hpp"

namespace {

using dm::Model;
using dm::Tensor;
using model_test::residual_net_model;
using model_test::ResidualNet;
using testing::HasSubstr;
namespace nn = dm::nn;

constexpr std::int64_t kDims = 6, kHidden = 16, kClasses = 3, kBatch = 32;

std::vector<float> flat_values(const Model& model) { return model.module().flat_parameters().to_vector<float>(); }

// Bit patterns, so that -0.0 against 0.0 or two NaNs cannot hide a difference.
void expect_bitwise_equal(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what;
}

// f32 rounding of the same sums added in another order (shards, micro-batches): PyTorch's
// tolerances, as the gradients and parameters here are O(1).
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-5 + 1.3e-6 * std::abs(want[i])) << what << " element " << i;
}

model_test::Problem batch_of(const model_test::Problem& p, std::int64_t step) {
  const std::int64_t batches = p.x.size(0) / kBatch;
  const std::int64_t start = (step % batches) * kBatch;
  return {p.x.narrow(0, start, kBatch), p.y.narrow(0, start, kBatch)};
}

TEST(ModuleSubclass, ParametersAreNamedByRegistrationAndChildren) {
  Model model = residual_net_model(1, kDims, kHidden, kClasses);
  std::vector<std::string> names;
  for (const auto& [name, _] : model.module().named_parameters()) names.push_back(name);
  EXPECT_THAT(names, testing::ElementsAre("scale", "stem.weight", "stem.bias", "block.body.0.weight",
                                          "block.body.0.bias", "head.weight", "head.bias"));
  EXPECT_EQ(model.module().num_parameters(), kClasses + kDims * kHidden + kHidden + kHidden * kHidden + kHidden +
                                                 kHidden * kClasses + kClasses);
  // The class's own parameter, read back by index in forward(), is a view of the flat block.
  EXPECT_TRUE(model.module().named_parameters().front().second.shares_storage_with(model.module().flat_parameters()));
}

TEST(ModuleSubclass, ModelTrainsAndEvaluates) {
  Model model = residual_net_model(2, kDims, kHidden, kClasses);
  const model_test::Problem data = model_test::blobs(4 * kBatch, kDims, kClasses, 11);
  const std::vector<model_test::Problem> batches = {data};
  const dm::EvalResult before = model.evaluate(batches);
  const std::vector<float> initial = flat_values(model);
  for (int step = 0; step < 40; ++step) {
    const model_test::Problem b = batch_of(data, step);
    model.train_step(b.x, b.y);
  }
  const dm::EvalResult after = model.evaluate(batches);
  EXPECT_LT(after.loss, 0.5 * before.loss);
  EXPECT_GT(after.accuracy, 0.9);
  EXPECT_EQ(after.samples, 4 * kBatch);
  // Every parameter moved, the class's own one included.
  const std::vector<float> trained = flat_values(model);
  EXPECT_NE(trained.front(), initial.front()) << "scale";
  EXPECT_NE(trained.back(), initial.back()) << "head.bias";
}

TEST(ModuleSubclass, TrainAndEvalReachEveryChild) {
  Model model = residual_net_model(3, kDims, kHidden, kClasses, 0.0, 0.5);
  const auto& net = dynamic_cast<const ResidualNet&>(model.module());
  EXPECT_TRUE(net.dropout().is_training());
  model.module().eval();
  EXPECT_FALSE(net.dropout().is_training());
  const Tensor x = dm::Tensor::randn({4, kDims});
  EXPECT_EQ(model.module().forward(x).to_vector<float>(), model.predict(x).to_vector<float>())
      << "evaluation mode drops nothing";
  model.module().train();
  EXPECT_TRUE(net.dropout().is_training());
  EXPECT_NE(model.module().forward(x).to_vector<float>(), model.predict(x).to_vector<float>())
      << "training mode drops units";
}

TEST(ModuleSubclass, CheckpointsRoundTrip) {
  model_test::TempDir dir;
  const std::string path = dir.file("net.safetensors");
  const model_test::Problem data = model_test::blobs(2 * kBatch, kDims, kClasses, 12);
  Model trained = residual_net_model(4, kDims, kHidden, kClasses);
  for (int step = 0; step < 3; ++step) trained.train_step(batch_of(data, step).x, batch_of(data, step).y);
  trained.save_checkpoint(path);

  Model restored = residual_net_model(5, kDims, kHidden, kClasses);  // other values, same names and shapes
  restored.load_checkpoint(path);
  expect_bitwise_equal(flat_values(restored), flat_values(trained), "parameters");
  // The momentum came back too: the next step is the same.
  trained.train_step(batch_of(data, 3).x, batch_of(data, 3).y);
  restored.train_step(batch_of(data, 3).x, batch_of(data, 3).y);
  expect_bitwise_equal(flat_values(restored), flat_values(trained), "after one more step");
}

// With shards as large as the batch, DataParallel runs Model's own step on the pool: the same
// bits for 1 and 2 threads. Smaller shards add the same gradient in another order.
TEST(ModuleSubclass, DataParallelMatchesModelsStep) {
  const model_test::Problem data = model_test::blobs(3 * kBatch, kDims, kClasses, 13);
  for (double clip : {0.0, 0.05}) {
    Model reference = residual_net_model(6, kDims, kHidden, kClasses, clip);
    for (int step = 0; step < 3; ++step) reference.train_step(batch_of(data, step).x, batch_of(data, step).y);
    for (std::int64_t shard : {kBatch, kBatch / 4}) {
      std::vector<std::vector<float>> by_threads;
      for (int threads : {1, 2}) {
        const int previous = dm::num_threads();
        dm::set_num_threads(threads);
        Model model = residual_net_model(6, kDims, kHidden, kClasses, clip);
        dm::DataParallel trainer(model, {.shard_size = shard});
        for (int step = 0; step < 3; ++step) trainer.train_step(batch_of(data, step).x, batch_of(data, step).y);
        by_threads.push_back(flat_values(model));
        dm::set_num_threads(previous);
      }
      const std::string what = "clip " + std::to_string(clip) + ", shards of " + std::to_string(shard);
      expect_bitwise_equal(by_threads[0], by_threads[1], what + ": 1 and 2 threads");
      if (shard == kBatch)
        expect_bitwise_equal(by_threads[0], flat_values(reference), what + ": against Model::train_step");
      else
        expect_close(by_threads[0], flat_values(reference), what + ": against Model::train_step");
    }
  }
}

// The option clips what the optimizer steps with: the same as clipping by hand, by a plain loop
// (torch.nn.utils.clip_grad_norm_'s rule), and applying to an unclipped model.
TEST(ModuleSubclass, ClipGradNormOptionMatchesClippingByHand) {
  const model_test::Problem data = model_test::blobs(kBatch, kDims, kClasses, 14);
  const double max_norm = 0.05;
  Model clipped = residual_net_model(7, kDims, kHidden, kClasses, max_norm);
  Model by_hand = residual_net_model(7, kDims, kHidden, kClasses);
  EXPECT_EQ(clipped.clip_grad_norm(), max_norm);
  EXPECT_EQ(by_hand.clip_grad_norm(), 0.0);
  clipped.train_step(data.x, data.y);

  const dm::Gradients grads = by_hand.compute_gradients(data.x, data.y);
  std::vector<float> g = grads.flat.to_vector<float>();
  double sum = 0.0;
  for (float v : g) sum += static_cast<double>(v) * static_cast<double>(v);
  const double norm = std::sqrt(sum);
  ASSERT_GT(norm, 4 * max_norm) << "the test must clip";
  const double factor = max_norm / (norm + 1e-6);
  for (float& v : g) v = static_cast<float>(static_cast<double>(v) * factor);
  dm::Gradients manual = grads;
  manual.flat.copy_(Tensor::from_vector(g));
  by_hand.apply_gradients(manual);
  expect_close(flat_values(clipped), flat_values(by_hand), "clipped step");
}

TEST(ModuleSubclass, ClipGradNormOptionIsChecked) {
  for (double bad : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    dm::ModelOptions options = model_test::sgd_options(bad);
    EXPECT_THROW(Model(std::make_shared<ResidualNet>(kDims, kHidden, kClasses), options), dm::ValueError) << bad;
  }
}

// A Sequential of class blocks, pipelined over two logical CPU devices, against one Model.
dm::nn::Sequential blocks(std::uint64_t seed) {
  dm::manual_seed(seed);
  return nn::Sequential()
      .add(nn::Dense(kDims, kHidden))
      .add(model_test::TanhBlock(kHidden))
      .add(nn::Residual(nn::Sequential().add(nn::Dense(kHidden, kHidden)).add(nn::ReLU())))
      .add(nn::Dense(kHidden, kClasses));
}

TEST(ModuleSubclass, ModelParallelRunsASequentialOfClassBlocks) {
  const model_test::Problem data = model_test::blobs(3 * kBatch, kDims, kClasses, 15);
  for (double clip : {0.0, 0.05}) {
    Model reference(std::make_shared<nn::Sequential>(blocks(8)), model_test::sgd_options(clip));
    for (int step = 0; step < 3; ++step) reference.train_step(batch_of(data, step).x, batch_of(data, step).y);

    Model model(std::make_shared<nn::Sequential>(blocks(8)), model_test::sgd_options(clip));
    {
      dm::ModelParallel mp(model, {dm::Device::cpu(0), dm::Device::cpu(1)}, {.micro_batches = 4, .split_points = {2}});
      for (int step = 0; step < 3; ++step) {
        mp.forward(batch_of(data, step).x);
        mp.backward(batch_of(data, step).y);
        mp.step();
      }
    }  // gives the trained values back to the model
    expect_close(flat_values(model), flat_values(reference), "clip " + std::to_string(clip));
  }
}

TEST(ModuleSubclass, ModelParallelRefusesWhatItCannotCut) {
  Model net = residual_net_model(9, kDims, kHidden, kClasses);
  try {
    dm::ModelParallel mp(net, {dm::Device::cpu(0), dm::Device::cpu(1)});
    ADD_FAILURE() << "a module that is not a Sequential was split";
  } catch (const dm::ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr("must be an nn::Sequential, got ResidualNet"));
  }

  // A Sequential subclass with a parameter of its own, outside its layers.
  class ScaledSequential : public nn::Sequential {
   public:
    ScaledSequential() {
      add(nn::Dense(kDims, kHidden)).add(nn::ReLU()).add(nn::Dense(kHidden, kClasses));
      register_parameter("temperature", Tensor::ones({1}));
    }
    Tensor forward(const Tensor& x) const override { return nn::Sequential::forward(x) * parameter(0); }
  };
  Model scaled(std::make_shared<ScaledSequential>(), model_test::sgd_options());
  try {
    dm::ModelParallel mp(scaled, {dm::Device::cpu(0), dm::Device::cpu(1)});
    ADD_FAILURE() << "a parameter outside the layers was placed";
  } catch (const dm::ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr("parameter 'temperature' is not inside one of the Sequential's 3 layers"));
  }
}

}  // namespace
