#pragma once
// The CPU GEMM engine: batched C = A * B, parallel over the one pool, with OpenBLAS running
// single-threaded inside each tile. The ops layer validates shapes and dtypes and works out
// layouts; this engine only computes.
#include <cstdint>
#include <span>

#include "backend/op_kinds.hpp"

namespace dm::cpu {

using GemmShape = dm::GemmShape;

/// One input operand. Batch item `b` is the matrix starting at data + batch_offsets[b]
/// (elements). Not transposed: stored row-major with leading dimension `ld` (rows are ld
/// apart). Transposed: the matrix's transpose is stored row-major with leading dimension `ld`,
/// i.e. the matrix itself is column-major. `ld` must be at least the stored row length.
template <class T>
struct GemmOperand {
  const T* data = nullptr;
  std::span<const std::int64_t> batch_offsets;  // one entry per batch item
  bool transposed = false;
  std::int64_t ld = 0;
};

/// Whether the engine may spread the tiles over the pool or must run them on the caller.
using GemmSchedule = Schedule;

/// c (batch x m x n, contiguous row-major) = alpha * a (m x k) * b (k x n) + beta * c per
/// batch item; with beta == 0, c is only written. k == 0 gives beta * c. The tiling, and so
/// every bit of the result, depends only on the shape: never on the pool size or the schedule.
void gemm(const GemmShape& shape, const GemmOperand<float>& a, const GemmOperand<float>& b, float* c,
          GemmSchedule schedule = GemmSchedule::parallel, float alpha = 1.0f, float beta = 0.0f);
void gemm(const GemmShape& shape, const GemmOperand<double>& a, const GemmOperand<double>& b, double* c,
          GemmSchedule schedule = GemmSchedule::parallel, double alpha = 1.0, double beta = 0.0);

}  // namespace dm::cpu
