// CPU kernels: unary maths (neg, abs, exp, log, sqrt, relu, sigmoid, tanh, gelu, clamp).
#include <string>

#include "backend/cpu/elementwise.hpp"
#include "backend/cpu/elementwise_functors.hpp"
#include "backend/cpu/elementwise_loops.hpp"

// GCC vectors only cross always-inlined calls here, so its AVX ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dm::cpu {
namespace {

template <class T, class Op>
void apply(const TensorImpl& out, const Operand& a, const Op& op) {
  run_elementwise<T, T, true, 1>(out, {&a}, op);
}

}  // namespace

void unary(UnaryOp op, const TensorImpl& out, const Operand& a, UnaryParams params, DType compute) {
  dispatch_compute(compute, op_name(op), [&]<class T>(TypeTag<T>) {
    switch (op) {
      case UnaryOp::neg: return apply<T>(out, a, fn::Neg<T>{});
      case UnaryOp::abs: return apply<T>(out, a, fn::Abs<T>{});
      case UnaryOp::relu: return apply<T>(out, a, fn::Relu<T>{});
      case UnaryOp::clamp:
        return apply<T>(out, a, fn::Clamp<T>{fn::saturate<T>(params.lo), fn::saturate<T>(params.hi)});
      case UnaryOp::exp:
      case UnaryOp::log:
      case UnaryOp::sqrt:
      case UnaryOp::sigmoid:
      case UnaryOp::tanh:
      case UnaryOp::gelu:
        if constexpr (fn::Floating<T>) {
          switch (op) {
            case UnaryOp::exp: return apply<T>(out, a, fn::Exp<T>{});
            case UnaryOp::log: return apply<T>(out, a, fn::Log<T>{});
            case UnaryOp::sqrt: return apply<T>(out, a, fn::Sqrt<T>{});
            case UnaryOp::sigmoid: return apply<T>(out, a, fn::Sigmoid<T>{});
            case UnaryOp::tanh: return apply<T>(out, a, fn::Tanh<T>{});
            default: return apply<T>(out, a, fn::Gelu<T>{});
          }
        }
        break;
    }
    throw DTypeError("[" + std::string(op_name(op)) + "] has no CPU kernel for " + std::string(dtype_name(compute)));
  });
}

}  // namespace dm::cpu
