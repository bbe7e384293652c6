#pragma once
// The per-element functions of the elementwise kernels, one functor per op.
//
// Each functor computes in T (f32, f64, i32, i64 or u8). Floating functors also have a
// `vec` form on GCC vectors, which the loops prefer; integer ones are left to the
// auto-vectoriser. Integer arithmetic wraps around like PyTorch's (done in the unsigned type,
// where overflow is defined) instead of being undefined behaviour.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "backend/cpu/elementwise_math.hpp"
#include "backend/host_device.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // vectors only cross always-inlined calls

namespace dm::cpu::fn {

template <class T>
concept Floating = std::is_floating_point_v<T>;

// Unsigned type of the same width, at least 32 bits so u8 arithmetic is not promoted to int.
template <class T>
using Wide = std::conditional_t<(sizeof(T) < 4), std::uint32_t, std::make_unsigned_t<T>>;

template <class T>
[[gnu::always_inline]] DM_HOST_DEVICE inline T wrap_add(T a, T b) {
  if constexpr (Floating<T>) return a + b;
  else return static_cast<T>(static_cast<Wide<T>>(a) + static_cast<Wide<T>>(b));
}
template <class T>
[[gnu::always_inline]] DM_HOST_DEVICE inline T wrap_sub(T a, T b) {
  if constexpr (Floating<T>) return a - b;
  else return static_cast<T>(static_cast<Wide<T>>(a) - static_cast<Wide<T>>(b));
}
template <class T>
[[gnu::always_inline]] DM_HOST_DEVICE inline T wrap_mul(T a, T b) {
  if constexpr (Floating<T>) return a * b;
  else return static_cast<T>(static_cast<Wide<T>>(a) * static_cast<Wide<T>>(b));
}

/// base^exp for integers by squaring. A negative exponent gives what the real power truncates
/// to (1 for base 1, +-1 for base -1, else 0), as PyTorch does.
template <class T>
DM_HOST_DEVICE inline T int_pow(T base, T exp) {
  if constexpr (std::is_signed_v<T>) {
    if (exp < 0) {
      if (base == 1) return 1;
      if (base == -1) return (exp & 1) ? T(-1) : T(1);
      return 0;
    }
  }
  Wide<T> result = 1, b = static_cast<Wide<T>>(base);
  for (auto e = static_cast<Wide<T>>(exp); e != 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return static_cast<T>(result);
}

/// A double converted to T; integers saturate (and NaN gives 0) instead of being undefined.
template <class T>
DM_HOST_DEVICE inline T saturate(double v) {
  if constexpr (Floating<T>) {
    return static_cast<T>(v);
  } else {
    if (!(v == v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

// ---- binary ------------------------------------------------------------------------------

template <class T> struct Add {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a, T b) const { return wrap_add(a, b); }
  template <class V> [[gnu::always_inline]] V vec(const V& a, const V& b) const requires Floating<T> { return a + b; }
};
template <class T> struct Sub {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a, T b) const { return wrap_sub(a, b); }
  template <class V> [[gnu::always_inline]] V vec(const V& a, const V& b) const requires Floating<T> { return a - b; }
};
template <class T> struct Mul {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a, T b) const { return wrap_mul(a, b); }
  template <class V> [[gnu::always_inline]] V vec(const V& a, const V& b) const requires Floating<T> { return a * b; }
};
template <Floating T> struct Div {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a, T b) const { return a / b; }
  template <class V> [[gnu::always_inline]] V vec(const V& a, const V& b) const { return a / b; }
};
template <class T> struct Pow {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (Floating<T>) return std::pow(a, b);
    else return int_pow(a, b);
  }
};
// NaN wins, as in torch.maximum/minimum.
template <class T> struct Maximum {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a, T b) const { return (a > b || a != a) ? a : b; }
  template <class V> [[gnu::always_inline]] V vec(const V& a, const V& b) const requires Floating<T> {
    return ((a > b) | (a != a)) ? a : b;
  }
};
template <class T> struct Minimum {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a, T b) const { return (a < b || a != a) ? a : b; }
  template <class V> [[gnu::always_inline]] V vec(const V& a, const V& b) const requires Floating<T> {
    return ((a < b) | (a != a)) ? a : b;
  }
};

/// op(a, s) with a fixed right operand: a binary functor used as a unary one.
template <class Op, class T> struct BindRight {
  Op op;
  T s;
  [[gnu::always_inline]] DM_HOST_DEVICE auto operator()(T a) const { return op(a, s); }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires requires(V v) { op.vec(v, v); } {
    return op.vec(a, vmath::splat<V>(s));
  }
};
/// op(s, a) with a fixed left operand (s - t, s / t).
template <class Op, class T> struct BindLeft {
  Op op;
  T s;
  [[gnu::always_inline]] DM_HOST_DEVICE auto operator()(T a) const { return op(s, a); }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires requires(V v) { op.vec(v, v); } {
    return op.vec(vmath::splat<V>(s), a);
  }
};

// ---- unary -------------------------------------------------------------------------------

template <class T> struct Identity {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return a; }
};
template <class T> struct Neg {
  // -a, not 0 - a: neg(+0.0) is -0.0, as the vector form and torch give.
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const {
    if constexpr (Floating<T>) return -a;
    else return wrap_sub(T(0), a);
  }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires Floating<T> { return -a; }
};
template <class T> struct Abs {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const {
    if constexpr (Floating<T>) return std::fabs(a);
    else if constexpr (std::is_signed_v<T>) return a < 0 ? wrap_sub(T(0), a) : a;
    else return a;
  }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires Floating<T> { return vmath::abs(a); }
};
template <class T> struct Relu {
  // x < 0 ? 0 : x keeps NaN a NaN, as torch.relu does.
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return a < T(0) ? T(0) : a; }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires Floating<T> { return a < V{} ? V{} : a; }
};
template <class T> struct Clamp {
  T lo, hi;
  // min(max(x, lo), hi), as torch.clamp: hi wins when lo > hi, a NaN x passes through, and a
  // NaN bound makes every result NaN (a comparison with NaN is false, hence the `!=` tests).
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const {
    const T y = (a < lo || lo != lo) ? lo : a;
    return (y > hi || hi != hi) ? hi : y;
  }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires Floating<T> {
    const V l = vmath::splat<V>(lo), h = vmath::splat<V>(hi);
    const V y = ((a < l) | (l != l)) ? l : a;
    return ((y > h) | (h != h)) ? h : y;
  }
};
template <Floating T> struct Exp {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return std::exp(a); }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires std::is_same_v<T, float> { return vmath::exp(a); }
};
template <Floating T> struct Log {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return std::log(a); }
};
template <Floating T> struct Sqrt {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return std::sqrt(a); }
};
template <Floating T> struct Sigmoid {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return T(1) / (T(1) + std::exp(-a)); }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires std::is_same_v<T, float> { return vmath::sigmoid(a); }
};
template <Floating T> struct Tanh {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return std::tanh(a); }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires std::is_same_v<T, float> { return vmath::tanh(a); }
};
template <Floating T> struct Gelu {
  // Below -40 erfc is 0; clamping the factor keeps -inf * 0 from turning into NaN.
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const {
    const T factor = a < T(-40) ? T(-40) : a;
    return T(0.5) * factor * std::erfc(-a * T(0.70710678118654752440));
  }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires std::is_same_v<T, float> { return vmath::gelu(a); }
};
template <class T> struct Square {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return wrap_mul(a, a); }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires Floating<T> { return a * a; }
};
template <class T> struct Cube {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return wrap_mul(wrap_mul(a, a), a); }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const requires Floating<T> { return a * a * a; }
};
template <Floating T> struct Reciprocal {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return T(1) / a; }
  template <class V> [[gnu::always_inline]] V vec(const V& a) const { return vmath::splat<V>(T(1)) / a; }
};
/// x^-0.5 as 1 / sqrt(x), as torch computes it: at -0.0 that is 1 / -0.0 = -inf, where the
/// libm pow gives +inf.
template <Floating T> struct Rsqrt {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T a) const { return T(1) / std::sqrt(a); }
};

// ---- comparisons and selection -----------------------------------------------------------

template <class T> struct Eq { [[gnu::always_inline]] DM_HOST_DEVICE bool operator()(T a, T b) const { return a == b; } };
template <class T> struct Ne { [[gnu::always_inline]] DM_HOST_DEVICE bool operator()(T a, T b) const { return a != b; } };
template <class T> struct Lt { [[gnu::always_inline]] DM_HOST_DEVICE bool operator()(T a, T b) const { return a < b; } };
template <class T> struct Le { [[gnu::always_inline]] DM_HOST_DEVICE bool operator()(T a, T b) const { return a <= b; } };
template <class T> struct Gt { [[gnu::always_inline]] DM_HOST_DEVICE bool operator()(T a, T b) const { return a > b; } };
template <class T> struct Ge { [[gnu::always_inline]] DM_HOST_DEVICE bool operator()(T a, T b) const { return a >= b; } };

/// cond ? a : b, with the condition converted to T (0 or 1).
template <class T> struct Select {
  [[gnu::always_inline]] DM_HOST_DEVICE T operator()(T cond, T a, T b) const { return cond != T(0) ? a : b; }
};

}  // namespace dm::cpu::fn

#pragma GCC diagnostic pop
