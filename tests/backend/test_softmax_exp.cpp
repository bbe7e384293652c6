// The CPU backend's vectorised exp(x - shift) against std::exp, and its special values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "backend/cpu/softmax_exp.hpp"

TEST(ExpMinus, MatchesStdExpForEveryLengthAndShift) {
  // Lengths around the vector widths exercise the padded tail; the f32 exp is a polynomial,
  // checked here to within 2 ulp of the f64 libm value on the normal range.
  const auto ulp_error = [](float got, double want) {
    const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(want)) - 23);
    return std::abs(static_cast<double>(got) - want) / ulp;
  };
  double worst = 0;
  for (std::int64_t n : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 1000}) {
    std::vector<float> x(static_cast<std::size_t>(n)), shift(x.size()), out(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      x[i] = -80.0f + 160.0f * static_cast<float>(i) / static_cast<float>(n);
      shift[i] = static_cast<float>(i % 5) - 2.0f;
    }
    dm::cpu::exp_minus(x.data(), 1.5f, out.data(), n);
    for (std::size_t i = 0; i < x.size(); ++i)
      worst = std::max(worst, ulp_error(out[i], std::exp(static_cast<double>(x[i] - 1.5f))));  // f32 argument
    dm::cpu::exp_minus(x.data(), shift.data(), out.data(), n);
    for (std::size_t i = 0; i < x.size(); ++i)
      worst = std::max(worst, ulp_error(out[i], std::exp(static_cast<double>(x[i] - shift[i]))));
    std::vector<float> in_place = x;  // out may alias x
    dm::cpu::exp_minus(x.data(), 0.5f, out.data(), n);
    dm::cpu::exp_minus(in_place.data(), 0.5f, in_place.data(), n);
    EXPECT_EQ(in_place, out);
  }
  EXPECT_LE(worst, 2.0);
}

TEST(ExpMinus, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {0.0f, -200.0f, -inf, 100.0f, inf, std::numeric_limits<float>::quiet_NaN(), 88.7f};
  std::vector<float> out(x.size());
  dm::cpu::exp_minus(x.data(), 0.0f, out.data(), static_cast<std::int64_t>(x.size()));
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], inf);
  EXPECT_EQ(out[4], inf);
  EXPECT_TRUE(std::isnan(out[5]));
  EXPECT_TRUE(std::isfinite(out[6]));
}
