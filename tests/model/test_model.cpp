// dm::Model: training lowers the loss, the split API equals train_step, gradients live in one
// flat buffer, evaluation and prediction run in eval mode without grad.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "democratising/autograd/autograd.hpp"
#include "democratising/data/dataloader.hpp"
#include "democratising/base/error.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"
#include "model_test_util.hpp"

namespace {

using dm::DType;
using dm::Model;
using dm::Shape;
using dm::Tensor;
namespace nn = dm::nn;
using model_test::blobs;

// Dense + LayerNorm + Dense: every op is one of nn's fused ones.
Model small_model(std::uint64_t seed, dm::ModelOptions options = {}) {
  dm::manual_seed(seed);
  return nn::Sequential().add(nn::Dense(4, 8)).add(nn::LayerNorm({8})).add(nn::Dense(8, 3)).build(options);
}

std::vector<std::uint32_t> bits_of(const Tensor& t) {
  const auto values = t.to_vector<float>();
  std::vector<std::uint32_t> out(values.size());
  std::memcpy(out.data(), values.data(), values.size() * sizeof(float));
  return out;
}

TEST(Model, DefaultsAreCrossEntropyAndSgdWithMomentum) {
  Model model = small_model(1);
  const auto* sgd = dynamic_cast<const dm::optim::SGD*>(&model.optimizer());
  ASSERT_NE(sgd, nullptr);
  EXPECT_DOUBLE_EQ(sgd->options().lr, 0.05);
  EXPECT_DOUBLE_EQ(sgd->options().momentum, 0.9);
  const Tensor logits = Tensor::from_vector(std::vector<float>{1.f, 2.f, 0.5f}, {1, 3});
  const Tensor label = Tensor::from_vector(std::vector<std::int64_t>{2});
  EXPECT_EQ(model.loss_fn()(logits, label).item<float>(), nn::cross_entropy(logits, label).item<float>());
  // The module's parameters live in one buffer.
  const Tensor& flat = model.module().flat_parameters();
  ASSERT_TRUE(flat.defined());
  EXPECT_EQ(flat.numel(), model.module().num_parameters());
}

TEST(Model, TrainStepLowersTheLoss) {
  Model model = small_model(2);
  const auto data = blobs(96, 4, 3, 7);
  const double first = model.train_step(data.x, data.y).item<double>();
  double last = first;
  for (int step = 0; step < 60; ++step) last = model.train_step(data.x, data.y).item<double>();
  EXPECT_LT(last, 0.2 * first) << "first " << first << ", last " << last;
  const Tensor predicted = model.predict(data.x).argmax(1);
  EXPECT_EQ(predicted.to_vector<std::int64_t>(), data.y.to_vector<std::int64_t>());
}

TEST(Model, ComputeThenApplyEqualsTrainStep) {
  Model a = small_model(3), b = small_model(3);
  ASSERT_EQ(bits_of(a.module().flat_parameters()), bits_of(b.module().flat_parameters()));
  const auto data = blobs(24, 4, 3, 8);
  for (int step = 0; step < 4; ++step) {
    const Tensor loss_a = a.train_step(data.x, data.y);
    Tensor loss_b;
    const dm::Gradients grads = b.compute_gradients(data.x, data.y, &loss_b);
    b.apply_gradients(grads);
    EXPECT_EQ(loss_a.item<float>(), loss_b.item<float>());
  }
  EXPECT_EQ(bits_of(a.module().flat_parameters()), bits_of(b.module().flat_parameters()));
}

TEST(Model, GradientsAreViewsOfOneFlatBuffer) {
  Model model = small_model(4);
  const auto data = blobs(12, 4, 3, 9);
  const std::vector<float> before = model.module().flat_parameters().to_vector<float>();
  Tensor loss;
  const dm::Gradients grads = model.compute_gradients(data.x, data.y, &loss);
  EXPECT_EQ(model.module().flat_parameters().to_vector<float>(), before) << "computing gradients changed parameters";
  EXPECT_FALSE(loss.requires_grad());
  EXPECT_EQ(grads.flat.numel(), model.module().num_parameters());
  EXPECT_TRUE(grads.flat.is_contiguous());
  const auto params = model.module().named_parameters();
  ASSERT_EQ(grads.tensors.size(), params.size());
  std::int64_t offset = grads.flat.storage_offset();
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(grads.tensors[i].first, params[i].first);
    EXPECT_EQ(grads.tensors[i].second.shape(), params[i].second.shape());
    EXPECT_TRUE(grads.tensors[i].second.shares_storage_with(grads.flat));
    EXPECT_EQ(grads.tensors[i].second.storage_offset(), offset);
    offset += params[i].second.numel();
  }
  EXPECT_EQ(&grads["2.weight"], &grads.tensors[4].second);  // 0.*, 1.* (LayerNorm), then 2.*
  EXPECT_THROW(grads["9.weight"], dm::ValueError);
  // The flat gradient matches a plain backward() into each parameter's grad().
  nn::Module& net = model.module();
  model.loss_fn()(net(data.x), data.y).backward();
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(grads.tensors[i].second.to_vector<float>(), params[i].second.grad().to_vector<float>()) << params[i].first;
    params[i].second.set_grad(Tensor());
  }
}

TEST(Model, ComputeGradientsRecordsEvenUnderNoGrad) {
  Model model = small_model(5);
  const auto data = blobs(6, 4, 3, 10);
  dm::NoGradGuard no_grad;
  const dm::Gradients grads = model.compute_gradients(data.x, data.y);
  double norm = 0;
  for (double g : grads.flat.to_vector<double>()) norm += g * g;
  EXPECT_GT(norm, 0.0);
  EXPECT_FALSE(dm::is_grad_enabled());
}

TEST(Model, ApplyGradientsChecksNamesAndShapes) {
  Model model = small_model(6);
  const auto data = blobs(6, 4, 3, 11);
  dm::Gradients grads = model.compute_gradients(data.x, data.y);
  dm::Gradients fewer = grads;
  fewer.tensors.pop_back();
  EXPECT_THROW(model.apply_gradients(fewer), dm::ValueError);
  dm::Gradients renamed = grads;
  renamed.tensors[0].first = "nope";
  EXPECT_THROW(model.apply_gradients(renamed), dm::ValueError);
  dm::Gradients reshaped = grads;
  reshaped.tensors[0].second = Tensor::zeros({2, 2});
  EXPECT_THROW(model.apply_gradients(reshaped), dm::ShapeError);
  // Out-of-order names are matched by name.
  dm::Gradients shuffled = grads;
  std::swap(shuffled.tensors[0], shuffled.tensors[1]);
  EXPECT_NO_THROW(model.apply_gradients(shuffled));
}

TEST(Model, PredictAndEvaluateRunInEvalModeWithoutGrad) {
  dm::manual_seed(12);
  Model model = nn::Sequential().add(nn::Dense(4, 16)).add(nn::Dropout(0.5)).add(nn::Dense(16, 3)).build();
  const auto data = blobs(30, 4, 3, 12);
  const Tensor p1 = model.predict(data.x), p2 = model.predict(data.x);
  EXPECT_FALSE(p1.requires_grad());
  EXPECT_EQ(p1.to_vector<float>(), p2.to_vector<float>()) << "dropout was active in predict";
  EXPECT_TRUE(model.module().is_training());

  const dm::data::DataLoader loader(dm::data::TensorDataset(data.x, data.y), {.batch_size = 8});
  const dm::EvalResult result = model.evaluate(loader);
  EXPECT_EQ(result.samples, 30);
  EXPECT_TRUE(model.module().is_training());
  // Independent reference: whole-set loss and accuracy from the eval-mode output.
  const Tensor logits = model.predict(data.x);
  EXPECT_NEAR(result.loss, nn::cross_entropy(logits, data.y).item<double>(), 1e-5);
  const auto predicted = logits.argmax(1).to_vector<std::int64_t>();
  const auto labels = data.y.to_vector<std::int64_t>();
  int correct = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i];
  EXPECT_DOUBLE_EQ(result.accuracy, correct / 30.0);
}

TEST(Model, CustomLossAndOptimizer) {
  dm::manual_seed(13);
  auto sgd = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.1});
  Model model = nn::Sequential().add(nn::Dense(3, 1)).build({.loss = dm::nn::mse_loss, .optimizer = sgd});
  EXPECT_EQ(&model.optimizer(), sgd.get());
  // Fit y = x . (1, -2, 0.5) + 0.25.
  const auto x = Tensor::from_vector(std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, -1, 2, 0.5f, 0.3f, -0.7f, 2},
                                     {6, 3});
  std::vector<float> yv;
  const auto xv = x.to_vector<float>();
  for (int i = 0; i < 6; ++i) yv.push_back(xv[i * 3] - 2 * xv[i * 3 + 1] + 0.5f * xv[i * 3 + 2] + 0.25f);
  const Tensor y = Tensor::from_vector(yv, {6, 1});
  const double first = model.train_step(x, y).item<double>();
  double last = first;
  for (int i = 0; i < 300; ++i) last = model.train_step(x, y).item<double>();
  EXPECT_LT(last, 1e-4 * first);
  model.set_optimizer(dm::optim::make_optimizer("adam", 0.01));
  EXPECT_EQ(model.optimizer().name(), "adam");
  EXPECT_THROW(model.set_optimizer(nullptr), dm::ValueError);
  EXPECT_THROW(Model(nullptr), dm::ValueError);
}

}  // namespace
