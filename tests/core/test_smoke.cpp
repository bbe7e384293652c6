#include <gtest/gtest.h>

#include <sstream>

#include "democratising/democratising.hpp"

TEST(CoreSmoke, ZerosFullAndVectorRoundTrip) {
  auto z = dm::Tensor::zeros({2, 3});
  EXPECT_EQ(z.shape(), (std::vector<std::int64_t>{2, 3}));
  for (float v : z.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  auto f = dm::Tensor::full({4}, 2.5, dm::DType::f64);
  for (double v : f.to_vector<double>()) EXPECT_EQ(v, 2.5);
  auto v = dm::Tensor::from_vector(std::vector<int>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(v.dtype(), dm::DType::i32);
  EXPECT_EQ(v.to_vector<double>()[5], 6.0);
  std::ostringstream os;
  os << v;
  EXPECT_NE(os.str().find("shape=(2, 3)"), std::string::npos) << os.str();
}
