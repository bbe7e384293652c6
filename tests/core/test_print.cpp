// operator<< for tensors: values, shape, dtype and device; large tensors summarised.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "democratising/democratising.hpp"

using dm::DType;
using dm::Tensor;
using testing::HasSubstr;
using testing::Not;

namespace {
std::string printed(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}
}  // namespace

TEST(Print, SmallTensorShowsValuesShapeDtypeAndDevice) {
  const std::string s = printed(Tensor::from_vector(std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f}, {2, 2}));
  EXPECT_THAT(s, HasSubstr("tensor("));
  EXPECT_THAT(s, HasSubstr("1.5000"));
  EXPECT_THAT(s, HasSubstr("-2.0000"));
  EXPECT_THAT(s, HasSubstr("3.2500"));
  EXPECT_THAT(s, HasSubstr("shape=(2, 2)"));
  EXPECT_THAT(s, HasSubstr("dtype=f32"));
  EXPECT_THAT(s, HasSubstr("device=cpu"));
  EXPECT_THAT(s, Not(HasSubstr("...")));
}

TEST(Print, IntegersBoolsScalarsAndOtherDevices) {
  const std::string ints = printed(Tensor::from_vector(std::vector<std::int64_t>{7, -3, 12}));
  EXPECT_THAT(ints, HasSubstr("[7, -3, 12]"));
  EXPECT_THAT(ints, HasSubstr("dtype=i64"));
  EXPECT_THAT(ints, HasSubstr("shape=(3,)"));
  EXPECT_THAT(printed(Tensor::from_vector(std::vector<bool>{true, false})), HasSubstr("dtype=bool"));
  const std::string scalar = printed(Tensor::scalar(2.0, DType::f64));
  EXPECT_THAT(scalar, HasSubstr("2.0000"));
  EXPECT_THAT(scalar, HasSubstr("shape=()"));
  EXPECT_THAT(scalar, HasSubstr("dtype=f64"));
  EXPECT_THAT(printed(Tensor::zeros({2}, DType::bf16, dm::Device::cpu(1))), HasSubstr("device=cpu:1"));
  EXPECT_THAT(printed(Tensor::zeros({0, 3})), HasSubstr("shape=(0, 3)"));
  // A strided view prints its own logical order.
  const Tensor t = Tensor::from_vector(std::vector<std::int32_t>{1, 2, 3, 4, 5, 6}, {2, 3}).t();
  EXPECT_THAT(printed(t), HasSubstr("[[1, 4],"));
}

TEST(Print, LargeTensorIsSummarised) {
  const Tensor big = Tensor::arange(0.0, 5000.0, 1.0, DType::i64).reshape({50, 100});
  const std::string s = printed(big);
  EXPECT_THAT(s, HasSubstr("..."));
  EXPECT_THAT(s, HasSubstr("[0, 1, 2, ..., 97, 98, 99]"));
  EXPECT_THAT(s, HasSubstr("4999"));
  EXPECT_THAT(s, HasSubstr("shape=(50, 100)"));
  EXPECT_THAT(s, Not(HasSubstr("2500")));  // a middle row is not printed
  EXPECT_LT(s.size(), 1000u);
}

TEST(Print, UndefinedTensor) { EXPECT_EQ(printed(Tensor()), "tensor(undefined)"); }
