#pragma once
// Overflow-checked size arithmetic. Every product of extents and every byte count goes through
// these: a shape read from a file or a command line can hold any int64, and a wrapped product
// would allocate a small buffer that later loops index far past (or a negative size that turns
// into an endless loop). The checked forms turn that into an error naming the sizes.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "democratising/base/error.hpp"

namespace dm {

/// a * b, or nullopt when the product does not fit in an int64.
inline std::optional<std::int64_t> checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

/// a + b, or nullopt when the sum does not fit in an int64.
inline std::optional<std::int64_t> checked_add(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

/// ceil(a / b) for a >= 0 and b > 0, without the overflow of (a + b - 1) / b near INT64_MAX.
inline constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

/// The largest byte count any buffer may have: pointer differences inside one object must fit
/// in a ptrdiff_t, so nothing larger can ever be addressed.
inline constexpr std::size_t kMaxBufferBytes = static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max());

/// Bytes of `count` elements of `itemsize` bytes each. Throws MemoryError naming `op` and both
/// factors when count is negative or the product exceeds kMaxBufferBytes.
inline std::size_t checked_byte_count(std::int64_t count, std::size_t itemsize, const char* op) {
  std::size_t out = 0;
  if (count < 0 || __builtin_mul_overflow(static_cast<std::size_t>(count), itemsize, &out) || out > kMaxBufferBytes)
    throw MemoryError(std::string("[") + op + "] " + std::to_string(count) + " elements of " + std::to_string(itemsize) +
                      " bytes do not fit in any buffer (at most " + std::to_string(kMaxBufferBytes) + " bytes)");
  return out;
}

}  // namespace dm
