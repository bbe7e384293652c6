// conv2d, max_pool2d, avg_pool2d and adaptive_avg_pool2d against PyTorch: every case of
// tests/fixtures/conv/conv_pool.json (written by tests/fixtures/make_conv_fixtures.py), output and
// the gradient of every input, in f64 and in f32.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "democratising/nn/conv.hpp"
#include "torch_cases.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

const json& cases() { return fixture("conv/conv_pool.json").at("cases"); }

nn::Size2 pair_of(const json& args, const char* key) {
  const auto v = args.at(key).get<std::vector<std::int64_t>>();
  return {v.at(0), v.at(1)};
}

Tensor run_op(const json& c, const std::vector<Tensor>& in) {
  const std::string op = c.at("op");
  const json& a = c.at("args");
  if (op == "conv2d")
    return nn::conv2d(in.at(0), in.at(1), in.size() > 2 ? in[2] : Tensor(), pair_of(a, "stride"),
                      pair_of(a, "padding"), pair_of(a, "dilation"), a.at("groups").get<std::int64_t>());
  if (op == "max_pool2d")
    return nn::max_pool2d(in.at(0), pair_of(a, "kernel_size"), pair_of(a, "stride"), pair_of(a, "padding"),
                          pair_of(a, "dilation"));
  if (op == "avg_pool2d")
    return nn::avg_pool2d(in.at(0), pair_of(a, "kernel_size"), pair_of(a, "stride"), pair_of(a, "padding"),
                          a.at("count_include_pad").get<bool>());
  if (op == "adaptive_avg_pool2d") return nn::adaptive_avg_pool2d(in.at(0), pair_of(a, "output_size"));
  throw std::runtime_error("unknown op " + op);
}

void check(const std::string& name, DType dtype, double rtol, double atol) {
  const json& c = entry_named(cases(), name);
  std::vector<std::string> input_names;
  std::vector<Tensor> inputs;
  for (const char* key : {"x", "weight", "bias"}) {
    if (!c.at("inputs").contains(key)) continue;
    input_names.push_back(key);
    inputs.push_back(tensor_of(c.at("inputs").at(key), dtype));
    inputs.back().set_requires_grad();
  }
  const Tensor y = run_op(c, inputs);
  const json& outputs = c.at("outputs");
  ASSERT_EQ(y.shape(), shape_of(outputs.at("y")));
  y.backward(tensor_of(c.at("grad_output"), dtype));
  expect_tensor(y, outputs.at("y"), rtol, atol, name + " y");
  for (std::size_t i = 0; i < inputs.size(); ++i)
    expect_tensor(inputs[i].grad(), outputs.at("d" + input_names[i]), rtol, atol, name + " d" + input_names[i]);
}

class TorchConv : public ::testing::TestWithParam<std::string> {};

// torch computed in f64 from the same inputs; only the summation order differs.
TEST_P(TorchConv, F64MatchesTorch) { check(GetParam(), DType::f64, 1e-12, 1e-12); }

// f32 from the same inputs against torch's exact answer: PyTorch's own f32 tolerances.
TEST_P(TorchConv, F32MatchesTorch) { check(GetParam(), DType::f32, kRtol32, kAtol32); }

INSTANTIATE_TEST_SUITE_P(Cases, TorchConv, ::testing::ValuesIn(names_of(cases())),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
