// Size arithmetic that cannot wrap: products of extents and byte counts beyond 64 bits are a
// ShapeError or a MemoryError naming the size, never a small wrapped buffer (a crash later),
// an endless loop in the allocator, or a bare std::bad_alloc.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "democratising/base/checked.hpp"
#include "democratising/democratising.hpp"
#include "support/within_deadline.hpp"

namespace {

using dm::Shape;
using dm::Tensor;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kTwoTo62 = std::int64_t{1} << 62;

/// What `fn` threw ("ShapeError: ...", "MemoryError: ...", "other: ...", or "" for nothing),
/// or a failure when it has not returned after 10 s: the allocator used to loop forever on
/// huge sizes, and the loop is left behind on a detached thread instead of hanging the suite.
std::string thrown_by(std::function<void()> fn) {
  auto outcome = dm::testing::outcome_within(10.0, [fn = std::move(fn)]() -> std::string {
    try {
      fn();
      return "";
    } catch (const dm::ShapeError& e) {
      return std::string("ShapeError: ") + e.what();
    } catch (const dm::MemoryError& e) {
      return std::string("MemoryError: ") + e.what();
    } catch (const std::exception& e) {
      return std::string("other: ") + e.what();
    }
  });
  return outcome.value_or("did not return within 10 s");
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(CheckedMath, ProductsAndSumsReportOverflow) {
  EXPECT_EQ(dm::checked_mul(3, 4), 12);
  EXPECT_EQ(dm::checked_mul(kMax, 1), kMax);
  EXPECT_FALSE(dm::checked_mul(kTwoTo62, 2).has_value());
  EXPECT_FALSE(dm::checked_mul(784, kTwoTo62).has_value());
  EXPECT_EQ(dm::checked_add(kMax - 1, 1), kMax);
  EXPECT_FALSE(dm::checked_add(kMax, 1).has_value());
  // ceil_div against the plain formula where that cannot overflow, and at the edge where it would.
  for (std::int64_t a = 0; a < 50; ++a)
    for (std::int64_t b = 1; b < 9; ++b) EXPECT_EQ(dm::ceil_div(a, b), (a + b - 1) / b) << a << " / " << b;
  EXPECT_EQ(dm::ceil_div(kMax, kMax), 1);
  EXPECT_EQ(dm::ceil_div(kMax, 2), kMax / 2 + 1);
  EXPECT_EQ(dm::ceil_div(100, kMax), 1);
}

TEST(CheckedMath, ByteCountsBeyondAnyBufferAreMemoryErrors) {
  EXPECT_EQ(dm::checked_byte_count(10, 4, "t"), 40u);
  EXPECT_THROW(dm::checked_byte_count(kMax / 2, 4, "t"), dm::MemoryError);
  EXPECT_THROW(dm::checked_byte_count(-1, 4, "t"), dm::MemoryError);
  try {
    dm::checked_byte_count(kMax / 2, 4, "tensor");
  } catch (const dm::MemoryError& e) {
    EXPECT_TRUE(starts_with(e.what(), "[tensor] " + std::to_string(kMax / 2) + " elements of 4 bytes")) << e.what();
  }
}

TEST(CheckedSizes, NumelOverflowIsAShapeErrorNamingTheShape) {
  const Shape wraps_to_zero{784, kTwoTo62};  // 784 * 2^62 = 196 * 2^64: wraps to exactly 0
  const std::string thrown = thrown_by([&] { (void)wraps_to_zero.numel(); });
  EXPECT_TRUE(starts_with(thrown, "ShapeError: [shape]")) << thrown;
  EXPECT_NE(thrown.find("4611686018427387904"), std::string::npos) << thrown;
  EXPECT_THROW((void)Shape({kMax, 2}).numel(), dm::ShapeError);
  EXPECT_THROW((void)Shape({1 << 20, 1 << 20, 1 << 20, 1 << 20}).numel(), dm::ShapeError);
  // A zero extent holds no elements, however large the others.
  EXPECT_EQ(Shape({kTwoTo62, kTwoTo62, 0}).numel(), 0);
  EXPECT_EQ(Shape({kMax}).numel(), kMax);
  EXPECT_EQ(Shape({}).numel(), 1);
}

TEST(CheckedSizes, StridesThatOverflowAreAShapeError) {
  EXPECT_THROW(dm::contiguous_strides(Shape{2, kTwoTo62, 4}), dm::ShapeError);
  // The outermost extent enters no stride: (huge, 1) has strides (1, 1).
  EXPECT_EQ(dm::contiguous_strides(Shape{kMax, 1}), (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(dm::contiguous_strides(Shape{2, 3, 4}), (std::vector<std::int64_t>{12, 4, 1}));
}

TEST(CheckedSizes, CreatorsOfImpossibleShapesThrowTypedErrors) {
  // The shapes of mlp:784-4611686018427387904-10 and mlp:784-9223372036854775807-10.
  for (const Shape& shape : {Shape{kTwoTo62, 784}, Shape{784, kTwoTo62}, Shape{kMax, 784}}) {
    SCOPED_TRACE(shape.str());
    for (const auto& create : std::vector<std::function<void()>>{
             [&] { (void)Tensor::rand(shape); }, [&] { (void)Tensor::randn(shape); },
             [&] { (void)Tensor::zeros(shape); }, [&] { (void)Tensor::empty(shape, dm::DType::u8); }}) {
      const std::string thrown = thrown_by(create);
      EXPECT_TRUE(starts_with(thrown, "ShapeError: ")) << thrown;
    }
  }
  // Elements that fit an int64 but bytes that do not.
  const std::string too_many_bytes = thrown_by([] { (void)Tensor::empty({kMax / 2}, dm::DType::f32); });
  EXPECT_TRUE(starts_with(too_many_bytes, "MemoryError: [tensor]")) << too_many_bytes;
  EXPECT_NE(too_many_bytes.find(std::to_string(kMax / 2)), std::string::npos) << too_many_bytes;
}

TEST(CheckedSizes, ReshapeToAnOverflowingShapeIsAShapeError) {
  const Tensor t = Tensor::zeros({4});
  // 2^62 * 4 used to wrap to 0 and pass for "the other dims hold no elements".
  try {
    (void)t.reshape({kTwoTo62, 4, -1});
    ADD_FAILURE() << "no error";
  } catch (const dm::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("overflows"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.reshape({kMax, 2}), dm::ShapeError);
}

TEST(CheckedSizes, TensorsTooLargeForAnyAddressSpaceAreAMemoryError) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizers' allocators abort on requests this large instead of refusing them";
#endif
  // 1 PiB fits the arithmetic but no x86-64 or arm64 address space: the system refuses it,
  // and that refusal is a MemoryError naming the size, not a bare std::bad_alloc.
  const std::size_t petabyte = std::size_t{1} << 50;
  const std::string refused = thrown_by([] { (void)Tensor::empty({std::int64_t{1} << 50}, dm::DType::u8); });
  EXPECT_TRUE(starts_with(refused, "MemoryError: [allocate]")) << refused;
  EXPECT_NE(refused.find(std::to_string(petabyte)), std::string::npos) << refused;
  // The allocator's figures are as they were: the failed request holds nothing.
  const Tensor small = Tensor::zeros({3});
  EXPECT_EQ(small.sum().item<float>(), 0.0f);
}

}  // namespace
