// nn::TransformerEncoderLayer against its definition written out with the functional ops, gradcheck
// in f64 of the input and every parameter (with a non-contiguous input), and inputs of the wrong
// width refused with a ShapeError naming the layer and the shape. PyTorch agreement is in
// test_transformer_torch.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"
#include "democratising/nn/attention.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/nn/transformer.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

// Every parameter redrawn, so no LayerNorm is the identity and no bias is zero.
void randomise(nn::Module& m, std::uint64_t seed) {
  for (const auto& [name, p] : m.named_parameters()) m.load_parameter(name, normal(p.shape(), seed++, DType::f64, 0.5));
}

TEST(TransformerEncoderLayer, IsPreNormAttentionThenGeluMlp) {
  dm::manual_seed(1);
  nn::TransformerEncoderLayer layer(8, 2, 12, {.dtype = DType::f64});
  randomise(layer, 10);
  const Tensor x = normal({2, 5, 8}, 2, DType::f64);
  // The same block from the functional ops and a MultiheadAttention with the same parameters.
  const auto p = [&](const std::string& name) {
    for (const auto& [n, t] : layer.named_parameters())
      if (n == name) return t;
    throw std::runtime_error("no " + name);
  };
  nn::MultiheadAttention mha(8, 2, {.dtype = DType::f64});
  for (const char* n : {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"})
    mha.load_parameter(n, p(std::string("self_attn.") + n));
  const Tensor h = x + mha(nn::layer_norm(x, {8}, p("norm1.weight"), p("norm1.bias")));
  const Tensor mlp = nn::linear(nn::linear(nn::layer_norm(h, {8}, p("norm2.weight"), p("norm2.bias")), p("linear1.weight"),
                                           p("linear1.bias")).gelu(),
                                p("linear2.weight"), p("linear2.bias"));
  expect_close(layer(x), (h + mlp).to_vector<double>(), kRtol64, kAtol64);
  EXPECT_EQ(layer.name(), "TransformerEncoderLayer(8, 2 heads, mlp 12)");
  EXPECT_EQ(layer.num_parameters(), 3 * 8 * 8 + 3 * 8 + 8 * 8 + 8 + 12 * 8 + 12 + 8 * 12 + 8 + 4 * 8);
}

TEST(TransformerEncoderLayer, GradcheckF64OfInputAndParametersWithANonContiguousInput) {
  dm::manual_seed(2);
  nn::TransformerEncoderLayer layer(4, 2, 6, {.dtype = DType::f64});
  randomise(layer, 20);
  // The leaf is (3, 2, 4) read as (2, 3, 4) through a transpose.
  std::vector<Tensor> inputs = {leaf64({3, 2, 4}, 3)};
  for (const Tensor& t : layer.parameters()) inputs.push_back(t);  // perturbed in place by gradcheck
  const auto r = dm::autograd::gradcheck(
      [&](const std::vector<Tensor>& in) { return layer(in[0].transpose(0, 1)); }, inputs);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(TransformerEncoderLayer, WrongWidthIsAShapeErrorNamingTheLayer) {
  const nn::TransformerEncoderLayer layer(8, 2, 16);
  expect_throw_with<dm::ShapeError>([&] { (void)layer(Tensor::zeros({2, 16, 6})); },
                                    "[TransformerEncoderLayer(8, 2 heads, mlp 16)] x must be (batch, tokens, 8), got "
                                    "shape (2, 16, 6)");
  expect_throw_with<dm::ShapeError>([&] { (void)layer(Tensor::zeros({16, 8})); }, "got shape (16, 8)");
}

TEST(TransformerEncoderLayer, HeadsThatDoNotDivideTheWidthAreRefused) {
  expect_throw_with<dm::ShapeError>([] { nn::TransformerEncoderLayer(10, 4, 16); },
                                    "d_model 10 must be a positive multiple of nhead 4");
  expect_throw_with<dm::ShapeError>([] { nn::TransformerEncoderLayer(8, 2, 0); }, "dim_feedforward positive");
}

}  // namespace
