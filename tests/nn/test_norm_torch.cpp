// batch_norm, group_norm and the BatchNorm layers against PyTorch: every case of
// tests/fixtures/norm/norm.json (written by tests/fixtures/make_norm_fixtures.py): outputs, the
// gradient of every input, the running statistics a training call leaves, and the layers'
// buffers after two training calls and their output in evaluation mode; in f64 and in f32.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "democratising/nn/normalization.hpp"
#include "torch_cases.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

// The fixture's list `list` ("cases" or "layers").
const json& entries(const char* list) { return fixture("norm/norm.json").at(list); }

void check_case(const std::string& name, DType dtype, double rtol, double atol) {
  const json& c = entry_named(entries("cases"), name);
  const json& a = c.at("args");
  const json& in = c.at("inputs");
  std::vector<std::string> input_names;
  std::vector<Tensor> inputs;
  for (const char* key : {"x", "weight", "bias"}) {
    if (!in.contains(key)) continue;
    input_names.push_back(key);
    inputs.push_back(tensor_of(in.at(key), dtype));
    inputs.back().set_requires_grad();
  }
  const Tensor weight = in.contains("weight") ? inputs[1] : Tensor();
  const Tensor bias = in.contains("bias") ? inputs[2] : Tensor();
  Tensor running_mean, running_var, y;
  if (c.at("op") == "batch_norm") {
    running_mean = tensor_of(c.at("state").at("running_mean"), dtype);
    running_var = tensor_of(c.at("state").at("running_var"), dtype);
    y = nn::batch_norm(inputs[0], running_mean, running_var, weight, bias, a.at("training").get<bool>(),
                       a.at("momentum").get<double>(), a.at("eps").get<double>());
  } else {
    y = nn::group_norm(inputs[0], a.at("groups").get<std::int64_t>(), weight, bias, a.at("eps").get<double>());
  }
  const json& out = c.at("outputs");
  ASSERT_EQ(y.shape(), shape_of(out.at("y")));
  EXPECT_EQ(y.dtype(), dtype);
  expect_close(y, data_of(out.at("y")), rtol, atol, name + " y");
  y.backward(tensor_of(c.at("grad_output"), dtype));
  for (std::size_t i = 0; i < inputs.size(); ++i)
    expect_close(inputs[i].grad(), data_of(out.at("d" + input_names[i])), rtol, atol, name + " d" + input_names[i]);
  if (out.contains("running_mean")) {
    expect_close(running_mean, data_of(out.at("running_mean")), rtol, atol, name + " running_mean");
    expect_close(running_var, data_of(out.at("running_var")), rtol, atol, name + " running_var");
  }
}

std::shared_ptr<nn::BatchNorm> make_layer(const json& l, DType dtype) {
  const std::int64_t c = l.at("num_features").get<std::int64_t>();
  if (l.at("layer") == "BatchNorm1d") return std::make_shared<nn::BatchNorm1d>(c, 1e-5, 0.1, dtype);
  return std::make_shared<nn::BatchNorm2d>(c, 1e-5, 0.1, dtype);
}

void check_layer(const std::string& name, DType dtype, double rtol, double atol) {
  const json& l = entry_named(entries("layers"), name);
  const std::shared_ptr<nn::BatchNorm> layer = make_layer(l, dtype);
  layer->load_parameter("weight", tensor_of(l.at("weight"), dtype));
  layer->load_parameter("bias", tensor_of(l.at("bias"), dtype));
  layer->train();
  for (const json& x : l.at("train_inputs")) layer->forward(tensor_of(x, dtype)).sum().backward();
  layer->eval();
  const Tensor y = layer->forward(tensor_of(l.at("eval_input"), dtype));
  const nn::NamedTensors buffers = layer->named_buffers();
  ASSERT_EQ(buffers.size(), 3u);
  EXPECT_EQ(buffers[0].first, "running_mean");
  EXPECT_EQ(buffers[1].first, "running_var");
  EXPECT_EQ(buffers[2].first, "num_batches_tracked");
  expect_close(buffers[0].second, data_of(l.at("running_mean")), rtol, atol, name + " running_mean");
  expect_close(buffers[1].second, data_of(l.at("running_var")), rtol, atol, name + " running_var");
  EXPECT_EQ(buffers[2].second.item<std::int64_t>(), l.at("num_batches_tracked").get<std::int64_t>());
  expect_close(y, data_of(l.at("eval_output")), rtol, atol, name + " eval output");
}

class TorchNorm : public ::testing::TestWithParam<std::string> {};
class TorchNormLayer : public ::testing::TestWithParam<std::string> {};

// torch computed in f64 from the same inputs; only the summation order differs.
TEST_P(TorchNorm, F64MatchesTorch) { check_case(GetParam(), DType::f64, kRtol64, kAtol64); }
// f32 from the same inputs against torch's exact answer: PyTorch's own f32 tolerances (the
// kernels compute in f64 and round once).
TEST_P(TorchNorm, F32MatchesTorch) { check_case(GetParam(), DType::f32, kRtol32, kAtol32); }

TEST_P(TorchNormLayer, F64MatchesTorch) { check_layer(GetParam(), DType::f64, kRtol64, kAtol64); }
TEST_P(TorchNormLayer, F32MatchesTorch) { check_layer(GetParam(), DType::f32, kRtol32, kAtol32); }

INSTANTIATE_TEST_SUITE_P(Cases, TorchNorm, ::testing::ValuesIn(names_of(entries("cases"))),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Layers, TorchNormLayer, ::testing::ValuesIn(names_of(entries("layers"))),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
