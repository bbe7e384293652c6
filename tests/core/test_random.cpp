// Random creators: reproducible under manual_seed, the right distributions, and bitwise the
// same for any pool size (counter-based streams).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <thread>

#include "democratising/democratising.hpp"

using dm::DType;
using dm::Tensor;

namespace {

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || !(a.shape() == b.shape())) return false;
  const std::size_t bytes = static_cast<std::size_t>(a.numel()) * dm::itemsize(a.dtype());
  return std::memcmp(a.data_ptr(), b.data_ptr(), bytes) == 0;
}

template <class T>
std::pair<double, double> mean_and_std(const Tensor& t) {
  const T* p = t.data<T>();
  const auto n = static_cast<std::size_t>(t.numel());
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(p[i]);
  const double mean = sum / static_cast<double>(n);
  double sq = 0.0;
  for (std::size_t i = 0; i < n; ++i) sq += (static_cast<double>(p[i]) - mean) * (static_cast<double>(p[i]) - mean);
  return {mean, std::sqrt(sq / static_cast<double>(n - 1))};
}

// Restores the pool size when a test ends, even after a failed assertion.
class PoolSizeGuard {
 public:
  PoolSizeGuard() : saved_(dm::num_threads()) {}
  ~PoolSizeGuard() { dm::set_num_threads(saved_); }
  PoolSizeGuard(const PoolSizeGuard&) = delete;
  PoolSizeGuard& operator=(const PoolSizeGuard&) = delete;

 private:
  int saved_;
};

}  // namespace

TEST(Random, ManualSeedReproducesEveryCreator) {
  dm::manual_seed(42);
  const Tensor a = Tensor::randn({1000}), b = Tensor::rand({7, 3}, DType::f64), c = Tensor::randint(0, 10, {33});
  dm::manual_seed(42);
  const Tensor a2 = Tensor::randn({1000}), b2 = Tensor::rand({7, 3}, DType::f64), c2 = Tensor::randint(0, 10, {33});
  EXPECT_TRUE(bitwise_equal(a, a2));
  EXPECT_TRUE(bitwise_equal(b, b2));
  EXPECT_TRUE(bitwise_equal(c, c2));
  EXPECT_FALSE(bitwise_equal(a, Tensor::randn({1000})));  // the stream moved on
  dm::manual_seed(43);
  EXPECT_FALSE(bitwise_equal(a, Tensor::randn({1000})));
}

TEST(Random, GeneratorStateReplaysADraw) {
  dm::manual_seed(5);
  Tensor::randn({10});
  const dm::GeneratorState s = dm::generator_state();
  const Tensor first = Tensor::rand({100});
  dm::set_generator_state(s);
  EXPECT_TRUE(bitwise_equal(first, Tensor::rand({100})));
}

TEST(Random, AThreadStreamLeavesTheGlobalGeneratorAlone) {
  dm::manual_seed(11);
  const dm::GeneratorState before = dm::generator_state();
  Tensor inside, again;
  {
    dm::ThreadGeneratorScope stream({dm::derive_seed(before, 3), 0});
    inside = Tensor::rand({50});
    EXPECT_EQ(stream.state().offset, 50u / 4 + 1);  // rand claims one counter per 4 values
    {
      dm::ThreadGeneratorScope nested({99, 0});
      (void)Tensor::randn({8});
    }
    EXPECT_EQ(stream.state().offset, 50u / 4 + 1) << "the nested stream drew from the outer one";
  }
  EXPECT_EQ(dm::generator_state().offset, before.offset);
  {
    dm::ThreadGeneratorScope stream({dm::derive_seed(before, 3), 0});
    again = Tensor::rand({50});
  }
  EXPECT_TRUE(bitwise_equal(inside, again));
  // Another thread's draws meanwhile go to the global generator, not to this thread's stream.
  dm::ThreadGeneratorScope stream({dm::derive_seed(before, 4), 0});
  std::thread other([] { (void)Tensor::rand({40}); });
  other.join();
  EXPECT_EQ(stream.state().offset, 0u);
  EXPECT_EQ(dm::generator_state().offset, before.offset + 10);
}

TEST(Random, DerivedSeedsDifferPerIndexAndState) {
  std::set<std::uint64_t> seeds;
  for (std::uint64_t offset : {0u, 1u, 2u})
    for (std::uint64_t index = 0; index < 100; ++index) seeds.insert(dm::derive_seed({7, offset}, index));
  EXPECT_EQ(seeds.size(), 300u);
  const dm::GeneratorState claimed = dm::advance_generator(5);
  EXPECT_EQ(dm::generator_state().offset, claimed.offset + 5);
}

TEST(Random, RandnIsStandardNormal) {
  dm::manual_seed(1);
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(std::string(dm::dtype_name(dt)));
    const Tensor t = Tensor::randn({1000, 1000}, dt);
    EXPECT_EQ(t.dtype(), dt);
    const auto [mean, sd] = dt == DType::f32 ? mean_and_std<float>(t) : mean_and_std<double>(t);
    // With 1M samples the standard error of the mean is 0.001, so 0.01 is a loose bound.
    EXPECT_NEAR(mean, 0.0, 0.01);
    EXPECT_NEAR(sd, 1.0, 0.01);
  }
  const Tensor h = Tensor::randn({64}, DType::bf16);
  EXPECT_EQ(h.dtype(), DType::bf16);
  EXPECT_THROW(Tensor::randn({2}, DType::i32), dm::DTypeError);
}

TEST(Random, RandIsUniformInHalfOpenUnitInterval) {
  dm::manual_seed(2);
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(std::string(dm::dtype_name(dt)));
    const Tensor t = Tensor::rand({1 << 20}, dt);
    const std::vector<double> v = t.to_vector<double>();
    double lo = 1.0, hi = 0.0, sum = 0.0;
    for (double x : v) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      sum += x;
    }
    EXPECT_GE(lo, 0.0);
    EXPECT_LT(hi, 1.0);
    EXPECT_LT(lo, 1e-4);
    EXPECT_GT(hi, 1.0 - 1e-4);
    EXPECT_NEAR(sum / static_cast<double>(v.size()), 0.5, 0.01);
  }
  EXPECT_THROW(Tensor::rand({2}, DType::u8), dm::DTypeError);
}

TEST(Random, RandintStaysInRangeAndCoversIt) {
  dm::manual_seed(3);
  const Tensor t = Tensor::randint(-3, 4, {10000});
  EXPECT_EQ(t.dtype(), DType::i64);
  std::set<std::int64_t> seen;
  for (std::int64_t x : t.to_vector<std::int64_t>()) {
    ASSERT_GE(x, -3);
    ASSERT_LT(x, 4);
    seen.insert(x);
  }
  EXPECT_EQ(seen.size(), 7u);
  const Tensor i32 = Tensor::randint(0, 2, {2, 50}, DType::i32);
  EXPECT_EQ(i32.dtype(), DType::i32);
  EXPECT_EQ(i32.shape(), dm::Shape({2, 50}));
  const std::int64_t big = std::int64_t{1} << 61;
  const Tensor wide = Tensor::randint(-big, big, {1000});
  bool negative = false, positive = false;
  for (std::int64_t x : wide.to_vector<std::int64_t>()) {
    ASSERT_TRUE(x >= -big && x < big) << x;
    negative |= x < -(big / 2);
    positive |= x > big / 2;
  }
  EXPECT_TRUE(negative && positive);
  EXPECT_THROW(Tensor::randint(5, 5, {1}), dm::ValueError);
}

TEST(Random, BitwiseIdenticalForOneAndTwoThreads) {
  PoolSizeGuard guard;
  // Sizes past several parallel blocks, with ragged tails.
  auto draw = [] {
    dm::manual_seed(77);
    return std::vector<Tensor>{Tensor::randn({300001}), Tensor::randn({70001}, DType::f64), Tensor::rand({200003}),
                               Tensor::rand({90001}, DType::f64), Tensor::randint(-50, 50, {150001})};
  };
  dm::set_num_threads(1);
  const std::vector<Tensor> one = draw();
  dm::set_num_threads(2);
  const std::vector<Tensor> two = draw();
  for (std::size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(bitwise_equal(one[i], two[i])) << "draw " << i;
}

TEST(Random, EmptyAndScalarShapes) {
  EXPECT_EQ(Tensor::randn({0, 4}).numel(), 0);
  EXPECT_EQ(Tensor::rand({}).dim(), 0);
  EXPECT_EQ(Tensor::randint(0, 3, {}).numel(), 1);
}
