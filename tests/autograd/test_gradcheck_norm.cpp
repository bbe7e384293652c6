// batch_norm (training and evaluation) and group_norm against central differences in f64
// (dm::autograd::gradcheck), with respect to x, weight and bias, on contiguous inputs and on
// transposed and narrowed views.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/democratising.hpp"

namespace {

using Inputs = std::vector<dm::Tensor>;
using Fn = std::function<dm::Tensor(const Inputs&)>;
namespace nn = dm::nn;

struct Case {
  std::string name;
  std::vector<dm::Shape> shapes;
  Fn f;
};

dm::Tensor make_input(const dm::Shape& shape, std::uint64_t seed) {
  dm::manual_seed(seed);
  dm::Tensor t = dm::Tensor::randn(shape, dm::DType::f64).detach().clone();
  t.set_requires_grad();
  return t;
}

// Fixed running statistics for evaluation mode (not differentiated).
dm::Tensor running_mean(std::int64_t c) { return dm::Tensor::full({c}, 0.3, dm::DType::f64); }
dm::Tensor running_var(std::int64_t c) { return dm::Tensor::full({c}, 1.7, dm::DType::f64); }

std::vector<Case> cases() {
  const dm::Tensor none;
  return {
      {"batch_norm_train_nc", {{6, 3}, {3}, {3}}, [=](const Inputs& x) {
         return nn::batch_norm(x[0], none, none, x[1], x[2], true);
       }},
      {"batch_norm_train_nchw", {{3, 2, 3, 4}, {2}, {2}}, [=](const Inputs& x) {
         return nn::batch_norm(x[0], none, none, x[1], x[2], true);
       }},
      {"batch_norm_train_no_affine_ncl", {{4, 3, 5}}, [=](const Inputs& x) {
         return nn::batch_norm(x[0], none, none, none, none, true);
       }},
      // x stored (N, L, C) and transposed to (N, C, L); weight a narrowed slice of a larger one.
      {"batch_norm_train_transposed_x_narrowed_w", {{3, 5, 4}, {6}, {4}}, [=](const Inputs& x) {
         return nn::batch_norm(x[0].transpose(1, 2), none, none, x[1].narrow(0, 1, 4), x[2], true);
       }},
      {"batch_norm_eval_nchw", {{2, 3, 3, 3}, {3}, {3}}, [=](const Inputs& x) {
         return nn::batch_norm(x[0], running_mean(3), running_var(3), x[1], x[2], false);
       }},
      {"batch_norm_train_then_relu_sum_of_squares", {{5, 4}, {4}, {4}}, [=](const Inputs& x) {
         const dm::Tensor y = nn::batch_norm(x[0], none, none, x[1], x[2], true);
         return (y * y).sum({1});
       }},
      {"group_norm_ncl", {{2, 6, 4}, {6}, {6}}, [](const Inputs& x) { return nn::group_norm(x[0], 3, x[1], x[2]); }},
      {"group_norm_nchw_one_group", {{2, 4, 3, 3}, {4}, {4}}, [](const Inputs& x) {
         return nn::group_norm(x[0], 1, x[1], x[2]);
       }},
      {"group_norm_group_per_channel_no_affine", {{3, 4, 5}}, [](const Inputs& x) { return nn::group_norm(x[0], 4); }},
      // x stored (N, H, W, C) and permuted to (N, C, H, W): far from contiguous.
      {"group_norm_permuted_x", {{2, 3, 4, 6}, {6}, {6}}, [](const Inputs& x) {
         return nn::group_norm(x[0].permute({0, 3, 1, 2}), 2, x[1], x[2]);
       }},
  };
}

class GradcheckNorm : public ::testing::TestWithParam<Case> {};

TEST_P(GradcheckNorm, AnalyticMatchesNumeric) {
  const Case& c = GetParam();
  Inputs inputs;
  for (std::size_t i = 0; i < c.shapes.size(); ++i) inputs.push_back(make_input(c.shapes[i], 700 + i));
  const auto result = dm::autograd::gradcheck(c.f, inputs, 1e-6, 1e-6, 1e-5);
  EXPECT_TRUE(result.ok) << c.name << ": " << result.message << " (max abs error " << result.max_abs_error << ")";
  EXPECT_TRUE(c.f(inputs).requires_grad()) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Ops, GradcheckNorm, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
