// CPU kernels: comparisons (bool results) and where.
#include <string>

#include "backend/cpu/elementwise.hpp"
#include "backend/cpu/elementwise_functors.hpp"
#include "backend/cpu/elementwise_loops.hpp"

// GCC vectors only cross always-inlined calls here, so its AVX ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dm::cpu {
namespace {

// Calls f with the comparison functor of `op` for T.
template <class T, class F>
void with_comparison(CompareOp op, F&& f) {
  switch (op) {
    case CompareOp::eq: return f(fn::Eq<T>{});
    case CompareOp::ne: return f(fn::Ne<T>{});
    case CompareOp::lt: return f(fn::Lt<T>{});
    case CompareOp::le: return f(fn::Le<T>{});
    case CompareOp::gt: return f(fn::Gt<T>{});
    case CompareOp::ge: return f(fn::Ge<T>{});
  }
}

}  // namespace

void compare(CompareOp op, const TensorImpl& out, const Operand& a, const Operand& b, DType compute) {
  dispatch_compute(compute, op_name(op), [&]<class T>(TypeTag<T>) {
    with_comparison<T>(op, [&](auto cmp) { run_elementwise<T, bool, true, 2>(out, {&a, &b}, cmp); });
  });
}

void compare_scalar(CompareOp op, const TensorImpl& out, const Operand& a, double scalar, DType compute) {
  dispatch_compute(compute, op_name(op), [&]<class T>(TypeTag<T>) {
    const T s = fn::saturate<T>(scalar);
    with_comparison<T>(op, [&](auto cmp) {
      run_elementwise<T, bool, true, 1>(out, {&a}, fn::BindRight<decltype(cmp), T>{cmp, s});
    });
  });
}

void where(const TensorImpl& out, const Operand& cond, const Operand& a, const Operand& b) {
  // Selection needs no arithmetic; bf16 and bool travel as f32 and u8, which hold them exactly.
  const DType compute = out.dtype == DType::bf16 ? DType::f32 : out.dtype == DType::boolean ? DType::u8 : out.dtype;
  dispatch_compute(compute, "where", [&]<class T>(TypeTag<T>) {
    run_elementwise<T, T, false, 3>(out, {&cond, &a, &b}, fn::Select<T>{});
  });
}

}  // namespace dm::cpu
