#pragma once
// Helpers for the nn and model tests: values from a fixed std::mt19937_64 stream (independent
// of the library's generator) and element-wise comparisons with PyTorch's tolerances.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "democratising/core/tensor.hpp"

namespace nn_test {

using dm::DType;
using dm::Shape;
using dm::Tensor;

/// Normal values from a fixed seed.
inline std::vector<double> normal_values(std::int64_t n, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<double> out(static_cast<std::size_t>(n));
  for (auto& v : out) v = dist(gen);
  return out;
}

/// A tensor of `shape` and `dtype` holding normal_values (rounded to the dtype).
inline Tensor normal(const Shape& shape, std::uint64_t seed, DType dtype = DType::f32, double scale = 1.0) {
  return Tensor::from_vector(normal_values(shape.numel(), seed, scale), shape).to(dtype);
}

/// An f64 leaf that requires grad, as gradcheck wants.
inline Tensor leaf64(const Shape& shape, std::uint64_t seed, double scale = 1.0) {
  Tensor t = normal(shape, seed, DType::f64, scale);
  t.set_requires_grad(true);
  return t;
}

/// |actual - expected| <= atol + rtol |expected| element by element (torch.testing's rule).
inline void expect_close(const std::vector<double>& actual, const std::vector<double>& expected, double rtol,
                         double atol, const std::string& what = "") {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double tol = atol + rtol * std::abs(expected[i]);
    if (!(std::abs(actual[i] - expected[i]) <= tol) && reported++ < 5)
      ADD_FAILURE() << what << " element " << i << ": " << actual[i] << " vs expected " << expected[i];
  }
}

inline void expect_close(const Tensor& actual, const std::vector<double>& expected, double rtol, double atol,
                         const std::string& what = "") {
  expect_close(actual.to_vector<double>(), expected, rtol, atol, what);
}

/// PyTorch's default tolerances for f32 (torch.testing.assert_close).
constexpr double kRtol32 = 1.3e-6, kAtol32 = 1e-5;
/// For f64 results computed in another order than the reference.
constexpr double kRtol64 = 1e-12, kAtol64 = 1e-12;

/// Expects `fn` to throw E with a message containing `fragment`.
template <class E, class F>
void expect_throw_with(F&& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected an exception mentioning '" << fragment << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace nn_test
