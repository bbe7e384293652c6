// batch_norm (training and evaluation) and group_norm against central differences in f64
// (dm::autograd::gradcheck), with respect to x, weight and bias, on contiguous inputs and on
// transposed and narrowed views.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gradcheck_case.hpp"

namespace {

using namespace gradcheck_test;
namespace nn = dm::nn;

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
  expect_gradcheck(GetParam(), 700);
}

INSTANTIATE_TEST_SUITE_P(Ops, GradcheckNorm, ::testing::ValuesIn(cases()), case_name);

}  // namespace
