#pragma once
// The closed list of elementwise operations, shared by the public ops (which validate and
// type them) and the CPU kernels (which compute them). Each enum sits beside its name table
// and a count check, so adding an op without naming it fails to compile.
#include <array>
#include <cstdint>
#include <string_view>

#include "democratising/dtype.hpp"

namespace dm {

class Tensor;
struct TensorImpl;

enum class BinaryOp : std::uint8_t { add, sub, mul, div, pow, maximum, minimum };
inline constexpr int kNumBinaryOps = 7;
inline constexpr std::array<std::string_view, kNumBinaryOps> kBinaryOpNames = {"add", "sub", "mul", "div",
                                                                              "pow", "maximum", "minimum"};
static_assert(static_cast<int>(BinaryOp::minimum) + 1 == kNumBinaryOps, "name every BinaryOp in kBinaryOpNames");

enum class UnaryOp : std::uint8_t { neg, abs, exp, log, sqrt, relu, sigmoid, tanh, gelu, clamp };
inline constexpr int kNumUnaryOps = 10;
inline constexpr std::array<std::string_view, kNumUnaryOps> kUnaryOpNames = {
    "neg", "abs", "exp", "log", "sqrt", "relu", "sigmoid", "tanh", "gelu", "clamp"};
static_assert(static_cast<int>(UnaryOp::clamp) + 1 == kNumUnaryOps, "name every UnaryOp in kUnaryOpNames");

enum class CompareOp : std::uint8_t { eq, ne, lt, le, gt, ge };
inline constexpr int kNumCompareOps = 6;
inline constexpr std::array<std::string_view, kNumCompareOps> kCompareOpNames = {"eq", "ne", "lt", "le", "gt", "ge"};
static_assert(static_cast<int>(CompareOp::ge) + 1 == kNumCompareOps, "name every CompareOp in kCompareOpNames");

constexpr std::string_view op_name(BinaryOp op) { return kBinaryOpNames[static_cast<int>(op)]; }
constexpr std::string_view op_name(UnaryOp op) { return kUnaryOpNames[static_cast<int>(op)]; }
constexpr std::string_view op_name(CompareOp op) { return kCompareOpNames[static_cast<int>(op)]; }

/// Which side of a binary op a double scalar stands on: t - s is `right`, s - t is `left`.
enum class ScalarSide : std::uint8_t { left, right };

/// The extra arguments of a parameterised unary op (clamp's bounds).
struct UnaryParams {
  double lo = 0.0;
  double hi = 0.0;
};

// ---- typing rules shared by the elementwise op files (defined in elementwise_typing.cpp) ----
namespace elementwise {

/// PyTorch's result type of a tensor-tensor op: promote_types, except that a 0-d tensor does
/// not widen a dimensioned tensor of the same kind (bool < integral < floating).
DType result_type(const TensorImpl& a, const TensorImpl& b);
/// Result type of a tensor-scalar op: a double never widens a floating tensor; an integral
/// value keeps an integer tensor's dtype (bool becomes i64); a fractional one gives f32.
DType result_type(DType t, double scalar);
/// The dtype a kernel computes in for values stored as `t`: bf16 computes in f32, bool in u8.
DType compute_type(DType t);
/// Throws DTypeError naming `op` unless a `result` value can be stored in a `target` tensor
/// (the in-place rule: no float into an integer tensor, nothing but bool into a bool tensor).
void check_can_store(DType result, DType target, const char* op);
/// Throws ValueError naming `op` unless `scalar` is representable in the integer dtype `t`.
void check_scalar_fits(double scalar, DType t, const char* op);
/// Throws DeviceError naming `op` unless the tensor lives on the CPU (the only backend built
/// for elementwise ops so far).
void require_cpu(const TensorImpl& t, const char* op);
/// Throws ValueError naming `op` when `t` is an expanded view (a stride-0 dim of size > 1):
/// an in-place write would store several results into one element.
void require_writable(const TensorImpl& t, const char* op);

}  // namespace elementwise
}  // namespace dm
