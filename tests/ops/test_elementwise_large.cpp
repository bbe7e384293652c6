// Large tensors: results are bitwise identical for 1 and 2 threads, and outputs past the
// streaming-store threshold (4 MiB) are right, including rows that start unaligned.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/tensor_impl.hpp"
#include "democratising/runtime/pool.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

Tensor as_square(const Tensor& flat, std::int64_t side) { return make_view(flat, {side, side}, {side, 1}, 0); }

Tensor random_f32(std::int64_t n, std::uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(rng);
  return Tensor::from_vector(v);
}

// Raw bytes, so that "identical" also covers NaN payloads and signed zeros.
std::vector<unsigned char> bytes_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  const auto* p = static_cast<const unsigned char*>(c.data_ptr());
  return {p, p + c.numel() * static_cast<std::int64_t>(itemsize(c.dtype()))};
}

class ElementwiseThreads : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = num_threads(); }
  void TearDown() override { set_num_threads(saved_); }
  int saved_ = 1;
};

TEST_F(ElementwiseThreads, ResultsAreIdenticalForOneAndTwoThreads) {
  const std::int64_t n = (std::int64_t{1} << 20) + 77;  // > 1M, not a whole number of blocks
  const Tensor a = random_f32(n, 31, -4.0f, 4.0f), b = random_f32(n, 32, 0.5f, 2.0f);
  const Tensor row = random_f32(1031, 33, -1.0f, 1.0f);
  const Tensor grid = as_square(random_f32(1031 * 1031, 34, -3.0f, 3.0f), 1031);
  const std::vector<std::pair<const char*, std::function<Tensor()>>> ops = {
      {"add", [&] { return a.add(b); }},
      {"div", [&] { return a.div(b); }},
      {"exp", [&] { return a.exp(); }},
      {"gelu", [&] { return a.gelu(); }},
      {"tanh", [&] { return a.tanh(); }},
      {"sigmoid", [&] { return a.sigmoid(); }},
      {"pow", [&] { return b.pow(1.7); }},
      {"broadcast mul", [&] { return grid.mul(row); }},
      {"transposed add", [&] { return make_view(grid, {1031, 1031}, {1, 1031}, 0).add(grid); }},
      {"gt", [&] { return a.gt(b); }},
      {"where", [&] { return where(a.gt(0.0), a, b); }},
      {"f64 sub", [&] { return a.to(DType::f64).sub(b); }},
  };
  for (const auto& [name, op] : ops) {
    set_num_threads(1);
    const auto one = bytes_of(op());
    set_num_threads(2);
    const auto two = bytes_of(op());
    EXPECT_TRUE(one == two) << name;
  }
}

TEST(ElementwiseLarge, StreamedOutputsAreCorrect) {
  const std::int64_t n = (std::int64_t{1} << 20) + 13;  // 4 MiB + a tail of f32
  const Tensor a = random_f32(n, 41, -2.0f, 2.0f), b = random_f32(n, 42, -2.0f, 2.0f);
  const auto av = a.to_vector<float>(), bv = b.to_vector<float>();
  const auto sum = a.add(b).to_vector<float>();
  const auto relu = a.relu().to_vector<float>();
  for (std::size_t i = 0; i < av.size(); ++i) {
    ASSERT_EQ(sum[i], av[i] + bv[i]) << i;
    ASSERT_EQ(relu[i], av[i] < 0 ? 0.0f : av[i]) << i;
  }
}

TEST(ElementwiseLarge, StreamedRowsThatStartUnaligned) {
  // Rows of 1031 f32 (4124 bytes): most rows start off a 32-byte boundary.
  const Tensor grid = as_square(random_f32(1031 * 1031, 43, -3.0f, 3.0f), 1031);
  const Tensor row = random_f32(1031, 44, -1.0f, 1.0f);
  const auto g = grid.to_vector<float>(), r = row.to_vector<float>();
  const auto out = grid.sub(row).to_vector<float>();
  for (std::size_t i = 0; i < 1031; ++i)
    for (std::size_t j = 0; j < 1031; ++j) ASSERT_EQ(out[i * 1031 + j], g[i * 1031 + j] - r[j]) << i << "," << j;
  // A column broadcast: each row adds one value (a scalar run per row).
  const Tensor column = make_view(row, {1031, 1}, {1, 1}, 0);
  const auto out2 = grid.add(column).to_vector<float>();
  for (std::size_t i = 0; i < 1031; ++i)
    for (std::size_t j = 0; j < 1031; ++j) ASSERT_EQ(out2[i * 1031 + j], g[i * 1031 + j] + r[i]) << i << "," << j;
}

TEST(ElementwiseLarge, InPlaceOnALargeTensor) {
  const std::int64_t n = (std::int64_t{1} << 20) + 5;
  Tensor a = random_f32(n, 51, -2.0f, 2.0f);
  const auto before = a.to_vector<float>();
  a.mul_(3.0).relu_();
  const auto after = a.to_vector<float>();
  for (std::size_t i = 0; i < before.size(); ++i) {
    const float m = before[i] * 3.0f;
    ASSERT_EQ(after[i], m < 0 ? 0.0f : m) << i;
  }
}

}  // namespace
}  // namespace dm
