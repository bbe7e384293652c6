#pragma once
// Iteration over N operands that share one logical shape but have their own strides
// (in elements; 0 for broadcast dims). Dims that can be merged are merged, so a contiguous
// or simply broadcast operand collapses into long inner runs that kernels vectorise.
#include <array>
#include <cstdint>

#include "democratising/runtime/pool.hpp"
#include "democratising/base/shape.hpp"

namespace dm {

template <int N>
struct StridedPlan {
  int ndim = 0;                                  // after merging; innermost dim last
  std::int64_t sizes[kMaxDims] = {};
  std::int64_t strides[N][kMaxDims] = {};
  std::int64_t numel = 1;

  StridedPlan(const Shape& shape, const std::array<const Strides*, N>& operand_strides) {
    for (int d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1) continue;  // size-1 dims contribute nothing
      const int nd = ndim;
      bool merge = nd > 0;
      for (int k = 0; k < N && merge; ++k)
        merge = strides[k][nd - 1] == (*operand_strides[k])[d] * shape[d];
      if (merge) {
        sizes[nd - 1] *= shape[d];
        for (int k = 0; k < N; ++k) strides[k][nd - 1] = (*operand_strides[k])[d];
      } else {
        sizes[nd] = shape[d];
        for (int k = 0; k < N; ++k) strides[k][nd] = (*operand_strides[k])[d];
        ++ndim;
      }
    }
    for (int d = 0; d < ndim; ++d) numel *= sizes[d];
    if (ndim == 0) {  // a single element: one run of length numel (0 or 1)
      ndim = 1;
      sizes[0] = numel = shape.numel();
      for (int k = 0; k < N; ++k) strides[k][0] = 0;
    }
  }

  std::int64_t inner_size() const { return sizes[ndim - 1]; }

  /// Calls run(offsets, count, inner_strides) for each inner run intersecting the linear
  /// element range [begin, end); offsets are element offsets per operand.
  template <class Run>
  void for_each_run(std::int64_t begin, std::int64_t end, Run&& run) const {
    if (begin >= end) return;
    std::int64_t index[kMaxDims];
    std::int64_t rem = begin;
    for (int d = ndim - 1; d >= 0; --d) {
      index[d] = rem % sizes[d];
      rem /= sizes[d];
    }
    std::array<std::int64_t, N> off{};
    for (int k = 0; k < N; ++k)
      for (int d = 0; d < ndim; ++d) off[k] += index[d] * strides[k][d];
    std::array<std::int64_t, N> inner{};
    for (int k = 0; k < N; ++k) inner[k] = strides[k][ndim - 1];
    const std::int64_t inner_n = sizes[ndim - 1];
    std::int64_t pos = begin;
    while (pos < end) {
      const std::int64_t count = std::min(inner_n - index[ndim - 1], end - pos);
      run(off, count, inner);
      pos += count;
      if (pos >= end) break;
      // advance to the start of the next run
      for (int k = 0; k < N; ++k) off[k] -= index[ndim - 1] * inner[k];
      index[ndim - 1] = 0;
      for (int d = ndim - 2; d >= 0; --d) {
        ++index[d];
        for (int k = 0; k < N; ++k) off[k] += strides[k][d];
        if (index[d] < sizes[d]) break;
        for (int k = 0; k < N; ++k) off[k] -= sizes[d] * strides[k][d];
        index[d] = 0;
      }
    }
  }
};

/// Elements per parallel block of an elementwise loop: big enough that scheduling costs
/// nothing next to memory traffic, small enough to balance two cores on mid-size tensors.
inline constexpr std::int64_t kElementwiseGrain = 32768;

/// Runs plan.for_each_run over the whole range, in parallel blocks of kElementwiseGrain.
template <int N, class Run>
void parallel_runs(const StridedPlan<N>& plan, Run&& run) {
  par_for(plan.numel, kElementwiseGrain, [&](std::int64_t b, std::int64_t e) { plan.for_each_run(b, e, run); });
}

}  // namespace dm
