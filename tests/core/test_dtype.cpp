// DType: the promotion table, bf16 rounding (nearest even, NaN kept), item sizes and names.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "democratising/democratising.hpp"

using dm::DType;

namespace {

constexpr DType kAll[] = {DType::boolean, DType::u8, DType::i32, DType::i64, DType::bf16, DType::f32, DType::f64};

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round-to-nearest-even to the top 16 bits, decided by comparing the dropped half with the
// halfway point (not by the add-and-truncate trick), for finite and infinite inputs.
std::uint16_t reference_bf16_bits(float f) {
  const std::uint32_t u = bits_of(f);
  const std::uint32_t lower = u >> 16, dropped = u & 0xffffu;
  if (dropped > 0x8000u) return static_cast<std::uint16_t>(lower + 1);
  if (dropped < 0x8000u) return static_cast<std::uint16_t>(lower);
  return static_cast<std::uint16_t>((lower & 1u) ? lower + 1 : lower);  // a tie: pick the even one
}

}  // namespace

TEST(DType, PromotionTableMatchesTorch) {
  // Rows and columns in the order of kAll: bool, u8, i32, i64, bf16, f32, f64.
  const DType table[7][7] = {
      {DType::boolean, DType::u8, DType::i32, DType::i64, DType::bf16, DType::f32, DType::f64},
      {DType::u8, DType::u8, DType::i32, DType::i64, DType::bf16, DType::f32, DType::f64},
      {DType::i32, DType::i32, DType::i32, DType::i64, DType::bf16, DType::f32, DType::f64},
      {DType::i64, DType::i64, DType::i64, DType::i64, DType::bf16, DType::f32, DType::f64},
      {DType::bf16, DType::bf16, DType::bf16, DType::bf16, DType::bf16, DType::f32, DType::f64},
      {DType::f32, DType::f32, DType::f32, DType::f32, DType::f32, DType::f32, DType::f64},
      {DType::f64, DType::f64, DType::f64, DType::f64, DType::f64, DType::f64, DType::f64},
  };
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 7; ++j)
      EXPECT_EQ(dm::promote_types(kAll[i], kAll[j]), table[i][j])
          << dm::dtype_name(kAll[i]) << " with " << dm::dtype_name(kAll[j]);
}

TEST(DType, ItemsizeNamesAndKinds) {
  EXPECT_EQ(dm::itemsize(DType::boolean), 1u);
  EXPECT_EQ(dm::itemsize(DType::u8), 1u);
  EXPECT_EQ(dm::itemsize(DType::i32), 4u);
  EXPECT_EQ(dm::itemsize(DType::i64), 8u);
  EXPECT_EQ(dm::itemsize(DType::bf16), 2u);
  EXPECT_EQ(dm::itemsize(DType::f32), 4u);
  EXPECT_EQ(dm::itemsize(DType::f64), 8u);
  EXPECT_EQ(dm::itemsize(DType::bf16), sizeof(dm::bf16));
  EXPECT_EQ(dm::dtype_name(DType::boolean), "bool");
  EXPECT_EQ(dm::dtype_name(DType::u8), "u8");
  EXPECT_EQ(dm::dtype_name(DType::i32), "i32");
  EXPECT_EQ(dm::dtype_name(DType::i64), "i64");
  EXPECT_EQ(dm::dtype_name(DType::bf16), "bf16");
  EXPECT_EQ(dm::dtype_name(DType::f32), "f32");
  EXPECT_EQ(dm::dtype_name(DType::f64), "f64");
  for (DType t : kAll) {
    const bool floating = t == DType::bf16 || t == DType::f32 || t == DType::f64;
    EXPECT_EQ(dm::is_floating(t), floating) << dm::dtype_name(t);
    EXPECT_EQ(dm::is_integral(t), !floating) << dm::dtype_name(t);
  }
  EXPECT_EQ(dm::dtype_of_v<float>, DType::f32);
  EXPECT_EQ(dm::dtype_of_v<dm::bf16>, DType::bf16);
  EXPECT_EQ(dm::dtype_of_v<bool>, DType::boolean);
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(dm::bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(dm::bf16(1.0f + 0x1.0p-8f).bits, 0x3f80);         // halfway, 0x3f80 is even: down
  EXPECT_EQ(dm::bf16(1.0f + 3 * 0x1.0p-8f).bits, 0x3f82);     // halfway, 0x3f81 is odd: up
  EXPECT_EQ(dm::bf16(1.0f + 0x1.0p-8f + 0x1.0p-20f).bits, 0x3f81);  // just above halfway: up
  EXPECT_EQ(dm::bf16(-2.5f).bits, 0xc020);
  EXPECT_EQ(dm::bf16(-0.0f).bits, 0x8000);
  EXPECT_EQ(dm::bf16(std::numeric_limits<float>::infinity()).bits, 0x7f80);
  EXPECT_EQ(dm::bf16(-std::numeric_limits<float>::infinity()).bits, 0xff80);
  EXPECT_EQ(dm::bf16(std::numeric_limits<float>::max()).bits, 0x7f80);  // rounds past the largest bf16
  EXPECT_EQ(static_cast<float>(dm::bf16(3.0f)), 3.0f);
  // Random bit patterns over the whole finite range.
  std::mt19937 rng(99);
  for (int i = 0; i < 200000; ++i) {
    const float f = float_of(static_cast<std::uint32_t>(rng()));
    if (std::isnan(f)) continue;
    ASSERT_EQ(dm::bf16(f).bits, reference_bf16_bits(f)) << std::hexfloat << f;
  }
}

TEST(DType, Bf16KeepsNaNAndRoundTripsEveryValue) {
  for (std::uint32_t payload : {0x7fc00000u, 0x7f800001u, 0x7f80ffffu, 0xffc00000u, 0xff800001u, 0x7fffffffu}) {
    const dm::bf16 b(float_of(payload));
    EXPECT_TRUE(std::isnan(static_cast<float>(b))) << std::hex << payload;
    EXPECT_EQ(b.bits & 0x8000u, (payload >> 16) & 0x8000u) << "sign kept for " << std::hex << payload;
  }
  // Every bf16 value is a float, so widening then narrowing gives the same bits back.
  for (std::uint32_t bits = 0; bits <= 0xffffu; ++bits) {
    dm::bf16 b;
    b.bits = static_cast<std::uint16_t>(bits);
    const float f = b;
    EXPECT_EQ(bits_of(f), bits << 16);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(static_cast<float>(dm::bf16(f))));
    } else {
      ASSERT_EQ(dm::bf16(f).bits, bits);
    }
  }
}
