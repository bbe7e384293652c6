#pragma once
// NaN-aware max/min scans on f32/f64 written with GCC vectors (16 bytes: the x86-64 baseline).
// Plain loops do not do: under -ftrapping-math, GCC's default, a float comparison may trap,
// so GCC will not if-convert `v > m || v != v ? v : m` and the loop stays scalar and
// branchy, about 4x slower than these. Vector comparisons give lane masks and never branch.
//
// The ranking is the one of the extreme kernel: for max, v ranks above m when v > m or when v
// is NaN and m is not (for min, v < m or the same NaN rule), so NaN wins and sticks.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "reduce.hpp"

// These vector types never cross a non-inlined call boundary; GCC's AVX ABI note is moot.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dm::cpu::simd {

template <class T>
struct Vec16Of {
  typedef T type __attribute__((vector_size(16)));
};
/// 16 bytes of T: 4 floats or 2 doubles.
template <class T>
using Vec = typename Vec16Of<T>::type;
/// The integer of T's width: lane masks of Vec<T> and index lanes beside them.
template <class T>
using SameWidthInt = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;

template <class T>
inline constexpr std::int64_t kWidth = 16 / sizeof(T);

template <class T>
inline constexpr bool kHasVectorScan = std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
[[gnu::always_inline]] inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
[[gnu::always_inline]] inline void store(T* p, Vec<T> v) {
  std::memcpy(p, &v, sizeof v);
}

template <class T>
[[gnu::always_inline]] inline Vec<T> splat(T s) {
  return Vec<T>{} + s;
}

/// Lane mask (-1 / 0): a ranks strictly above b.
template <Extreme kKind, class V>
[[gnu::always_inline]] inline auto ranks_above(V a, V b) {
  if constexpr (kKind == Extreme::max) {
    return (a > b) | ((a != a) & (b == b));
  } else {
    return (a < b) | ((a != a) & (b == b));
  }
}

/// Scalar twin of ranks_above, for folding lanes and tails; any ordered T.
template <Extreme kKind, class T>
inline bool ranks_above_scalar(T a, T b) {
  const bool above = kKind == Extreme::max ? a > b : a < b;
  if constexpr (std::is_floating_point_v<T>) {
    return above || (a != a && b == b);
  } else {
    return above;
  }
}

/// The extreme of x[0..n), n >= 1; NaN when x holds one.
template <Extreme kKind, class T>
T extreme_of(const T* x, std::int64_t n) {
  using V = Vec<T>;
  constexpr std::int64_t kW = kWidth<T>;
  constexpr int kAcc = 4;  // independent chains hide the compare/blend latency
  V acc[kAcc];
  for (auto& a : acc) a = splat(x[0]);
  std::int64_t i = 0;
  for (; i + kAcc * kW <= n; i += kAcc * kW)
    for (int a = 0; a < kAcc; ++a) {
      const V v = load(x + i + a * kW);
      acc[a] = ranks_above<kKind>(v, acc[a]) ? v : acc[a];
    }
  T best = x[0];
  for (int a = 0; a < kAcc; ++a)
    for (std::int64_t l = 0; l < kW; ++l)
      if (ranks_above_scalar<kKind>(acc[a][l], best)) best = acc[a][l];
  for (; i < n; ++i)
    if (ranks_above_scalar<kKind>(x[i], best)) best = x[i];
  return best;
}

/// For each column i in [0, width): when row[i] ranks above best[i], best[i] = row[i] and
/// (unless index is null) index[i] = row_index. One row of a column reduction.
template <Extreme kKind, class T>
void update_columns(const T* row, std::int64_t width, T* best, SameWidthInt<T>* index, SameWidthInt<T> row_index) {
  using V = Vec<T>;
  using VI = Vec<SameWidthInt<T>>;
  constexpr std::int64_t kW = kWidth<T>;
  const VI r = splat(row_index);
  std::int64_t i = 0;
  for (; i + kW <= width; i += kW) {
    const V v = load(row + i), b = load(best + i);
    const auto take = ranks_above<kKind>(v, b);
    store(best + i, take ? v : b);
    if (index) store(index + i, take ? r : load(index + i));
  }
  for (; i < width; ++i)
    if (ranks_above_scalar<kKind>(row[i], best[i])) {
      best[i] = row[i];
      if (index) index[i] = row_index;
    }
}

}  // namespace dm::cpu::simd
