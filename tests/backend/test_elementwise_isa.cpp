// The x86-64 baseline (SSE2) build of the elementwise loops, run on the same machine as the
// AVX2 one: exactly rounded ops must agree bit for bit, the vectorised maths must meet the
// same tolerance, and the 16-byte streaming stores must write the same output.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/elementwise.hpp"
#include "core/tensor_impl.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

Tensor random_f32(std::int64_t n, std::uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(rng);
  return Tensor::from_vector(v);
}

std::vector<unsigned char> bytes_of(const Tensor& t) {
  const auto* p = static_cast<const unsigned char*>(t.data_ptr());
  return {p, p + t.numel() * static_cast<std::int64_t>(itemsize(t.dtype()))};
}

class ElementwiseBaselineSimd : public ::testing::Test {
 protected:
  void TearDown() override { cpu::force_baseline_simd(false); }
};

TEST_F(ElementwiseBaselineSimd, ExactlyRoundedOpsMatchTheAvx2LoopsBitForBit) {
  const Tensor a = random_f32(4099, 61, -3.0f, 3.0f), b = random_f32(4099, 62, 0.5f, 2.0f);
  const Tensor row = random_f32(17, 63, -1.0f, 1.0f);
  const Tensor grid = make_view(random_f32(17 * 17, 64, -2.0f, 2.0f), {17, 17}, {1, 17}, 0);  // transposed
  const std::vector<std::pair<const char*, std::function<Tensor()>>> ops = {
      {"add", [&] { return a.add(b); }},          {"sub", [&] { return a.sub(b); }},
      {"mul", [&] { return a.mul(b); }},          {"div", [&] { return a.div(b); }},
      {"maximum", [&] { return a.maximum(b); }},  {"minimum", [&] { return a.minimum(b); }},
      {"neg", [&] { return a.neg(); }},           {"abs", [&] { return a.abs(); }},
      {"relu", [&] { return a.relu(); }},         {"clamp", [&] { return a.clamp(-1.0, 1.5); }},
      {"sqrt", [&] { return b.sqrt(); }},         {"square", [&] { return a.pow(2.0); }},
      {"rsub", [&] { return 1.5 - a; }},          {"rdiv", [&] { return 1.5 / b; }},
      {"le", [&] { return a.le(b); }},            {"where", [&] { return where(a.gt(0.0), a, b); }},
      {"broadcast", [&] { return grid.mul(row); }},
      {"f64", [&] { return a.to(DType::f64).add(b.to(DType::f64)); }},
      {"i32", [&] { return a.to(DType::i32).mul(b.to(DType::i32)); }},
  };
  for (const auto& [name, op] : ops) {
    const auto avx2 = bytes_of(op());
    cpu::force_baseline_simd(true);
    const auto baseline = bytes_of(op());
    cpu::force_baseline_simd(false);
    EXPECT_TRUE(avx2 == baseline) << name;
  }
}

TEST_F(ElementwiseBaselineSimd, VectorisedMathMeetsTheTolerance) {
  std::vector<float> v;
  for (float x = -30.0f; x <= 30.0f; x += 0.00917f) v.push_back(x);
  const Tensor x = Tensor::from_vector(v);
  cpu::force_baseline_simd(true);
  const std::vector<std::pair<Tensor, std::function<double(double)>>> cases = {
      {x.exp(), [](double t) { return std::exp(t); }},
      {x.sigmoid(), [](double t) { return 1.0 / (1.0 + std::exp(-t)); }},
      {x.tanh(), [](double t) { return std::tanh(t); }},
      {x.gelu(), [](double t) { return 0.5 * t * std::erfc(-t / std::sqrt(2.0)); }},
  };
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const auto got = cases[c].first.to_vector<double>();
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double want = static_cast<float>(cases[c].second(v[i]));
      ASSERT_NEAR(got[i], want, 1e-5 + 1.3e-6 * std::abs(want)) << "case " << c << " at x = " << v[i];
    }
  }
}

TEST_F(ElementwiseBaselineSimd, SixteenByteStreamingStores) {
  const std::int64_t n = (std::int64_t{1} << 20) + 13;  // past the streaming threshold
  const Tensor a = random_f32(n, 65, -2.0f, 2.0f), b = random_f32(n, 66, -2.0f, 2.0f);
  const Tensor odd_start = make_view(b, {n - 3}, {1}, 3);  // an input that starts unaligned
  cpu::force_baseline_simd(true);
  const auto sum = make_view(a, {n - 3}, {1}, 0).add(odd_start).to_vector<float>();
  const auto av = a.to_vector<float>(), bv = b.to_vector<float>();
  for (std::size_t i = 0; i + 3 < av.size(); ++i) ASSERT_EQ(sum[i], av[i] + bv[i + 3]) << i;
}

}  // namespace
}  // namespace dm
