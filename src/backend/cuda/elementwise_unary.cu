// CUDA kernels: unary maths with the CPU's functors. Transcendental ops have no integer
// kernel (the ops layer computes those in f32), as on the CPU.
#include <string>

// relu's `x < 0` is always false for u8: meaningful for the signed types the same functor
// serves, so the device front end's "pointless comparison" remark does not apply.
#pragma nv_diag_suppress 186

#include "backend/cpu/elementwise_functors.hpp"
#include "backend/cuda/elementwise_map.cuh"
#include "backend/cuda/kernels.hpp"

namespace dm::cuda_backend::kernels {
namespace {

template <template <class> class F, bool FloatingOnly, class T>
void run(UnaryOp op, const Output& out, const Operand& a) {
  if constexpr (FloatingOnly && !cpu::fn::Floating<T>) {
    throw DTypeError("[cuda: unary] " + std::string(op_name(op)) + " has no CUDA kernel for " +
                     std::string(dtype_name(dtype_of_v<T>)));
  } else {
    map<T, T, 1>("unary", out, {&a}, F<T>{});
  }
}

}  // namespace

void unary(UnaryOp op, const Output& out, const Operand& a, UnaryParams params, DType compute) {
  dispatch_compute(compute, "unary", [&]<class Tg>(Tg) {
    using T = typename Tg::type;
    namespace fn = cpu::fn;
    switch (op) {
      case UnaryOp::neg: return run<fn::Neg, false, T>(op, out, a);
      case UnaryOp::abs: return run<fn::Abs, false, T>(op, out, a);
      case UnaryOp::exp: return run<fn::Exp, true, T>(op, out, a);
      case UnaryOp::log: return run<fn::Log, true, T>(op, out, a);
      case UnaryOp::sqrt: return run<fn::Sqrt, true, T>(op, out, a);
      case UnaryOp::relu: return run<fn::Relu, false, T>(op, out, a);
      case UnaryOp::sigmoid: return run<fn::Sigmoid, true, T>(op, out, a);
      case UnaryOp::tanh: return run<fn::Tanh, true, T>(op, out, a);
      case UnaryOp::gelu: return run<fn::Gelu, true, T>(op, out, a);
      case UnaryOp::clamp:
        return map<T, T, 1>("unary", out, {&a}, fn::Clamp<T>{fn::saturate<T>(params.lo), fn::saturate<T>(params.hi)});
    }
  });
}

}  // namespace dm::cuda_backend::kernels
