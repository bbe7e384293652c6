// bf16 compression with error feedback against plain loops written from the definitions:
// rounding to nearest even on the bits, the residual as what rounding lost, the rank-order sum
// in f32, and the property error feedback exists for: what a rank sends over many steps adds
// up to its true gradients, short only of the last step's rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "democratising/core/random.hpp"
#include "democratising/core/tensor.hpp"
#include "distributed/gradient_compression.hpp"

namespace dm::dist {
namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The upper half of the f32, plus one where the lower half is above one half of its unit, or
// exactly one half and the upper half is odd (ties to even). Finite inputs only.
std::uint16_t naive_bf16(float f) {
  const std::uint32_t u = bits_of(f);
  const std::uint32_t lower = u & 0xffffu;
  std::uint32_t upper = u >> 16;
  if (lower > 0x8000u || (lower == 0x8000u && (upper & 1u) != 0)) ++upper;
  return static_cast<std::uint16_t>(upper);
}

float widen(std::uint16_t b) { return float_of(std::uint32_t{b} << 16); }

std::vector<std::uint16_t> bf16_bits(const Tensor& t) {
  const auto* p = static_cast<const std::uint16_t*>(t.data_ptr());
  return std::vector<std::uint16_t>(p, p + t.numel());
}

std::vector<std::uint32_t> f32_bits(const Tensor& t) {
  std::vector<std::uint32_t> out;
  for (float f : t.to_vector<float>()) out.push_back(bits_of(f));
  return out;
}

// Values that exercise every rounding case: exact ties with an even and an odd upper half, just
// either side of a tie, negative numbers, zeros, subnormals, and normal draws over many scales.
std::vector<float> awkward_values(std::int64_t random_count) {
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f, float_of(0x3f808000u), float_of(0x3f818000u),
                          float_of(0xbf808000u), float_of(0xbf818000u), float_of(0x3f808001u), float_of(0x3f807fffu),
                          float_of(0x00000001u), float_of(0x00018000u), float_of(0x7f7f0000u), 1e-30f, -3.5e20f};
  manual_seed(11);
  const std::vector<float> normal = Tensor::randn(Shape{random_count}).to_vector<float>();
  for (std::size_t i = 0; i < normal.size(); ++i)
    v.push_back(normal[i] * std::ldexp(1.0f, static_cast<int>(i % 41) - 20));
  return v;
}

TEST(GradientCompression, RoundsToNearestEvenAndKeepsWhatRoundingLost) {
  const std::vector<float> g = awkward_values(3000);
  const auto n = static_cast<std::int64_t>(g.size());
  std::vector<float> r0(g.size());
  for (std::size_t i = 0; i < r0.size(); ++i) r0[i] = (i % 3 == 0) ? 0.0f : g[(i * 7) % g.size()] * 1e-3f;
  Tensor residual = Tensor::from_vector(r0, Shape{n});
  Tensor sent = Tensor::empty(Shape{n}, DType::bf16);
  compression::compress_with_error_feedback(Tensor::from_vector(g, Shape{n}), residual, sent);

  const std::vector<std::uint16_t> got_sent = bf16_bits(sent);
  const std::vector<std::uint32_t> got_residual = f32_bits(residual);
  for (std::size_t i = 0; i < g.size(); ++i) {
    const float v = g[i] + r0[i];
    const std::uint16_t want = naive_bf16(v);
    ASSERT_EQ(got_sent[i], want) << "element " << i << " value " << v;
    ASSERT_EQ(got_residual[i], bits_of(v - widen(want))) << "element " << i << " value " << v;
    // v - bf16(v) is exact: adding it back gives v itself.
    ASSERT_EQ(bits_of(widen(want) + (v - widen(want))), bits_of(v)) << "element " << i;
  }
}

// Over T steps, sent_t = g_t + e_{t-1} - e_t, so the sum of what was sent is the sum of the true
// gradients minus e_T, the last step's rounding error (at most half a bf16 ulp of its value).
// The only other difference is the f32 rounding of g_t + e_{t-1} at each step: at most half an
// f32 ulp of each value, bounded here by T * 2^-24 * the largest |value|.
TEST(GradientCompression, WhatARankSendsAddsUpToItsTrueGradients) {
  constexpr int kSteps = 200;
  constexpr std::int64_t n = 4000;
  Tensor residual = Tensor::zeros(Shape{n});
  Tensor sent = Tensor::empty(Shape{n}, DType::bf16);
  std::vector<double> sum_true(n, 0.0), sum_sent(n, 0.0), largest(n, 0.0);
  std::vector<float> last_value(n, 0.0f);
  manual_seed(3);
  for (int t = 0; t < kSteps; ++t) {
    // Gradients with a steady part and noise, so the sums grow and rounding would pile up.
    const Tensor g = (Tensor::randn(Shape{n}) * 0.01 + 0.3).contiguous();
    const std::vector<float> gv = g.to_vector<float>();
    const std::vector<float> before = residual.to_vector<float>();
    compression::compress_with_error_feedback(g, residual, sent);
    const std::vector<std::uint16_t> sb = bf16_bits(sent);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto k = static_cast<std::size_t>(i);
      sum_true[k] += gv[k];
      sum_sent[k] += widen(sb[k]);
      last_value[k] = gv[k] + before[k];
      largest[k] = std::max(largest[k], std::abs(static_cast<double>(last_value[k])));
    }
  }
  const std::vector<float> e = residual.to_vector<float>();
  for (std::int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const double half_bf16_ulp = std::ldexp(1.0, std::ilogb(last_value[k]) - 8);
    const double f32_slack = kSteps * std::ldexp(largest[k], -24);
    ASSERT_LE(std::abs(e[k]), half_bf16_ulp) << "element " << i;
    ASSERT_LE(std::abs(sum_true[k] - sum_sent[k]), half_bf16_ulp + f32_slack) << "element " << i;
    ASSERT_NEAR(sum_true[k] - sum_sent[k], e[k], f32_slack) << "element " << i;
  }
}

// Without error feedback the same gradient rounded alike every step drifts by T times its
// rounding error; with it, what is sent tracks the true sum.
TEST(GradientCompression, ErrorFeedbackRemovesTheDriftOfPlainRounding) {
  constexpr int kSteps = 1000;
  const float g = 1.0f + std::ldexp(1.0f, -10);  // bf16 has 8 significant bits: rounds to 1
  ASSERT_EQ(widen(naive_bf16(g)), 1.0f);
  Tensor residual = Tensor::zeros(Shape{1});
  Tensor sent = Tensor::empty(Shape{1}, DType::bf16);
  double sum_sent = 0.0;
  for (int t = 0; t < kSteps; ++t) {
    compression::compress_with_error_feedback(Tensor::from_vector(std::vector<float>{g}, Shape{1}), residual, sent);
    sum_sent += widen(bf16_bits(sent)[0]);
  }
  const double truth = static_cast<double>(g) * kSteps;
  EXPECT_LE(std::abs(sum_sent - truth), std::ldexp(1.0, -8));  // half a bf16 ulp of ~1
  EXPECT_GT(std::abs(static_cast<double>(kSteps) * 1.0 - truth), 0.9);  // plain rounding would lose ~0.98
}

TEST(GradientCompression, RanksAreAddedInRankOrderInF32) {
  for (int ranks : {1, 2, 3, 5}) {
    SCOPED_TRACE(ranks);
    const std::vector<float> values = awkward_values(600);
    const auto n = static_cast<std::int64_t>(values.size()) / ranks;
    std::vector<std::uint16_t> bits(static_cast<std::size_t>(n * ranks));
    for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = naive_bf16(values[(i * 13) % values.size()]);
    Tensor gathered = Tensor::empty(Shape{ranks, n}, DType::bf16);
    std::memcpy(gathered.data_ptr(), bits.data(), bits.size() * 2);
    Tensor out = Tensor::full(Shape{n}, std::numeric_limits<float>::quiet_NaN());  // every element is written
    compression::sum_in_rank_order(gathered, out);
    const std::vector<std::uint32_t> got = f32_bits(out);
    for (std::int64_t i = 0; i < n; ++i) {
      float acc = widen(bits[static_cast<std::size_t>(i)]);
      for (int r = 1; r < ranks; ++r) acc += widen(bits[static_cast<std::size_t>(r * n + i)]);
      ASSERT_EQ(got[static_cast<std::size_t>(i)], bits_of(acc)) << "element " << i;
    }
  }
}

}  // namespace
}  // namespace dm::dist
