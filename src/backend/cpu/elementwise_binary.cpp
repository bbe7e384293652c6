// CPU kernels: binary arithmetic (tensor op tensor, tensor op scalar).
//
// BinaryKernel<op, T> names each op's functor; the kernel tables are built from it for every
// enumerator, so an op without a specialisation fails to compile.
#include <string>
#include <utility>

#include "backend/cpu/elementwise.hpp"
#include "backend/cpu/elementwise_functors.hpp"
#include "backend/cpu/elementwise_loops.hpp"

// GCC vectors only cross always-inlined calls here, so its AVX ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dm::cpu {
namespace {

template <BinaryOp Op, class T>
struct BinaryKernel;  // one specialisation per op, below

template <class T, template <class> class F>
struct AnyType {
  static constexpr bool available = true;
  using Functor = F<T>;
};

template <class T> struct BinaryKernel<BinaryOp::add, T> : AnyType<T, fn::Add> {};
template <class T> struct BinaryKernel<BinaryOp::sub, T> : AnyType<T, fn::Sub> {};
template <class T> struct BinaryKernel<BinaryOp::mul, T> : AnyType<T, fn::Mul> {};
template <class T> struct BinaryKernel<BinaryOp::div, T> {  // integers divide in f32 (ops layer)
  static constexpr bool available = fn::Floating<T>;
  using Functor = fn::Div<std::conditional_t<fn::Floating<T>, T, float>>;  // only used when available
};
template <class T> struct BinaryKernel<BinaryOp::pow, T> : AnyType<T, fn::Pow> {};
template <class T> struct BinaryKernel<BinaryOp::maximum, T> : AnyType<T, fn::Maximum> {};
template <class T> struct BinaryKernel<BinaryOp::minimum, T> : AnyType<T, fn::Minimum> {};

[[noreturn]] void no_kernel(BinaryOp op, DType compute) {
  throw DTypeError("[" + std::string(op_name(op)) + "] has no CPU kernel for " + std::string(dtype_name(compute)));
}

// x^e for a fixed exponent: the common exponents get their own loops (x^2 is the guide's
// example) instead of a libm pow call per element.
template <class T>
void pow_scalar(const Output& out, const Operand& a, double e) {
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

template <BinaryOp Op>
void run_binary(const Output& out, const Operand& a, const Operand& b, DType compute) {
  dispatch_compute(compute, op_name(Op), [&]<class T>(TypeTag<T>) {
    using Kernel = BinaryKernel<Op, T>;
    if constexpr (Kernel::available) {
      run_elementwise<T, T, true, 2>(out, {&a, &b}, typename Kernel::Functor{});
    } else {
      no_kernel(Op, compute);
    }
  });
}

template <BinaryOp Op>
void run_binary_scalar(const Output& out, const Operand& a, double scalar, ScalarSide side, DType compute) {
  dispatch_compute(compute, op_name(Op), [&]<class T>(TypeTag<T>) {
    using Kernel = BinaryKernel<Op, T>;
    if constexpr (Kernel::available) {
      if constexpr (Op == BinaryOp::pow) {
        if (side == ScalarSide::right) return pow_scalar<T>(out, a, scalar);
      }
      using F = typename Kernel::Functor;
      const T s = fn::saturate<T>(scalar);
      if (side == ScalarSide::right) {
        run_elementwise<T, T, true, 1>(out, {&a}, fn::BindRight<F, T>{F{}, s});
      } else {
        run_elementwise<T, T, true, 1>(out, {&a}, fn::BindLeft<F, T>{F{}, s});
      }
    } else {
      no_kernel(Op, compute);
    }
  });
}

using BinaryFn = void (*)(const Output&, const Operand&, const Operand&, DType);
using BinaryScalarFn = void (*)(const Output&, const Operand&, double, ScalarSide, DType);

template <std::size_t... I>
constexpr std::array<BinaryFn, sizeof...(I)> binary_table(std::index_sequence<I...>) {
  return {&run_binary<static_cast<BinaryOp>(I)>...};
}
template <std::size_t... I>
constexpr std::array<BinaryScalarFn, sizeof...(I)> binary_scalar_table(std::index_sequence<I...>) {
  return {&run_binary_scalar<static_cast<BinaryOp>(I)>...};
}
constexpr auto kBinaryKernels = binary_table(std::make_index_sequence<kNumBinaryOps>{});
constexpr auto kBinaryScalarKernels = binary_scalar_table(std::make_index_sequence<kNumBinaryOps>{});

}  // namespace

void binary(BinaryOp op, const Output& out, const Operand& a, const Operand& b, DType compute) {
  kBinaryKernels[static_cast<std::size_t>(op)](out, a, b, compute);
}

void binary_scalar(BinaryOp op, const Output& out, const Operand& a, double scalar, ScalarSide side, DType compute) {
  kBinaryScalarKernels[static_cast<std::size_t>(op)](out, a, scalar, side, compute);
}

}  // namespace dm::cpu
