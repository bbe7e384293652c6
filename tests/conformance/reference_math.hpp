#pragma once
// The scalar maths of the references, in double, with NaN propagated as PyTorch does.
#include <cmath>

#include "democratising/base/dtype.hpp"

namespace dm::conformance::ref {

inline double relu(double x) { return std::isnan(x) ? x : (x > 0 ? x : 0.0); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// x * Phi(x) through erfc, which keeps the negative tail from cancelling; at -inf the limit
// (-0), not the NaN of -inf * 0.
inline double gelu(double x) { return std::isinf(x) && x < 0 ? -0.0 : 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
inline double clamp(double x, double lo, double hi) { return std::isnan(x) ? x : std::fmin(std::fmax(x, lo), hi); }
inline double maximum(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::fmax(a, b); }
inline double minimum(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::fmin(a, b); }

/// PyTorch's promotion of two dimensioned operands: bool < u8 < i32 < i64 < bf16 < f32 < f64.
inline int rank(DType t) {
  switch (t) {
    case DType::boolean:
      return 0;
    case DType::u8:
      return 1;
    case DType::i32:
      return 2;
    case DType::i64:
      return 3;
    case DType::bf16:
      return 4;
    case DType::f32:
      return 5;
    case DType::f64:
      return 6;
  }
  return 0;
}
inline DType promote(DType a, DType b) { return rank(a) >= rank(b) ? a : b; }
/// bool, integer, floating: a 0-d operand widens a dimensioned one only from a higher category.
inline int category(DType t) { return t == DType::boolean ? 0 : (is_floating(t) ? 2 : 1); }
inline DType promote(DType a, bool a_dimensioned, DType b, bool b_dimensioned) {
  if (a_dimensioned && !b_dimensioned && category(b) <= category(a)) return a;
  if (b_dimensioned && !a_dimensioned && category(a) <= category(b)) return b;
  return promote(a, b);
}

}  // namespace dm::conformance::ref
