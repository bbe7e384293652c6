// CPU kernels: binary arithmetic (tensor op tensor, tensor op scalar).
#include <string>

#include "backend/cpu/elementwise.hpp"
#include "backend/cpu/elementwise_functors.hpp"
#include "backend/cpu/elementwise_loops.hpp"

// GCC vectors only cross always-inlined calls here, so its AVX ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dm::cpu {
namespace {

[[noreturn]] void no_kernel(BinaryOp op, DType compute) {
  throw DTypeError("[" + std::string(op_name(op)) + "] has no CPU kernel for " + std::string(dtype_name(compute)));
}

// out = op(a, b); out has T's dtype or gets converted to its own.
template <class T, class Op>
void tensor_tensor(const TensorImpl& out, const Operand& a, const Operand& b, const Op& op) {
  run_elementwise<T, T, true, 2>(out, {&a, &b}, op);
}

template <class T, class Op>
void tensor_scalar(const TensorImpl& out, const Operand& a, T s, ScalarSide side, const Op& op) {
  if (side == ScalarSide::right) {
    run_elementwise<T, T, true, 1>(out, {&a}, fn::BindRight<Op, T>{op, s});
  } else {
    run_elementwise<T, T, true, 1>(out, {&a}, fn::BindLeft<Op, T>{op, s});
  }
}

// x^e for a fixed exponent: the common exponents get their own loops (x^2 is the guide's
// example) instead of a libm pow call per element.
template <class T>
void pow_scalar(const TensorImpl& out, const Operand& a, double e) {
  if (e == 1.0) return run_elementwise<T, T, true, 1>(out, {&a}, fn::Identity<T>{});
  if (e == 2.0) return run_elementwise<T, T, true, 1>(out, {&a}, fn::Square<T>{});
  if (e == 3.0) return run_elementwise<T, T, true, 1>(out, {&a}, fn::Cube<T>{});
  if constexpr (fn::Floating<T>) {
    if (e == 0.5) return run_elementwise<T, T, true, 1>(out, {&a}, fn::Sqrt<T>{});
    if (e == -1.0) return run_elementwise<T, T, true, 1>(out, {&a}, fn::Reciprocal<T>{});
    if (e == -0.5) return run_elementwise<T, T, true, 1>(out, {&a}, fn::Rsqrt<T>{});
  }
  run_elementwise<T, T, true, 1>(out, {&a}, fn::BindRight<fn::Pow<T>, T>{{}, fn::saturate<T>(e)});
}

}  // namespace

void binary(BinaryOp op, const TensorImpl& out, const Operand& a, const Operand& b, DType compute) {
  dispatch_compute(compute, op_name(op), [&]<class T>(TypeTag<T>) {
    switch (op) {
      case BinaryOp::add: return tensor_tensor<T>(out, a, b, fn::Add<T>{});
      case BinaryOp::sub: return tensor_tensor<T>(out, a, b, fn::Sub<T>{});
      case BinaryOp::mul: return tensor_tensor<T>(out, a, b, fn::Mul<T>{});
      case BinaryOp::div:
        if constexpr (fn::Floating<T>) return tensor_tensor<T>(out, a, b, fn::Div<T>{});
        break;
      case BinaryOp::pow: return tensor_tensor<T>(out, a, b, fn::Pow<T>{});
      case BinaryOp::maximum: return tensor_tensor<T>(out, a, b, fn::Maximum<T>{});
      case BinaryOp::minimum: return tensor_tensor<T>(out, a, b, fn::Minimum<T>{});
    }
    no_kernel(op, compute);
  });
}

void binary_scalar(BinaryOp op, const TensorImpl& out, const Operand& a, double scalar, ScalarSide side,
                   DType compute) {
  dispatch_compute(compute, op_name(op), [&]<class T>(TypeTag<T>) {
    const T s = fn::saturate<T>(scalar);
    switch (op) {
      case BinaryOp::add: return tensor_scalar<T>(out, a, s, side, fn::Add<T>{});
      case BinaryOp::sub: return tensor_scalar<T>(out, a, s, side, fn::Sub<T>{});
      case BinaryOp::mul: return tensor_scalar<T>(out, a, s, side, fn::Mul<T>{});
      case BinaryOp::div:
        if constexpr (fn::Floating<T>) return tensor_scalar<T>(out, a, s, side, fn::Div<T>{});
        break;
      case BinaryOp::pow:
        if (side == ScalarSide::right) return pow_scalar<T>(out, a, scalar);
        return tensor_scalar<T>(out, a, s, side, fn::Pow<T>{});
      case BinaryOp::maximum: return tensor_scalar<T>(out, a, s, side, fn::Maximum<T>{});
      case BinaryOp::minimum: return tensor_scalar<T>(out, a, s, side, fn::Minimum<T>{});
    }
    no_kernel(op, compute);
  });
}

}  // namespace dm::cpu
