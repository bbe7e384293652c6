// A default-constructed Tensor is undefined: every operation on it throws ValueError naming
// the operation, while asking whether it is defined, comparing storage and printing it do not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "core/reference_indexing.hpp"
#include "democratising/democratising.hpp"

using dm::Tensor;
using testing::HasSubstr;

TEST(Undefined, PropertiesThrowValueError) {
  const Tensor u;
  EXPECT_FALSE(u.defined());
  EXPECT_THAT(dm_test::error_of<dm::ValueError>([&] { (void)u.shape(); }), HasSubstr("undefined"));
  EXPECT_THROW((void)u.strides(), dm::ValueError);
  EXPECT_THROW((void)u.size(0), dm::ValueError);
  EXPECT_THROW((void)u.stride(0), dm::ValueError);
  EXPECT_THROW((void)u.dim(), dm::ValueError);
  EXPECT_THROW((void)u.numel(), dm::ValueError);
  EXPECT_THROW((void)u.dtype(), dm::ValueError);
  EXPECT_THROW((void)u.device(), dm::ValueError);
  EXPECT_THROW((void)u.storage_offset(), dm::ValueError);
  EXPECT_THROW((void)u.is_contiguous(), dm::ValueError);
  EXPECT_THROW((void)u.data_ptr(), dm::ValueError);
  EXPECT_THROW((void)u.data<float>(), dm::ValueError);
  EXPECT_THROW(u.synchronize(), dm::ValueError);
}

TEST(Undefined, ValueAccessAndCopiesThrowValueError) {
  Tensor u;
  const Tensor d = Tensor::zeros({2});
  EXPECT_THROW(u.item<float>(), dm::ValueError);
  EXPECT_THROW(u.to_vector<float>(), dm::ValueError);
  EXPECT_THAT(dm_test::error_of<dm::ValueError>([&] { u.clone(); }), HasSubstr("[clone]"));
  EXPECT_THROW(u.contiguous(), dm::ValueError);
  EXPECT_THROW(u.to(dm::DType::f64), dm::ValueError);
  EXPECT_THROW(u.to(dm::Device::cpu()), dm::ValueError);
  EXPECT_THAT(dm_test::error_of<dm::ValueError>([&] { u.fill_(1.0); }), HasSubstr("[fill_]"));
  EXPECT_THROW(u.zero_(), dm::ValueError);
  EXPECT_THROW(u.copy_(d), dm::ValueError);
  Tensor target = Tensor::zeros({2});
  EXPECT_THROW(target.copy_(u), dm::ValueError);
}

TEST(Undefined, HarmlessQueries) {
  const Tensor u;
  const Tensor d = Tensor::zeros({1});
  EXPECT_FALSE(u.shares_storage_with(d));
  EXPECT_FALSE(d.shares_storage_with(u));
  EXPECT_FALSE(u.shares_storage_with(u));
  EXPECT_EQ(u.impl(), nullptr);
  std::ostringstream os;
  os << u;
  EXPECT_EQ(os.str(), "tensor(undefined)");
}
