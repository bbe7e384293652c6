// CUDA kernels: binary arithmetic (tensor op tensor, tensor op scalar) with the CPU's functors.
#include <string>

#include "backend/cpu/elementwise_functors.hpp"
#include "backend/cuda/elementwise_map.cuh"
#include "backend/cuda/kernels.hpp"

namespace dm::cuda_backend::kernels {
namespace {

[[noreturn]] void no_kernel(const char* entry, BinaryOp op, DType compute) {
  throw DTypeError(std::string("[cuda: ") + entry + "] " + std::string(op_name(op)) + " has no CUDA kernel for " +
                   std::string(dtype_name(compute)));
}

// Calls g(F{}) with op's functor for T; div has none for integers (they divide in f32).
template <class T, class G>
void with_functor(const char* entry, BinaryOp op, G&& g) {
  namespace fn = cpu::fn;
  switch (op) {
    case BinaryOp::add: return g(fn::Add<T>{});
    case BinaryOp::sub: return g(fn::Sub<T>{});
    case BinaryOp::mul: return g(fn::Mul<T>{});
    case BinaryOp::div:
      if constexpr (fn::Floating<T>) return g(fn::Div<T>{});
      else no_kernel(entry, op, dtype_of_v<T>);
    case BinaryOp::pow: return g(fn::Pow<T>{});
    case BinaryOp::maximum: return g(fn::Maximum<T>{});
    case BinaryOp::minimum: return g(fn::Minimum<T>{});
  }
}

// x^e for a fixed exponent: the exponents the CPU special-cases take the same functors here,
// so both backends round alike.
template <class T>
void pow_scalar(const Output& out, const Operand& a, double e) {
  namespace fn = cpu::fn;
  const char* entry = "binary_scalar";
  if (e == 1.0) return map<T, T, 1>(entry, out, {&a}, fn::Identity<T>{});
  if (e == 2.0) return map<T, T, 1>(entry, out, {&a}, fn::Square<T>{});
  if (e == 3.0) return map<T, T, 1>(entry, out, {&a}, fn::Cube<T>{});
  if constexpr (fn::Floating<T>) {
    if (e == 0.5) return map<T, T, 1>(entry, out, {&a}, fn::Sqrt<T>{});
    if (e == -1.0) return map<T, T, 1>(entry, out, {&a}, fn::Reciprocal<T>{});
    if (e == -0.5) return map<T, T, 1>(entry, out, {&a}, fn::Rsqrt<T>{});
  }
  map<T, T, 1>(entry, out, {&a}, fn::BindRight<fn::Pow<T>, T>{{}, fn::saturate<T>(e)});
}

}  // namespace

void binary(BinaryOp op, const Output& out, const Operand& a, const Operand& b, DType compute) {
  dispatch_compute(compute, "binary", [&]<class Tg>(Tg) {
    using T = typename Tg::type;
    with_functor<T>("binary", op, [&](auto f) { map<T, T, 2>("binary", out, {&a, &b}, f); });
  });
}

void binary_scalar(BinaryOp op, const Output& out, const Operand& a, double scalar, ScalarSide side, DType compute) {
  dispatch_compute(compute, "binary_scalar", [&]<class Tg>(Tg) {
    using T = typename Tg::type;
    if (op == BinaryOp::pow && side == ScalarSide::right) return pow_scalar<T>(out, a, scalar);
    const T s = cpu::fn::saturate<T>(scalar);
    with_functor<T>("binary_scalar", op, [&]<class F>(F f) {
      if (side == ScalarSide::right) map<T, T, 1>("binary_scalar", out, {&a}, cpu::fn::BindRight<F, T>{f, s});
      else map<T, T, 1>("binary_scalar", out, {&a}, cpu::fn::BindLeft<F, T>{f, s});
    });
  });
}

}  // namespace dm::cuda_backend::kernels
