// TransformerEncoderLayer and a whole small vision transformer (Patchify, Dense,
// PositionalEmbedding, encoder layers, LayerNorm, TokenMean, Dense) against PyTorch: every case of
// tests/fixtures/transformer/transformer.json (written by
// tests/fixtures/make_transformer_fixtures.py), with torch's parameters loaded into ours; output,
// loss and every gradient, in f64 and f32. Torch makes the patches with a strided Conv2d, so the
// vit cases check Patchify's reshape and permute against an independent construction.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "democratising/nn/functional.hpp"
#include "democratising/nn/patchify.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/nn/tokens.hpp"
#include "democratising/nn/transformer.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
using json = nlohmann::json;
namespace nn = dm::nn;

const json& fixture() {
  static const json doc = [] {
    std::ifstream in(std::string(DM_TEST_FIXTURES_DIR) + "/transformer/transformer.json");
    if (!in) throw std::runtime_error("cannot open tests/fixtures/transformer/transformer.json");
    return json::parse(in);
  }();
  return doc;
}

std::vector<std::string> case_names(const char* kind) {
  std::vector<std::string> names;
  for (const json& c : fixture().at("cases"))
    if (c.at("kind") == kind) names.push_back(c.at("name").get<std::string>());
  return names;
}

const json& case_named(const std::string& name) {
  for (const json& c : fixture().at("cases"))
    if (c.at("name") == name) return c;
  throw std::runtime_error("no case " + name);
}

Tensor tensor_of(const json& t, DType dtype) {
  const auto shape = t.at("shape").get<std::vector<std::int64_t>>();
  return Tensor::from_vector(t.at("data").get<std::vector<double>>(), Shape(shape)).to(dtype);
}

void expect_tensor(const Tensor& got, const json& want, double rtol, double atol, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.shape(), Shape(want.at("shape").get<std::vector<std::int64_t>>())) << what;
  expect_close(got, want.at("data").get<std::vector<double>>(), rtol, atol, what);
}

// Loads torch's parameters by name, then checks that ours are exactly torch's set.
void load_parameters(nn::Module& module, const json& params, DType dtype) {
  for (const auto& [name, value] : params.items()) module.load_parameter(name, tensor_of(value, dtype));
  ASSERT_EQ(module.named_parameters().size(), params.size()) << "parameters named like torch's";
}

void expect_parameter_grads(const nn::Module& module, const json& want, double rtol, double atol,
                            const std::string& name) {
  for (const auto& [pname, p] : module.named_parameters()) {
    ASSERT_TRUE(want.contains(pname)) << name << ": torch has no parameter " << pname;
    expect_tensor(p.grad(), want.at(pname), rtol, atol, name + " d" + pname);
  }
}

void check_encoder(const std::string& name, DType dtype, double rtol, double atol) {
  const json& c = case_named(name);
  const json& args = c.at("args");
  nn::TransformerEncoderLayer layer(args.at("d_model").get<std::int64_t>(), args.at("nhead").get<std::int64_t>(),
                                    args.at("dim_feedforward").get<std::int64_t>(), {.dtype = dtype});
  load_parameters(layer, c.at("parameters"), dtype);
  Tensor x = tensor_of(c.at("inputs").at("x"), dtype);
  x.set_requires_grad();
  const Tensor y = layer(x);
  y.backward(tensor_of(c.at("grad_output"), dtype));
  expect_tensor(y, c.at("outputs").at("y"), rtol, atol, name + " y");
  expect_tensor(x.grad(), c.at("input_grads").at("x"), rtol, atol, name + " dx");
  expect_parameter_grads(layer, c.at("parameter_grads"), rtol, atol, name);
}

void check_vit(const std::string& name, DType dtype, double rtol, double atol) {
  const json& c = case_named(name);
  const json& a = c.at("args");
  const auto image = a.at("image").get<std::vector<std::int64_t>>();
  const auto patch = a.at("patch").get<std::vector<std::int64_t>>();
  const auto channels = a.at("channels").get<std::int64_t>(), dim = a.at("dim").get<std::int64_t>(),
             layers = a.at("layers").get<std::int64_t>();
  const nn::Patchify patchify({image[0], image[1]}, {patch[0], patch[1]}, channels);
  nn::Sequential net;
  net.add(patchify)
      .add(nn::Dense(patchify.patch_features(), dim, true, dtype))
      .add(nn::PositionalEmbedding(patchify.num_patches(), dim, dtype));
  for (std::int64_t i = 0; i < layers; ++i)
    net.add(nn::TransformerEncoderLayer(dim, a.at("heads").get<std::int64_t>(), a.at("mlp").get<std::int64_t>(),
                                        {.dtype = dtype}));
  net.add(nn::LayerNorm({dim}, 1e-5, dtype)).add(nn::TokenMean()).add(nn::Dense(dim, a.at("classes").get<std::int64_t>(), true, dtype));
  load_parameters(net, c.at("parameters"), dtype);
  Tensor x = tensor_of(c.at("inputs").at("x"), dtype);
  x.set_requires_grad();
  const Tensor logits = net(x);
  const Tensor labels = Tensor::from_vector(c.at("labels").get<std::vector<std::int64_t>>(),
                                            {static_cast<std::int64_t>(c.at("labels").size())});
  const Tensor loss = nn::cross_entropy(logits, labels);
  loss.backward();
  expect_tensor(logits, c.at("outputs").at("logits"), rtol, atol, name + " logits");
  expect_close(loss.reshape({1}), {c.at("outputs").at("loss").get<double>()}, rtol, atol, name + " loss");
  expect_tensor(x.grad(), c.at("input_grads").at("x"), rtol, atol, name + " dx");
  expect_parameter_grads(net, c.at("parameter_grads"), rtol, atol, name);
}

class TorchEncoderLayer : public ::testing::TestWithParam<std::string> {};
class TorchVit : public ::testing::TestWithParam<std::string> {};

// torch computed in f64 from the same inputs; only the summation order differs.
TEST_P(TorchEncoderLayer, F64MatchesTorch) { check_encoder(GetParam(), DType::f64, 1e-10, 1e-12); }
// f32 from the same inputs against torch's exact answer: PyTorch's own f32 tolerances.
TEST_P(TorchEncoderLayer, F32MatchesTorch) { check_encoder(GetParam(), DType::f32, kRtol32, kAtol32); }

TEST_P(TorchVit, F64MatchesTorch) { check_vit(GetParam(), DType::f64, 1e-10, 1e-12); }
TEST_P(TorchVit, F32MatchesTorch) { check_vit(GetParam(), DType::f32, kRtol32, kAtol32); }

const auto kName = [](const ::testing::TestParamInfo<std::string>& info) { return info.param; };
INSTANTIATE_TEST_SUITE_P(Cases, TorchEncoderLayer, ::testing::ValuesIn(case_names("encoder")), kName);
INSTANTIATE_TEST_SUITE_P(Cases, TorchVit, ::testing::ValuesIn(case_names("vit")), kName);

// Our parameters carry torch's names and shapes, in torch's order.
TEST(TransformerEncoderLayerLayout, ParametersAreNamedAndShapedLikeTorch) {
  const nn::TransformerEncoderLayer layer(8, 2, 16);
  const std::vector<std::pair<std::string, Shape>> want = {
      {"self_attn.in_proj_weight", {24, 8}}, {"self_attn.in_proj_bias", {24}}, {"self_attn.out_proj.weight", {8, 8}},
      {"self_attn.out_proj.bias", {8}},      {"linear1.weight", {16, 8}},      {"linear1.bias", {16}},
      {"linear2.weight", {8, 16}},           {"linear2.bias", {8}},            {"norm1.weight", {8}},
      {"norm1.bias", {8}},                   {"norm2.weight", {8}},            {"norm2.bias", {8}}};
  const auto named = layer.named_parameters();
  ASSERT_EQ(named.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(named[i].first, want[i].first);
    EXPECT_EQ(named[i].second.shape(), want[i].second) << want[i].first;
  }
  // LayerNorms start as the identity (ones, zeros), as torch's do.
  EXPECT_EQ(named[8].second.min().item<float>(), 1.0f);
  EXPECT_EQ(named[9].second.abs().max().item<float>(), 0.0f);
}

}  // namespace
