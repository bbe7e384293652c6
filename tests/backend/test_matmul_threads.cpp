// matmul's results do not depend on the pool: the same bits for 1, 2 and 3 threads, for the
// engine's sequential schedule, and for matmuls nested inside a parallel par_map.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/cpu/gemm.hpp"
#include "democratising/runtime/pool.hpp"
#include "democratising/core/tensor.hpp"

namespace {

using dm::DType;
using dm::Shape;
using dm::Tensor;
using Dims = std::vector<std::int64_t>;

Tensor operand(const Dims& shape, DType dtype, std::uint64_t seed) {
  const Shape s(shape);
  std::vector<float> values(static_cast<std::size_t>(s.numel()));
  std::uint64_t state = seed;
  for (auto& v : values) {
    state = state * 2862933555777941757ull + 3037000493ull;
    v = static_cast<float>(static_cast<double>(state >> 11) / 9007199254740992.0 - 0.5);
  }
  return Tensor::from_vector(values, s).to(dtype);
}

bool same_bits(const Tensor& x, const Tensor& y) {
  if (x.shape() != y.shape() || x.dtype() != y.dtype()) return false;
  const Tensor cx = x.contiguous(), cy = y.contiguous();
  const auto bytes = static_cast<std::size_t>(x.numel()) * dm::itemsize(x.dtype());
  return std::memcmp(cx.data_ptr(), cy.data_ptr(), bytes) == 0;
}

// Restores the pool size a test found, whatever the test set.
class PoolSizeGuard {
 public:
  PoolSizeGuard() : saved_(dm::num_threads()) {}
  ~PoolSizeGuard() { dm::set_num_threads(saved_); }
  PoolSizeGuard(const PoolSizeGuard&) = delete;
  PoolSizeGuard& operator=(const PoolSizeGuard&) = delete;

 private:
  int saved_;
};

struct Case {
  Dims lhs, rhs;
};

TEST(MatmulThreads, BitwiseIdenticalForAnyThreadCount) {
  PoolSizeGuard guard;
  const std::vector<Case> cases = {
      {{256, 784}, {784, 128}},     // the MLP's first layer
      {{300, 200}, {200, 170}},     // ragged edge tiles on both sides
      {{64, 64}, {64, 64}},         // just past the inline threshold
      {{1024, 96}, {96, 1030}},     // several tiles each way
      {{6, 100, 80}, {6, 80, 120}},  // batched
      {{3, 1, 70, 90}, {4, 90, 50}},  // batched with broadcast
      {{5, 60, 70}, {70, 40}},      // folded into one tall product
      {{1, 3000}, {3000, 700}},     // one row
      {{900, 1500}, {1500}},        // one column
  };
  for (DType dtype : {DType::f32, DType::f64}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(Shape(c.lhs).str() + " @ " + Shape(c.rhs).str());
      const Tensor a = operand(c.lhs, dtype, 11), b = operand(c.rhs, dtype, 12);
      dm::set_num_threads(1);
      const Tensor one = dm::matmul(a, b);
      for (int threads : {2, 3}) {
        dm::set_num_threads(threads);
        EXPECT_TRUE(same_bits(one, dm::matmul(a, b))) << threads << " threads";
      }
    }
  }
}

TEST(MatmulThreads, SequentialScheduleGivesTheSameBits) {
  PoolSizeGuard guard;
  dm::set_num_threads(2);
  const std::int64_t m = 256, k = 784, n = 128;
  const Tensor a = operand({m, k}, DType::f32, 3), b = operand({k, n}, DType::f32, 4);
  const std::vector<std::int64_t> zero{0};
  dm::cpu::GemmOperand<float> ga{a.data<float>(), zero, false, k};
  dm::cpu::GemmOperand<float> gb{b.data<float>(), zero, false, n};
  std::vector<float> parallel(static_cast<std::size_t>(m * n)), sequential(parallel.size());
  dm::cpu::gemm({1, m, n, k}, ga, gb, parallel.data(), dm::cpu::GemmSchedule::parallel);
  dm::cpu::gemm({1, m, n, k}, ga, gb, sequential.data(), dm::cpu::GemmSchedule::sequential);
  EXPECT_EQ(std::memcmp(parallel.data(), sequential.data(), parallel.size() * sizeof(float)), 0);
  EXPECT_TRUE(same_bits(dm::matmul(a, b), Tensor::from_vector(sequential, Shape{m, n})));
}

TEST(MatmulThreads, NestedInsideParMapMatchesSequential) {
  PoolSizeGuard guard;
  dm::set_num_threads(2);
  std::vector<std::pair<Tensor, Tensor>> problems;
  for (std::uint64_t i = 0; i < 8; ++i)  // each 2 * 128^3 = 4 MFLOP: parallel by itself
    problems.emplace_back(operand({128, 128}, DType::f32, 100 + i), operand({128, 128}, DType::f32, 200 + i));
  std::vector<Tensor> sequential;
  for (const auto& [a, b] : problems) sequential.push_back(dm::matmul(a, b));
  const std::vector<Tensor> nested = dm::par_map(problems, [](const std::pair<Tensor, Tensor>& p) {
    return dm::matmul(p.first, p.second);
  });
  ASSERT_EQ(nested.size(), sequential.size());
  for (std::size_t i = 0; i < nested.size(); ++i) EXPECT_TRUE(same_bits(nested[i], sequential[i])) << "matmul " << i;
}

}  // namespace
