// conv2d and the pooling ops against central differences in f64 (dm::autograd::gradcheck),
// on contiguous inputs and on transposed and narrowed views.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gradcheck_case.hpp"

namespace {

using namespace gradcheck_test;
namespace nn = dm::nn;

std::vector<Case> cases() {
  return {
      {"conv2d_bias", {{2, 3, 5, 5}, {4, 3, 3, 3}, {4}}, [](const Inputs& x) { return nn::conv2d(x[0], x[1], x[2]); }},
      {"conv2d_stride_pad_dilation",
       {{1, 2, 7, 6}, {3, 2, 3, 2}, {3}},
       [](const Inputs& x) { return nn::conv2d(x[0], x[1], x[2], {2, 1}, {1, 2}, {2, 1}); }},
      {"conv2d_groups", {{2, 4, 5, 4}, {6, 2, 2, 3}}, [](const Inputs& x) {
         return nn::conv2d(x[0], x[1], dm::Tensor(), 1, 1, 1, 2);
       }},
      {"conv2d_1x1", {{5, 3, 3, 3}, {2, 3, 1, 1}, {2}}, [](const Inputs& x) { return nn::conv2d(x[0], x[1], x[2]); }},
      // x stored (N, C, W, H) and transposed; the weight a narrowed slice of a larger one.
      {"conv2d_transposed_x_narrowed_w",
       {{2, 2, 6, 5}, {5, 2, 3, 3}},
       [](const Inputs& x) { return nn::conv2d(x[0].transpose(2, 3), x[1].narrow(0, 1, 3), dm::Tensor(), 1, 1); }},
      {"conv2d_unbatched", {{2, 4, 4}, {3, 2, 3, 3}}, [](const Inputs& x) { return nn::conv2d(x[0], x[1]); }},
      {"max_pool2d", {{2, 2, 6, 6}}, [](const Inputs& x) { return nn::max_pool2d(x[0], 2); }},
      {"max_pool2d_overlapping_padded",
       {{1, 2, 7, 6}},
       [](const Inputs& x) { return nn::max_pool2d(x[0], 3, nn::Size2{2}, 1); }},
      {"max_pool2d_dilated_transposed",
       {{1, 2, 6, 7}},
       [](const Inputs& x) { return nn::max_pool2d(x[0].transpose(2, 3), 2, nn::Size2{1}, 0, 2); }},
      {"avg_pool2d", {{2, 2, 6, 6}}, [](const Inputs& x) { return nn::avg_pool2d(x[0], 2); }},
      {"avg_pool2d_padded_include", {{1, 2, 7, 6}}, [](const Inputs& x) {
         return nn::avg_pool2d(x[0], 3, nn::Size2{2}, 1, true);
       }},
      {"avg_pool2d_padded_exclude_narrowed", {{1, 3, 7, 6}}, [](const Inputs& x) {
         return nn::avg_pool2d(x[0].narrow(1, 1, 2), 3, nn::Size2{2}, 1, false);
       }},
      {"adaptive_avg_pool2d", {{2, 2, 7, 5}}, [](const Inputs& x) { return nn::adaptive_avg_pool2d(x[0], {3, 2}); }},
      {"adaptive_avg_pool2d_transposed", {{1, 2, 5, 7}}, [](const Inputs& x) {
         return nn::adaptive_avg_pool2d(x[0].transpose(2, 3), 4);
       }},
      {"conv_pool_chain", {{2, 1, 8, 8}, {3, 1, 3, 3}, {3}}, [](const Inputs& x) {
         return nn::adaptive_avg_pool2d(nn::max_pool2d(nn::conv2d(x[0], x[1], x[2], 1, 1).relu(), 2), 2);
       }},
  };
}

class GradcheckConv : public ::testing::TestWithParam<Case> {};

TEST_P(GradcheckConv, AnalyticMatchesNumeric) {
  // Random normal inputs leave max pooling's windows without near-ties (a tie within eps would
  // make the numeric derivative meaningless), so the tolerances are the ops suite's.
  expect_gradcheck(GetParam(), 300);
}

INSTANTIATE_TEST_SUITE_P(Ops, GradcheckConv, ::testing::ValuesIn(cases()), case_name);

}  // namespace
