// CPU kernels: unary maths (neg, abs, exp, log, sqrt, relu, sigmoid, tanh, gelu, clamp).
//
// UnaryKernel<op, T> names each op's functor; the kernel table is built from it for every
// enumerator, so an op without a specialisation fails to compile (it cannot fall through to
// another op's maths). `available` is false where an op has no kernel for a compute type
// (transcendental functions of integers: the ops layer computes those in f32).
#include <string>
#include <utility>

#include "backend/cpu/elementwise.hpp"
#include "backend/cpu/elementwise_functors.hpp"
#include "backend/cpu/elementwise_loops.hpp"

// GCC vectors only cross always-inlined calls here, so its AVX ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dm::cpu {
namespace {

template <UnaryOp Op, class T>
struct UnaryKernel;  // one specialisation per op, below

template <class T, template <class> class F>
struct AnyType {
  static constexpr bool available = true;
  static F<T> make(UnaryParams) { return {}; }
};
template <class T, template <class> class F>
struct FloatingOnly {
  static constexpr bool available = fn::Floating<T>;
  template <class U = T>  // names F<U> only where it exists
  static F<U> make(UnaryParams) {
    return {};
  }
};

template <class T> struct UnaryKernel<UnaryOp::neg, T> : AnyType<T, fn::Neg> {};
template <class T> struct UnaryKernel<UnaryOp::abs, T> : AnyType<T, fn::Abs> {};
template <class T> struct UnaryKernel<UnaryOp::exp, T> : FloatingOnly<T, fn::Exp> {};
template <class T> struct UnaryKernel<UnaryOp::log, T> : FloatingOnly<T, fn::Log> {};
template <class T> struct UnaryKernel<UnaryOp::sqrt, T> : FloatingOnly<T, fn::Sqrt> {};
template <class T> struct UnaryKernel<UnaryOp::relu, T> : AnyType<T, fn::Relu> {};
template <class T> struct UnaryKernel<UnaryOp::sigmoid, T> : FloatingOnly<T, fn::Sigmoid> {};
template <class T> struct UnaryKernel<UnaryOp::tanh, T> : FloatingOnly<T, fn::Tanh> {};
template <class T> struct UnaryKernel<UnaryOp::gelu, T> : FloatingOnly<T, fn::Gelu> {};
template <class T> struct UnaryKernel<UnaryOp::clamp, T> {
  static constexpr bool available = true;
  static fn::Clamp<T> make(UnaryParams p) { return {fn::saturate<T>(p.lo), fn::saturate<T>(p.hi)}; }
};

template <UnaryOp Op>
void run_unary(const Output& out, const Operand& a, UnaryParams params, DType compute) {
  dispatch_compute(compute, op_name(Op), [&]<class T>(TypeTag<T>) {
    using Kernel = UnaryKernel<Op, T>;
    if constexpr (Kernel::available) {
      run_elementwise<T, T, true, 1>(out, {&a}, Kernel::make(params));
    } else {
      throw DTypeError("[" + std::string(op_name(Op)) + "] has no CPU kernel for " + std::string(dtype_name(compute)));
    }
  });
}

using UnaryFn = void (*)(const Output&, const Operand&, UnaryParams, DType);

template <std::size_t... I>
constexpr std::array<UnaryFn, sizeof...(I)> unary_table(std::index_sequence<I...>) {
  return {&run_unary<static_cast<UnaryOp>(I)>...};
}
constexpr auto kUnaryKernels = unary_table(std::make_index_sequence<kNumUnaryOps>{});

}  // namespace

void unary(UnaryOp op, const Output& out, const Operand& a, UnaryParams params, DType compute) {
  kUnaryKernels[static_cast<std::size_t>(op)](out, a, params, compute);
}

}  // namespace dm::cpu
