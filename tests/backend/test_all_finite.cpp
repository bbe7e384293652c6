// The backend's all_finite: every non-finite value is found wherever it sits in a block,
// for f32, f64 and bf16, and finite extremes (the largest value, subnormals, -0.0) pass.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "backend/backend.hpp"
#include "democratising/core/tensor.hpp"

namespace {

template <class T>
bool finite(const std::vector<T>& v, dm::DType dtype) {
  return dm::backend::backend_for(dm::Device::cpu())
      .all_finite(reinterpret_cast<const std::byte*>(v.data()), dtype, static_cast<std::int64_t>(v.size()));
}

template <class T>
void check(dm::DType dtype) {
  using L = std::numeric_limits<T>;
  // Larger than one parallel block, so a value late in the buffer lands in another block.
  std::vector<T> v(200003, T(1.5));
  v[7] = L::max();
  v[8] = -L::max();
  v[9] = L::denorm_min();
  v[10] = T(-0.0);
  EXPECT_TRUE(finite(v, dtype));
  for (T bad : {L::infinity(), -L::infinity(), L::quiet_NaN()})
    for (std::size_t at : {std::size_t{0}, std::size_t{70000}, v.size() - 1}) {
      std::vector<T> w = v;
      w[at] = bad;
      EXPECT_FALSE(finite(w, dtype)) << bad << " at " << at;
    }
  EXPECT_TRUE(finite(std::vector<T>{}, dtype));
}

TEST(BackendAllFinite, FindsEveryNonFiniteValue) {
  check<float>(dm::DType::f32);
  check<double>(dm::DType::f64);
}

TEST(BackendAllFinite, Bf16) {
  std::vector<dm::bf16> v(1000, dm::bf16(2.0f));
  EXPECT_TRUE(finite(v, dm::DType::bf16));
  v[999] = dm::bf16(std::numeric_limits<float>::infinity());
  EXPECT_FALSE(finite(v, dm::DType::bf16));
}

}  // namespace
