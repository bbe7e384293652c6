// The network of `dm train --model cnn` (dm::cli::fashion_cnn, at sizes 2-4-6 with dropout 0)
// against PyTorch on the same weights and batch, from tests/fixtures/cnn/cnn.json (written by
// tests/fixtures/make_cnn_fixture.py, which documents the format): logits, cross-entropy loss,
// the gradient of every parameter and of the input, the batch norms' running statistics after
// the training forward, and two SGD steps with momentum and weight decay.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "democratising/model/model.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/optim/optimizer.hpp"
#include "model_families.hpp"
#include "nn/torch_cases.hpp"

namespace {

using namespace nn_test;

const json& cnn_fixture() { return fixture("cnn/cnn.json"); }

dm::cli::CnnSizes fixture_sizes() {
  const auto sizes = cnn_fixture().at("sizes").get<std::vector<std::int64_t>>();
  return {.conv1 = sizes.at(0), .conv2 = sizes.at(1), .hidden = sizes.at(2), .dropout = 0.0};
}

// The batch: x = (pixels - 128) / 64, exact in f32.
Tensor fixture_input() {
  std::vector<float> x;
  for (const json& p : cnn_fixture().at("x_pixels")) x.push_back((static_cast<float>(p.get<int>()) - 128.0f) / 64.0f);
  const auto batch = cnn_fixture().at("batch").get<std::int64_t>();
  return Tensor::from_vector(x, {batch, static_cast<std::int64_t>(x.size()) / batch});
}

Tensor fixture_labels() { return Tensor::from_vector(cnn_fixture().at("labels").get<std::vector<std::int64_t>>()); }

// Every parameter of `net` takes torch's value; torch must name exactly the same parameters.
void load_torch_parameters(dm::nn::Module& net) {
  const json& want = cnn_fixture().at("parameters");
  const dm::nn::NamedTensors named = net.named_parameters();
  ASSERT_EQ(named.size(), want.size()) << "parameters named like torch's";
  for (const auto& [name, p] : named) {
    ASSERT_TRUE(want.contains(name)) << "torch has no parameter " << name;
    net.load_parameter(name, tensor_of(want.at(name), DType::f32));
  }
}

TEST(CnnAgainstTorch, ForwardLossGradientsAndRunningStatistics) {
  dm::nn::Sequential net = dm::cli::fashion_cnn(fixture_sizes());
  ASSERT_NO_FATAL_FAILURE(load_torch_parameters(net));
  ASSERT_TRUE(net.is_training());
  Tensor x = fixture_input();
  x.set_requires_grad();
  const Tensor logits = net(x);
  const Tensor loss = dm::nn::cross_entropy(logits, fixture_labels());
  loss.backward();

  const json& want = cnn_fixture().at("forward");
  expect_tensor(logits, want.at("logits"), kRtol32, kAtol32, "logits");
  expect_close(loss.reshape({1}), {want.at("loss").get<double>()}, kRtol32, kAtol32, "loss");
  expect_tensor(x.grad(), want.at("input_grad"), kRtol32, kAtol32, "input gradient");
  const json& grads = want.at("grads");
  const dm::nn::NamedTensors params = net.named_parameters();
  ASSERT_EQ(params.size(), grads.size());
  for (const auto& [name, p] : params) expect_tensor(p.grad(), grads.at(name), kRtol32, kAtol32, "d" + name);

  const json& buffers = want.at("buffers");
  const dm::nn::NamedTensors ours = net.named_buffers();
  ASSERT_EQ(ours.size(), buffers.size()) << "buffers named like torch's";
  for (const auto& [name, b] : ours) {
    ASSERT_TRUE(buffers.contains(name)) << "torch has no buffer " << name;
    if (b.dtype() == DType::i64)
      EXPECT_EQ(b.to_vector<std::int64_t>(), buffers.at(name).at("data").get<std::vector<std::int64_t>>()) << name;
    else
      expect_tensor(b, buffers.at(name), kRtol32, kAtol32, name);
  }
}

TEST(CnnAgainstTorch, SgdStepsWithMomentumAndWeightDecay) {
  const json& sgd = cnn_fixture().at("sgd");
  const json& options = sgd.at("options");
  auto optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{
      .lr = options.at("lr").get<double>(),
      .momentum = options.at("momentum").get<double>(),
      .weight_decay = options.at("weight_decay").get<double>()});
  dm::Model model = dm::cli::fashion_cnn(fixture_sizes()).build({.optimizer = optimizer});
  ASSERT_NO_FATAL_FAILURE(load_torch_parameters(model.module()));
  const Tensor x = fixture_input(), y = fixture_labels();
  const json& steps = sgd.at("steps");
  ASSERT_GE(steps.size(), 2u) << "momentum first matters at the second step";
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string step = "step " + std::to_string(i + 1) + " ";
    const Tensor loss = model.train_step(x, y);
    expect_close(loss.reshape({1}), {steps[i].at("loss").get<double>()}, kRtol32, kAtol32, step + "loss");
    const json& want = steps[i].at("parameters");
    for (const auto& [name, p] : model.module().named_parameters())
      expect_tensor(p, want.at(name), kRtol32, kAtol32, step + name);
  }
}

}  // namespace
