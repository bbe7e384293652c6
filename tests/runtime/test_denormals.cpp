// flush_denormals: results that would be subnormal become zero, subnormal inputs read as zero,
// threads started afterwards inherit the mode, and turning it off restores IEEE behaviour.
// Each case runs on a thread of its own so the mode never leaks into other tests.
#include <cfloat>
#include <limits>
#include <thread>

#include <gtest/gtest.h>

#include "democratising/runtime/denormals.hpp"

namespace {

// volatile: the products must be computed at run time, under the thread's mode.
float product(float a, float b) {
  volatile float x = a, y = b;
  return x * y;
}

double product(double a, double b) {
  volatile double x = a, y = b;
  return x * y;
}

template <class F>
void on_own_thread(F&& fn) {
  std::thread t(std::forward<F>(fn));
  t.join();
}

TEST(Denormals, FlushingTurnsSubnormalResultsAndInputsIntoZero) {
#if !(defined(__x86_64__) || defined(__i386__))
  GTEST_SKIP() << "flush-to-zero is implemented for x86 only";
#endif
  on_own_thread([] {
    const float subnormal_f = std::numeric_limits<float>::denorm_min() * 1000;
    const double subnormal_d = std::numeric_limits<double>::denorm_min() * 1000;
    ASSERT_FALSE(dm::flushing_denormals());
    // IEEE first: the product is a subnormal, and a subnormal input keeps its value.
    EXPECT_GT(product(1e-30f, 1e-10f), 0.0f);
    EXPECT_LT(product(1e-30f, 1e-10f), FLT_MIN);
    EXPECT_EQ(product(subnormal_f, 1.0f), subnormal_f);
    EXPECT_GT(product(1e-300, 1e-10), 0.0);

    ASSERT_TRUE(dm::flush_denormals(true));
    EXPECT_TRUE(dm::flushing_denormals());
    EXPECT_EQ(product(1e-30f, 1e-10f), 0.0f);
    EXPECT_EQ(product(subnormal_f, 1.0f), 0.0f);
    EXPECT_EQ(product(1e-300, 1e-10), 0.0);
    EXPECT_EQ(product(subnormal_d, 1.0), 0.0);
    // Normal numbers are untouched, down to the smallest.
    EXPECT_EQ(product(FLT_MIN, 1.0f), FLT_MIN);
    EXPECT_EQ(product(3.0f, 7.0f), 21.0f);

    ASSERT_TRUE(dm::flush_denormals(false));
    EXPECT_FALSE(dm::flushing_denormals());
    EXPECT_GT(product(1e-30f, 1e-10f), 0.0f);
  });
}

TEST(Denormals, ThreadsStartedAfterwardsInheritTheMode) {
#if !(defined(__x86_64__) || defined(__i386__))
  GTEST_SKIP() << "flush-to-zero is implemented for x86 only";
#endif
  on_own_thread([] {
    ASSERT_TRUE(dm::flush_denormals(true));
    bool child_flushes = false;
    float child_product = -1.0f;
    on_own_thread([&] {
      child_flushes = dm::flushing_denormals();
      child_product = product(1e-30f, 1e-10f);
    });
    EXPECT_TRUE(child_flushes);
    EXPECT_EQ(child_product, 0.0f);
  });
  // The test's own thread never changed.
  EXPECT_FALSE(dm::flushing_denormals());
}

}  // namespace
