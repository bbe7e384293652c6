// scaled_dot_product_attention and an attention block (MultiheadAttention + residual +
// LayerNorm + Dense, mse loss) against PyTorch: every case of
// tests/fixtures/attention/attention.json (written by tests/fixtures/make_attention_fixtures.py),
// with torch's parameters loaded into ours; output, loss and every gradient, in f64 and f32.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "democratising/nn/attention.hpp"
#include "democratising/nn/functional.hpp"
#include "torch_cases.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

const json& cases() { return fixture("attention/attention.json").at("cases"); }

void check_sdpa(const std::string& name, DType dtype, double rtol, double atol) {
  const json& c = entry_named(cases(), name);
  const json& args = c.at("args");
  std::vector<Tensor> in;
  for (const char* key : {"q", "k", "v"}) {
    in.push_back(tensor_of(c.at("inputs").at(key), dtype));
    in.back().set_requires_grad();
  }
  std::optional<double> scale;
  if (!args.at("scale").is_null()) scale = args.at("scale").get<double>();
  const Tensor y = nn::scaled_dot_product_attention(in[0], in[1], in[2], args.at("causal").get<bool>(), scale);
  y.backward(tensor_of(c.at("grad_output"), dtype));
  const json& out = c.at("outputs");
  expect_tensor(y, out.at("y"), rtol, atol, name + " y");
  expect_tensor(in[0].grad(), out.at("dq"), rtol, atol, name + " dq");
  expect_tensor(in[1].grad(), out.at("dk"), rtol, atol, name + " dk");
  expect_tensor(in[2].grad(), out.at("dv"), rtol, atol, name + " dv");
}

// The block's layers with torch's parameters, by torch's names.
struct Block {
  nn::MultiheadAttention mha;
  nn::LayerNorm norm;
  nn::Dense dense;

  Block(const json& args, const json& params, DType dtype)
      : mha(args.at("embed_dim").get<std::int64_t>(), args.at("num_heads").get<std::int64_t>(),
            {.causal = args.at("causal").get<bool>(), .bias = args.at("bias").get<bool>(), .dtype = dtype}),
        norm(Shape{args.at("embed_dim").get<std::int64_t>()}, 1e-5, dtype),
        dense(args.at("embed_dim").get<std::int64_t>(), args.at("out").get<std::int64_t>(), true, dtype) {
    for (const auto& [full, value] : params.items()) {
      const std::size_t dot = full.find('.');
      const std::string prefix = full.substr(0, dot), rest = full.substr(dot + 1);
      nn::Module& m = prefix == "mha" ? static_cast<nn::Module&>(mha)
                      : prefix == "norm" ? static_cast<nn::Module&>(norm)
                                         : static_cast<nn::Module&>(dense);
      m.load_parameter(rest, tensor_of(value, dtype));
    }
  }

  dm::nn::NamedTensors named_parameters() const {
    dm::nn::NamedTensors all;
    const std::vector<std::pair<std::string, const nn::Module*>> modules = {
        {"mha.", &mha}, {"norm.", &norm}, {"dense.", &dense}};
    for (const auto& [prefix, m] : modules)
      for (const auto& [n, t] : m->named_parameters()) all.emplace_back(prefix + n, t);
    return all;
  }
};

void check_block(const std::string& name, DType dtype, double rtol, double atol) {
  const json& c = entry_named(cases(), name);
  const json& args = c.at("args");
  const Block block(args, c.at("parameters"), dtype);
  const bool cross = args.at("cross").get<bool>();
  std::vector<std::pair<std::string, Tensor>> inputs;
  for (const char* key : {"query", "key", "value"}) {
    if (!c.at("inputs").contains(key)) continue;
    inputs.emplace_back(key, tensor_of(c.at("inputs").at(key), dtype));
    inputs.back().second.set_requires_grad();
  }
  const Tensor& query = inputs[0].second;
  const Tensor attended = cross ? block.mha.forward(query, inputs[1].second, inputs[2].second) : block.mha(query);
  const Tensor y = block.dense(block.norm(query + attended));
  const Tensor loss = nn::mse_loss(y, tensor_of(c.at("target"), dtype));
  loss.backward();
  const json& out = c.at("outputs");
  expect_tensor(y, out.at("y"), rtol, atol, name + " y");
  expect_close(loss.reshape({1}), {out.at("loss").get<double>()}, rtol, atol, name + " loss");
  for (const auto& [key, t] : inputs) expect_tensor(t.grad(), c.at("input_grads").at(key), rtol, atol, name + " d" + key);
  const json& want = c.at("parameter_grads");
  const auto named = block.named_parameters();
  ASSERT_EQ(named.size(), want.size()) << name << ": parameters named like torch's";
  for (const auto& [pname, p] : named) {
    ASSERT_TRUE(want.contains(pname)) << name << ": torch has no parameter " << pname;
    expect_tensor(p.grad(), want.at(pname), rtol, atol, name + " d" + pname);
  }
}

class TorchAttention : public ::testing::TestWithParam<std::string> {};
class TorchAttentionBlock : public ::testing::TestWithParam<std::string> {};

// torch computed in f64 from the same inputs; only the summation order differs.
TEST_P(TorchAttention, F64MatchesTorch) { check_sdpa(GetParam(), DType::f64, 1e-12, 1e-12); }
// f32 from the same inputs against torch's exact answer: PyTorch's own f32 tolerances.
TEST_P(TorchAttention, F32MatchesTorch) { check_sdpa(GetParam(), DType::f32, kRtol32, kAtol32); }

TEST_P(TorchAttentionBlock, F64MatchesTorch) { check_block(GetParam(), DType::f64, 1e-10, 1e-12); }
TEST_P(TorchAttentionBlock, F32MatchesTorch) { check_block(GetParam(), DType::f32, kRtol32, kAtol32); }

const auto kName = [](const ::testing::TestParamInfo<std::string>& info) { return info.param; };
INSTANTIATE_TEST_SUITE_P(Cases, TorchAttention, ::testing::ValuesIn(names_of(cases(), "sdpa")), kName);
INSTANTIATE_TEST_SUITE_P(Cases, TorchAttentionBlock, ::testing::ValuesIn(names_of(cases(), "block")), kName);

// Our parameters carry torch's names, shapes and (for the biases) initial values.
TEST(MultiheadAttentionLayout, ParametersAreNamedAndShapedLikeTorch) {
  const nn::MultiheadAttention mha(8, 2);
  const auto named = mha.named_parameters();
  ASSERT_EQ(named.size(), 4u);
  EXPECT_EQ(named[0].first, "in_proj_weight");
  EXPECT_EQ(named[0].second.shape(), Shape({24, 8}));
  EXPECT_EQ(named[1].first, "in_proj_bias");
  EXPECT_EQ(named[1].second.shape(), Shape({24}));
  EXPECT_EQ(named[2].first, "out_proj.weight");
  EXPECT_EQ(named[2].second.shape(), Shape({8, 8}));
  EXPECT_EQ(named[3].first, "out_proj.bias");
  EXPECT_EQ(named[3].second.shape(), Shape({8}));
  EXPECT_EQ(named[1].second.abs().max().item<float>(), 0.0f);
  EXPECT_EQ(named[3].second.abs().max().item<float>(), 0.0f);
  // Xavier-uniform bound sqrt(6 / (8 + 24)) and torch.nn.Linear's 1/sqrt(8).
  EXPECT_LE(named[0].second.abs().max().item<float>(), std::sqrt(6.0f / 32.0f));
  EXPECT_GT(named[0].second.abs().max().item<float>(), 0.5f * std::sqrt(6.0f / 32.0f));
  EXPECT_LE(named[2].second.abs().max().item<float>(), 1.0f / std::sqrt(8.0f));
}

}  // namespace
