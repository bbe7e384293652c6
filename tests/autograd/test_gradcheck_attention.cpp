// embedding, scaled_dot_product_attention and MultiheadAttention against central differences
// in f64 (dm::autograd::gradcheck), on contiguous inputs and on transposed and narrowed views.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gradcheck_case.hpp"

namespace {

using namespace gradcheck_test;
namespace nn = dm::nn;

dm::Tensor sdpa(const dm::Tensor& q, const dm::Tensor& k, const dm::Tensor& v, bool causal) {
  return nn::scaled_dot_product_attention(q, k, v, causal);
}

// Made at each call: the cases live in a static table, and a tensor held there would be freed
// after the backend that owns its memory, at exit.
dm::Tensor indices() { return dm::Tensor::from_vector(std::vector<std::int64_t>{3, 0, 3, 1, 3, 4}, {2, 3}); }

std::vector<Case> cases() {
  return {
      {"embedding_repeated_indices", {{5, 3}}, [](const Inputs& x) { return nn::embedding(indices(), x[0]); }},
      {"embedding_narrowed_weight", {{7, 5}},
       [](const Inputs& x) { return nn::embedding(indices(), x[0].narrow(1, 1, 3)); }},
      {"sdpa", {{2, 2, 4, 3}, {2, 2, 5, 3}, {2, 2, 5, 2}}, [](const Inputs& x) { return sdpa(x[0], x[1], x[2], false); }},
      {"sdpa_causal", {{2, 2, 5, 3}, {2, 2, 5, 3}, {2, 2, 5, 3}}, [](const Inputs& x) {
         return sdpa(x[0], x[1], x[2], true);
       }},
      {"sdpa_causal_scaled", {{1, 2, 6, 2}, {1, 2, 4, 2}, {1, 2, 4, 3}}, [](const Inputs& x) {
         return nn::scaled_dot_product_attention(x[0], x[1], x[2], true, 0.7);
       }},
      // q stored (B, L, H, D) and split into heads; k with its last two dims swapped (its last
      // dim is not contiguous); v a narrowed slice of a wider tensor.
      {"sdpa_views", {{2, 4, 3, 2}, {2, 3, 2, 5}, {2, 3, 5, 6}}, [](const Inputs& x) {
         return sdpa(x[0].transpose(1, 2), x[1].transpose(2, 3), x[2].narrow(3, 1, 4), false);
       }},
      {"sdpa_views_causal", {{2, 4, 3, 2}, {2, 3, 2, 4}, {2, 3, 4, 6}}, [](const Inputs& x) {
         return sdpa(x[0].transpose(1, 2), x[1].transpose(2, 3), x[2].narrow(3, 1, 4), true);
       }},
  };
}

class GradcheckAttention : public ::testing::TestWithParam<Case> {};

TEST_P(GradcheckAttention, AnalyticMatchesNumeric) {
  expect_gradcheck(GetParam(), 400);
}

INSTANTIATE_TEST_SUITE_P(Ops, GradcheckAttention, ::testing::ValuesIn(cases()), case_name);

// The layer's input and every parameter: gradcheck perturbs the parameters in place, and the
// layer reads them on every call. Biases are made non-zero first so their gradients matter.
void check_mha(bool causal, bool cross) {
  dm::manual_seed(410);
  nn::MultiheadAttention mha(6, 2, {.causal = causal, .dtype = dm::DType::f64});
  mha.load_parameter("in_proj_bias", dm::Tensor::randn({18}, dm::DType::f64));
  mha.load_parameter("out_proj.bias", dm::Tensor::randn({6}, dm::DType::f64));
  Inputs inputs = {make_input({2, 4, 6}, 411), make_input({2, 3, 6}, 412)};
  for (const dm::Tensor& p : mha.parameters()) inputs.push_back(p);
  const Fn f = [&](const Inputs& x) { return cross ? mha.forward(x[0], x[1], x[1]) : mha(x[0]) + x[1].sum() * 0.0; };
  const auto result = dm::autograd::gradcheck(f, inputs, 1e-6, 1e-6, 1e-5);
  EXPECT_TRUE(result.ok) << result.message << " (max abs error " << result.max_abs_error << ")";
}

TEST(GradcheckMultiheadAttention, SelfAttention) { check_mha(false, false); }
TEST(GradcheckMultiheadAttention, CausalSelfAttention) { check_mha(true, false); }
TEST(GradcheckMultiheadAttention, CrossAttention) { check_mha(false, true); }

}  // namespace
