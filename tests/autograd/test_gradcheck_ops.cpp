// Every differentiable op against central differences in f64 (dm::autograd::gradcheck).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gradcheck_case.hpp"

namespace {

using namespace gradcheck_test;

std::vector<Case> cases() {
  using T = dm::Tensor;
  return {
      {"add_broadcast", {{3, 4}, {4}}, [](const Inputs& x) { return x[0] + x[1]; }},
      {"sub_broadcast", {{2, 3, 1}, {1, 4}}, [](const Inputs& x) { return x[0] - x[1]; }},
      {"mul_broadcast", {{3, 1}, {1, 5}}, [](const Inputs& x) { return x[0] * x[1]; }},
      {"div", {{3, 4}, {3, 4}}, [](const Inputs& x) { return x[0] / x[1]; }, true},
      {"scalar_ops", {{5}}, [](const Inputs& x) { return (2.0 - x[0]) * 3.0 / 1.5 + 1.0; }},
      {"scalar_div_by_tensor", {{5}}, [](const Inputs& x) { return 2.0 / x[0]; }, true},
      {"neg", {{4}}, [](const Inputs& x) { return -x[0]; }},
      {"abs", {{6}}, [](const Inputs& x) { return x[0].abs(); }, true},
      {"exp", {{2, 3}}, [](const Inputs& x) { return x[0].exp(); }},
      {"log", {{2, 3}}, [](const Inputs& x) { return x[0].log(); }, true},
      {"sqrt", {{2, 3}}, [](const Inputs& x) { return x[0].sqrt(); }, true},
      {"pow_scalar", {{2, 3}}, [](const Inputs& x) { return x[0].pow(2.5); }, true},
      {"pow_tensor", {{2, 3}, {2, 3}}, [](const Inputs& x) { return x[0].pow(x[1]); }, true},
      {"relu", {{3, 3}}, [](const Inputs& x) { return x[0].relu(); }},
      {"sigmoid", {{3, 3}}, [](const Inputs& x) { return x[0].sigmoid(); }},
      {"tanh", {{3, 3}}, [](const Inputs& x) { return x[0].tanh(); }},
      {"gelu", {{3, 3}}, [](const Inputs& x) { return x[0].gelu(); }},
      {"clamp", {{10}}, [](const Inputs& x) { return x[0].clamp(-0.5, 0.5); }},
      {"maximum", {{3, 4}, {4}}, [](const Inputs& x) { return x[0].maximum(x[1]); }},
      {"minimum", {{3, 4}, {3, 1}}, [](const Inputs& x) { return x[0].minimum(x[1]); }},
      {"where", {{3, 4}, {3, 4}}, [](const Inputs& x) { return dm::where(x[0].gt(0.0), x[0], x[1]); }},
      {"sum_all", {{3, 4}}, [](const Inputs& x) { return x[0].sum(); }},
      {"sum_dims", {{2, 3, 4}}, [](const Inputs& x) { return x[0].sum({0, 2}); }},
      {"sum_keepdim", {{2, 3, 4}}, [](const Inputs& x) { return x[0].sum({1}, true); }},
      {"mean_all", {{3, 4}}, [](const Inputs& x) { return x[0].mean(); }},
      {"mean_dim", {{3, 4}}, [](const Inputs& x) { return x[0].mean({-1}); }},
      {"max_all", {{3, 4}}, [](const Inputs& x) { return x[0].max(); }},
      {"max_dim", {{3, 4}}, [](const Inputs& x) { return x[0].max(1); }},
      {"min_dim_keepdim", {{3, 4}}, [](const Inputs& x) { return x[0].min(0, true); }},
      {"var", {{3, 5}}, [](const Inputs& x) { return x[0].var({1}); }},
      {"var_all_correction0", {{3, 5}}, [](const Inputs& x) { return x[0].var(0); }},
      {"std", {{3, 5}}, [](const Inputs& x) { return x[0].std({0}, 1, true); }},
      {"softmax", {{3, 5}}, [](const Inputs& x) { return x[0].softmax(1); }},
      {"softmax_dim0", {{3, 5}}, [](const Inputs& x) { return x[0].softmax(0); }},
      {"log_softmax", {{3, 5}}, [](const Inputs& x) { return x[0].log_softmax(-1); }},
      {"logsumexp", {{3, 5}}, [](const Inputs& x) { return x[0].logsumexp(1); }},
      {"matmul_2d", {{3, 4}, {4, 5}}, [](const Inputs& x) { return x[0].matmul(x[1]); }},
      {"matmul_vec", {{4}, {4, 3}}, [](const Inputs& x) { return x[0].matmul(x[1]); }},
      {"matmul_mat_vec", {{3, 4}, {4}}, [](const Inputs& x) { return x[0].matmul(x[1]); }},
      {"matmul_dot", {{4}, {4}}, [](const Inputs& x) { return x[0].matmul(x[1]); }},
      {"matmul_batched_broadcast", {{2, 1, 3, 4}, {5, 4, 2}}, [](const Inputs& x) { return x[0].matmul(x[1]); }},
      {"matmul_transposed", {{4, 3}, {4, 5}}, [](const Inputs& x) { return x[0].t().matmul(x[1]); }},
      {"reshape", {{3, 4}}, [](const Inputs& x) { return x[0].reshape({2, 6}) * T::arange(12.0, dm::DType::f64).reshape({2, 6}); }},
      {"view_flatten", {{2, 3, 2}}, [](const Inputs& x) { return x[0].flatten().view({3, 4}); }},
      {"transpose", {{2, 3, 4}}, [](const Inputs& x) { return x[0].transpose(0, 2); }},
      {"permute", {{2, 3, 4}}, [](const Inputs& x) { return x[0].permute({1, 2, 0}).contiguous(); }},
      {"slice_step", {{7, 3}}, [](const Inputs& x) { return x[0].slice(0, 1, 6, 2); }},
      {"narrow", {{5, 4}}, [](const Inputs& x) { return x[0].narrow(1, 1, 2); }},
      {"select", {{5, 4}}, [](const Inputs& x) { return x[0].select(0, 3); }},
      {"index_select_repeat", {{5, 3}}, [](const Inputs& x) {
         return x[0].index_select(0, dm::Tensor::from_vector(std::vector<std::int64_t>{4, 0, 4, 2}));
       }},
      {"squeeze_unsqueeze", {{3, 1, 4}}, [](const Inputs& x) { return x[0].squeeze(1).unsqueeze(0); }},
      {"expand", {{3, 1}}, [](const Inputs& x) { return x[0].expand({2, 3, 4}); }},
      {"clone", {{3, 4}}, [](const Inputs& x) { return x[0].clone(); }},
      {"cat", {{2, 3}, {4, 3}}, [](const Inputs& x) { return dm::cat({x[0], x[1]}, 0); }},
      {"stack", {{2, 3}, {2, 3}}, [](const Inputs& x) { return dm::stack({x[0], x[1]}, 1); }},
  };
}

class Gradcheck : public ::testing::TestWithParam<Case> {};

TEST_P(Gradcheck, AnalyticMatchesNumeric) {
  // Keep inputs away from kinks (relu/abs/clamp/max at 0 or at the clamp bounds): the numeric
  // derivative is meaningless within eps of a kink.
  expect_gradcheck(GetParam(), 100);
}

INSTANTIATE_TEST_SUITE_P(Ops, Gradcheck, ::testing::ValuesIn(cases()), case_name);

}  // namespace
