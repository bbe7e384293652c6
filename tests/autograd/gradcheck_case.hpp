#pragma once
// What the table-driven gradchecks (tensor ops, conv, norm, attention) share: a case (a name,
// the shapes of its inputs and the function of them), the f64 inputs it is checked at, and the
// check itself.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/democratising.hpp"

namespace gradcheck_test {

using Inputs = std::vector<dm::Tensor>;
using Fn = std::function<dm::Tensor(const Inputs&)>;

/// One function to check: inputs of `shapes`, drawn by make_input.
struct Case {
  std::string name;
  std::vector<dm::Shape> shapes;
  Fn f;
  bool positive = false;  // inputs drawn in [0.5, 1.5] (log, sqrt, pow, div)
};

/// An f64 leaf from the library's generator seeded with `seed`: standard normal values, or
/// uniform ones in [0.5, 1.5] when `positive`.
inline dm::Tensor make_input(const dm::Shape& shape, std::uint64_t seed, bool positive = false) {
  dm::manual_seed(seed);
  dm::Tensor t = positive ? dm::Tensor::rand(shape, dm::DType::f64) + 0.5 : dm::Tensor::randn(shape, dm::DType::f64);
  t = t.detach().clone();
  t.set_requires_grad();
  return t;
}

/// gradcheck of `c` at inputs seeded first_seed, first_seed + 1, ... with the ops suite's
/// tolerances; and its output must require grad: the op really recorded something, so a
/// gradient cannot pass by being absent.
inline void expect_gradcheck(const Case& c, std::uint64_t first_seed) {
  Inputs inputs;
  for (std::size_t i = 0; i < c.shapes.size(); ++i) inputs.push_back(make_input(c.shapes[i], first_seed + i, c.positive));
  const auto result = dm::autograd::gradcheck(c.f, inputs, 1e-6, 1e-6, 1e-5);
  EXPECT_TRUE(result.ok) << c.name << ": " << result.message << " (max abs error " << result.max_abs_error << ")";
  EXPECT_TRUE(c.f(inputs).requires_grad()) << c.name;
}

/// The test name of a case: its own.
inline std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

}  // namespace gradcheck_test
