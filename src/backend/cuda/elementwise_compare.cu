// CUDA kernels: comparisons (bool results) and where, with the CPU's functors.
#include "backend/cpu/elementwise_functors.hpp"
#include "backend/cuda/elementwise_map.cuh"
#include "backend/cuda/kernels.hpp"

namespace dm::cuda_backend::kernels {
namespace {

template <class T, class G>
void with_functor(CompareOp op, G&& g) {
  namespace fn = cpu::fn;
  switch (op) {
    case CompareOp::eq: return g(fn::Eq<T>{});
    case CompareOp::ne: return g(fn::Ne<T>{});
    case CompareOp::lt: return g(fn::Lt<T>{});
    case CompareOp::le: return g(fn::Le<T>{});
    case CompareOp::gt: return g(fn::Gt<T>{});
    case CompareOp::ge: return g(fn::Ge<T>{});
  }
}

}  // namespace

void compare(CompareOp op, const Output& out, const Operand& a, const Operand& b, DType compute) {
  dispatch_compute(compute, "compare", [&]<class Tg>(Tg) {
    using T = typename Tg::type;
    with_functor<T>(op, [&](auto f) { map<T, bool, 2>("compare", out, {&a, &b}, f); });
  });
}

void compare_scalar(CompareOp op, const Output& out, const Operand& a, double scalar, DType compute) {
  dispatch_compute(compute, "compare_scalar", [&]<class Tg>(Tg) {
    using T = typename Tg::type;
    const T s = cpu::fn::saturate<T>(scalar);
    with_functor<T>(op, [&]<class F>(F f) {
      map<T, bool, 1>("compare_scalar", out, {&a}, cpu::fn::BindRight<F, T>{f, s});
    });
  });
}

void where(const Output& out, const Operand& cond, const Operand& a, const Operand& b) {
  // Selection needs no arithmetic; bf16 and bool travel as f32 and u8, which hold them exactly.
  const DType compute = out.dtype == DType::bf16 ? DType::f32 : out.dtype == DType::boolean ? DType::u8 : out.dtype;
  dispatch_compute(compute, "where", [&]<class Tg>(Tg) {
    using T = typename Tg::type;
    map<T, T, 3>("where", out, {&cond, &a, &b}, cpu::fn::Select<T>{});
  });
}

}  // namespace dm::cuda_backend::kernels
