#pragma once
// Element types. f32 is the default; bf16 is a storage type whose arithmetic runs in f32.
#include <cstdint>
#include <cstring>
#include <string_view>

namespace dm {

enum class DType : std::uint8_t { f32, f64, bf16, i32, i64, u8, boolean };
inline constexpr int kNumDTypes = 7;

/// bfloat16: the top half of an IEEE f32. Conversion rounds to nearest even.
struct bf16 {
  /// The stored bits: the top 16 of the f32.
  std::uint16_t bits = 0;
  bf16() = default;
  /// Rounds `f` to the nearest bf16 (ties to even); a NaN stays a NaN.
  bf16(float f) {  // NOLINT(google-explicit-constructor): behaves like a float
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = static_cast<std::uint16_t>((u >> 16) | 0x40u);  // keep NaN a NaN
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);
      bits = static_cast<std::uint16_t>(u >> 16);
    }
  }
  /// The exact f32 value.
  operator float() const {  // NOLINT(google-explicit-constructor)
    std::uint32_t u = std::uint32_t{bits} << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

/// Size of one element in bytes.
constexpr std::size_t itemsize(DType t) {
  switch (t) {
    case DType::f64: case DType::i64: return 8;
    case DType::f32: case DType::i32: return 4;
    case DType::bf16: return 2;
    case DType::u8: case DType::boolean: return 1;
  }
  return 0;
}

constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64 || t == DType::bf16; }
constexpr bool is_integral(DType t) { return !is_floating(t); }

/// "f32", "f64", "bf16", "i32", "i64", "u8", "bool".
std::string_view dtype_name(DType t);

/// The type both operands convert to in a binary op (PyTorch's promotion lattice):
/// bool < u8 < i32 < i64 < bf16 < f32 < f64.
DType promote_types(DType a, DType b);

/// `dtype_of<T>::value` is the DType of C++ type T: float, double, bf16, std::int32_t,
/// std::int64_t, std::uint8_t or bool (others do not compile).
template <class T> struct dtype_of;
/// @cond
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };
/// @endcond
/// Shorthand for dtype_of<T>::value.
template <class T> inline constexpr DType dtype_of_v = dtype_of<T>::value;

}  // namespace dm
