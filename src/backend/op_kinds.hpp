#pragma once
// The closed lists of operations a backend computes, one table per op family.
//
// Each family has an enum and, beside it, one table that declares every op once: its name
// and the rule that gives its result dtype. A table's entries must appear in enum order and
// cover every enumerator (checked at compile time below), so an op added to an enum without
// its entry does not compile. Kernels (backend/<device>/) and gradient rules (ops) are
// selected per op through templates specialised for each enumerator, and a missing
// specialisation fails to compile as well: nothing can fall through to another op's maths.
#include <array>
#include <cstdint>
#include <string_view>

namespace dm {

// ---- elementwise ------------------------------------------------------------------------------

enum class UnaryOp : std::uint8_t { neg, abs, exp, log, sqrt, relu, sigmoid, tanh, gelu, clamp };
inline constexpr int kNumUnaryOps = 10;

enum class BinaryOp : std::uint8_t { add, sub, mul, div, pow, maximum, minimum };
inline constexpr int kNumBinaryOps = 7;

enum class CompareOp : std::uint8_t { eq, ne, lt, le, gt, ge };
inline constexpr int kNumCompareOps = 6;

/// How an elementwise op's result dtype follows from its (promoted) input dtype.
enum class ResultRule : std::uint8_t {
  same,           // the input's dtype (abs, relu, add, ...)
  same_not_bool,  // the input's dtype; bool inputs are an error (neg)
  floating,       // floating inputs keep their dtype, others give f32 (exp, log, ...; div)
  bounds,         // promoted with the op's scalar parameters (clamp)
  boolean,        // always bool (comparisons)
};

template <class Op>
struct OpInfo {
  Op op;
  std::string_view name;
  ResultRule result;
};

inline constexpr std::array<OpInfo<UnaryOp>, kNumUnaryOps> kUnaryOps = {{
    {UnaryOp::neg, "neg", ResultRule::same_not_bool},
    {UnaryOp::abs, "abs", ResultRule::same},
    {UnaryOp::exp, "exp", ResultRule::floating},
    {UnaryOp::log, "log", ResultRule::floating},
    {UnaryOp::sqrt, "sqrt", ResultRule::floating},
    {UnaryOp::relu, "relu", ResultRule::same},
    {UnaryOp::sigmoid, "sigmoid", ResultRule::floating},
    {UnaryOp::tanh, "tanh", ResultRule::floating},
    {UnaryOp::gelu, "gelu", ResultRule::floating},
    {UnaryOp::clamp, "clamp", ResultRule::bounds},
}};

inline constexpr std::array<OpInfo<BinaryOp>, kNumBinaryOps> kBinaryOps = {{
    {BinaryOp::add, "add", ResultRule::same},
    {BinaryOp::sub, "sub", ResultRule::same},
    {BinaryOp::mul, "mul", ResultRule::same},
    {BinaryOp::div, "div", ResultRule::floating},  // torch: int / int is true division
    {BinaryOp::pow, "pow", ResultRule::same},
    {BinaryOp::maximum, "maximum", ResultRule::same},
    {BinaryOp::minimum, "minimum", ResultRule::same},
}};

inline constexpr std::array<OpInfo<CompareOp>, kNumCompareOps> kCompareOps = {{
    {CompareOp::eq, "eq", ResultRule::boolean},
    {CompareOp::ne, "ne", ResultRule::boolean},
    {CompareOp::lt, "lt", ResultRule::boolean},
    {CompareOp::le, "le", ResultRule::boolean},
    {CompareOp::gt, "gt", ResultRule::boolean},
    {CompareOp::ge, "ge", ResultRule::boolean},
}};

/// True when entry i of `table` declares enumerator i, for every i: a missing entry leaves a
/// value-initialised one (enumerator 0, empty name) behind, which fails this check.
template <class Op, std::size_t N>
constexpr bool declares_every_op(const std::array<OpInfo<Op>, N>& table) {
  for (std::size_t i = 0; i < N; ++i)
    if (static_cast<std::size_t>(table[i].op) != i || table[i].name.empty()) return false;
  return true;
}
static_assert(declares_every_op(kUnaryOps), "kUnaryOps must list every UnaryOp once, in enum order");
static_assert(declares_every_op(kBinaryOps), "kBinaryOps must list every BinaryOp once, in enum order");
static_assert(declares_every_op(kCompareOps), "kCompareOps must list every CompareOp once, in enum order");
static_assert(static_cast<int>(UnaryOp::clamp) + 1 == kNumUnaryOps, "kNumUnaryOps counts every UnaryOp");
static_assert(static_cast<int>(BinaryOp::minimum) + 1 == kNumBinaryOps, "kNumBinaryOps counts every BinaryOp");
static_assert(static_cast<int>(CompareOp::ge) + 1 == kNumCompareOps, "kNumCompareOps counts every CompareOp");

constexpr const OpInfo<UnaryOp>& op_info(UnaryOp op) { return kUnaryOps[static_cast<int>(op)]; }
constexpr const OpInfo<BinaryOp>& op_info(BinaryOp op) { return kBinaryOps[static_cast<int>(op)]; }
constexpr const OpInfo<CompareOp>& op_info(CompareOp op) { return kCompareOps[static_cast<int>(op)]; }
constexpr std::string_view op_name(UnaryOp op) { return op_info(op).name; }
constexpr std::string_view op_name(BinaryOp op) { return op_info(op).name; }
constexpr std::string_view op_name(CompareOp op) { return op_info(op).name; }

/// Which side of a binary op a double scalar stands on: t - s is `right`, s - t is `left`.
enum class ScalarSide : std::uint8_t { left, right };

/// The extra arguments of a parameterised unary op (clamp's bounds).
struct UnaryParams {
  double lo = 0.0;
  double hi = 0.0;
};

/// Unary ops whose backward is one fused pass over (g, x, y) on the backend; the others are
/// composed from tensor ops in their gradient rule.
enum class UnaryGradOp : std::uint8_t { relu, sigmoid, tanh, gelu };

// ---- reductions ---------------------------------------------------------------------------------

/// The kernels' view of a reduction: a dense row-major block
///   in  : (outer, reduce, inner)      element [o, k, i] at in[(o * reduce + k) * inner + i]
///   out : (outer, inner)              element [o, i]    at out[o * inner + i]
struct ReduceGeometry {
  std::int64_t outer = 1;
  std::int64_t reduce = 1;
  std::int64_t inner = 1;
};

enum class SumKind : std::uint8_t { sum, mean, var, std };
enum class Extreme : std::uint8_t { max, min };
enum class SoftmaxKind : std::uint8_t { softmax, log_softmax };

// ---- matrix products ----------------------------------------------------------------------------

/// Problem extents: `batch` independent products of an (m x k) by a (k x n) matrix.
struct GemmShape {
  std::int64_t batch = 1;
  std::int64_t m = 0;
  std::int64_t n = 0;
  std::int64_t k = 0;
};

/// Whether a kernel may spread its work over the pool or must run it on the caller.
enum class Schedule : std::uint8_t { parallel, sequential };

}  // namespace dm
