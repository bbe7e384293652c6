// CPU kernels: comparisons (bool results) and where.
//
// CompareKernel<op, T> names each comparison's functor; the kernel tables are built from it
// for every enumerator, so a comparison without a specialisation fails to compile.
#include <string>
#include <utility>

#include "backend/cpu/elementwise.hpp"
#include "backend/cpu/elementwise_functors.hpp"
#include "backend/cpu/elementwise_loops.hpp"

// GCC vectors only cross always-inlined calls here, so its AVX ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dm::cpu {
namespace {

template <CompareOp Op, class T>
struct CompareKernel;  // one specialisation per op, below

template <class T> struct CompareKernel<CompareOp::eq, T> { using Functor = fn::Eq<T>; };
template <class T> struct CompareKernel<CompareOp::ne, T> { using Functor = fn::Ne<T>; };
template <class T> struct CompareKernel<CompareOp::lt, T> { using Functor = fn::Lt<T>; };
template <class T> struct CompareKernel<CompareOp::le, T> { using Functor = fn::Le<T>; };
template <class T> struct CompareKernel<CompareOp::gt, T> { using Functor = fn::Gt<T>; };
template <class T> struct CompareKernel<CompareOp::ge, T> { using Functor = fn::Ge<T>; };

template <CompareOp Op>
void run_compare(const Output& out, const Operand& a, const Operand& b, DType compute) {
  dispatch_compute(compute, op_name(Op), [&]<class T>(TypeTag<T>) {
    run_elementwise<T, bool, true, 2>(out, {&a, &b}, typename CompareKernel<Op, T>::Functor{});
  });
}

template <CompareOp Op>
void run_compare_scalar(const Output& out, const Operand& a, double scalar, DType compute) {
  dispatch_compute(compute, op_name(Op), [&]<class T>(TypeTag<T>) {
    using F = typename CompareKernel<Op, T>::Functor;
    run_elementwise<T, bool, true, 1>(out, {&a}, fn::BindRight<F, T>{F{}, fn::saturate<T>(scalar)});
  });
}

using CompareFn = void (*)(const Output&, const Operand&, const Operand&, DType);
using CompareScalarFn = void (*)(const Output&, const Operand&, double, DType);

template <std::size_t... I>
constexpr std::array<CompareFn, sizeof...(I)> compare_table(std::index_sequence<I...>) {
  return {&run_compare<static_cast<CompareOp>(I)>...};
}
template <std::size_t... I>
constexpr std::array<CompareScalarFn, sizeof...(I)> compare_scalar_table(std::index_sequence<I...>) {
  return {&run_compare_scalar<static_cast<CompareOp>(I)>...};
}
constexpr auto kCompareKernels = compare_table(std::make_index_sequence<kNumCompareOps>{});
constexpr auto kCompareScalarKernels = compare_scalar_table(std::make_index_sequence<kNumCompareOps>{});

}  // namespace

void compare(CompareOp op, const Output& out, const Operand& a, const Operand& b, DType compute) {
  kCompareKernels[static_cast<std::size_t>(op)](out, a, b, compute);
}

void compare_scalar(CompareOp op, const Output& out, const Operand& a, double scalar, DType compute) {
  kCompareScalarKernels[static_cast<std::size_t>(op)](out, a, scalar, compute);
}

void where(const Output& out, const Operand& cond, const Operand& a, const Operand& b) {
  // Selection needs no arithmetic; bf16 and bool travel as f32 and u8, which hold them exactly.
  const DType compute = out.dtype == DType::bf16 ? DType::f32 : out.dtype == DType::boolean ? DType::u8 : out.dtype;
  dispatch_compute(compute, "where", [&]<class T>(TypeTag<T>) {
    run_elementwise<T, T, false, 3>(out, {&cond, &a, &b}, fn::Select<T>{});
  });
}

}  // namespace dm::cpu
