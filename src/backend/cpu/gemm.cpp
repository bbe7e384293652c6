// The GEMM engine: tiles of the output, each one single-threaded OpenBLAS call, spread over
// the pool with dm::par_for. OpenBLAS's own threads stay off (the pool sets it to 1 thread at
// start-up), so nested parallel code never oversubscribes the cores.
#include "gemm.hpp"

#include <cblas.h>

#include <algorithm>

#include "democratising/runtime/pool.hpp"
#include "gemm_tiling.hpp"

namespace dm::cpu {
namespace {

CBLAS_TRANSPOSE blas_trans(bool transposed) { return transposed ? CblasTrans : CblasNoTrans; }

blasint bi(std::int64_t v) { return static_cast<blasint>(v); }

// Thin typed front of the two BLAS routines the engine uses (row-major throughout).
template <class T>
struct Blas;

template <>
struct Blas<float> {
  static void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
                   std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    cblas_sgemm(CblasRowMajor, blas_trans(ta), blas_trans(tb), bi(m), bi(n), bi(k), alpha, a, bi(lda), b, bi(ldb), beta,
                c, bi(ldc));
  }
  static void gemv(bool trans, std::int64_t rows, std::int64_t cols, float alpha, const float* a, std::int64_t lda,
                   const float* x, std::int64_t incx, float beta, float* y) {
    cblas_sgemv(CblasRowMajor, blas_trans(trans), bi(rows), bi(cols), alpha, a, bi(lda), x, bi(incx), beta, y, 1);
  }
};

template <>
struct Blas<double> {
  static void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* a,
                   std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc) {
    cblas_dgemm(CblasRowMajor, blas_trans(ta), blas_trans(tb), bi(m), bi(n), bi(k), alpha, a, bi(lda), b, bi(ldb), beta,
                c, bi(ldc));
  }
  static void gemv(bool trans, std::int64_t rows, std::int64_t cols, double alpha, const double* a, std::int64_t lda,
                   const double* x, std::int64_t incx, double beta, double* y) {
    cblas_dgemv(CblasRowMajor, blas_trans(trans), bi(rows), bi(cols), alpha, a, bi(lda), x, bi(incx), beta, y, 1);
  }
};

// One output tile: C[batch][row0 : row0+rows, col0 : col0+cols] = A rows (rows x k) * B cols (k x cols).
struct Tile {
  std::int64_t batch, row0, rows, col0, cols;
};

// c_tile (rows x cols, row stride ld) = beta * c_tile, where beta == 0 writes zeros (and so
// drops the NaNs of uninitialised memory, which a multiplication would keep).
template <class T>
void scale_tile(T* c_tile, std::int64_t rows, std::int64_t cols, std::int64_t ld, T beta) {
  for (std::int64_t r = 0; r < rows; ++r) {
    T* row = c_tile + r * ld;
    if (beta == T(0)) {
      std::fill_n(row, cols, T(0));
    } else {
      for (std::int64_t j = 0; j < cols; ++j) row[j] *= beta;
    }
  }
}

template <class T>
void run_tile(const GemmShape& s, const GemmOperand<T>& a, const GemmOperand<T>& b, T* c, const Tile& t, T alpha,
              T beta) {
  const auto bi_index = static_cast<std::size_t>(t.batch);
  const T* a_matrix = a.data + a.batch_offsets[bi_index];
  const T* b_matrix = b.data + b.batch_offsets[bi_index];
  // A is (m x k): its rows are ld apart, or in the transposed store its columns are.
  const T* a_rows = a.transposed ? a_matrix + t.row0 : a_matrix + t.row0 * a.ld;
  // B is (k x n): its columns are adjacent, or in the transposed store ld apart.
  const T* b_cols = b.transposed ? b_matrix + t.col0 * b.ld : b_matrix + t.col0;
  T* c_tile = c + t.batch * s.m * s.n + t.row0 * s.n + t.col0;  // (rows x cols), row stride n

  if (s.k == 0) {  // an empty sum
    scale_tile(c_tile, t.rows, t.cols, s.n, beta);
    return;
  }
  // A single output column or row is a matrix-vector product: gemv streams the matrix once,
  // where gemm would first pack it. With beta == 0 the output is zeroed first because gemv
  // may scale (and so keep) the NaNs of uninitialised memory.
  if (t.cols == 1) {  // n == 1: c (rows) = A (rows x k) * B's column (k, stride ld or 1)
    if (beta == T(0)) std::fill_n(c_tile, t.rows, T(0));
    const std::int64_t incx = b.transposed ? 1 : b.ld;
    if (a.transposed) {
      Blas<T>::gemv(true, s.k, t.rows, alpha, a_rows, a.ld, b_cols, incx, beta, c_tile);
    } else {
      Blas<T>::gemv(false, t.rows, s.k, alpha, a_rows, a.ld, b_cols, incx, beta, c_tile);
    }
    return;
  }
  if (t.rows == 1) {  // m == 1: c (cols) = B^T (cols x k) * A's row (k, stride 1 or ld)
    if (beta == T(0)) std::fill_n(c_tile, t.cols, T(0));
    const std::int64_t incx = a.transposed ? a.ld : 1;
    if (b.transposed) {
      Blas<T>::gemv(false, t.cols, s.k, alpha, b_cols, b.ld, a_rows, incx, beta, c_tile);
    } else {
      Blas<T>::gemv(true, s.k, t.cols, alpha, b_cols, b.ld, a_rows, incx, beta, c_tile);
    }
    return;
  }
  Blas<T>::gemm(a.transposed, b.transposed, t.rows, t.cols, s.k, alpha, a_rows, a.ld, b_cols, b.ld, beta, c_tile, s.n);
}

template <class T>
void gemm_tiled(const GemmShape& s, const GemmOperand<T>& a, const GemmOperand<T>& b, T* c, GemmSchedule schedule,
                T alpha, T beta) {
  if (s.batch <= 0 || s.m <= 0 || s.n <= 0) return;
  const GemmTiling plan = plan_gemm_tiling(s);
  const std::int64_t per_matrix = plan.tiles_m * plan.tiles_n;
  auto run_tasks = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t task = begin; task < end; ++task) {
      Tile t{};
      t.batch = task / per_matrix;
      const std::int64_t within = task % per_matrix;
      t.row0 = (within / plan.tiles_n) * plan.tile_m;
      t.col0 = (within % plan.tiles_n) * plan.tile_n;
      t.rows = std::min(plan.tile_m, s.m - t.row0);
      t.cols = std::min(plan.tile_n, s.n - t.col0);
      run_tile(s, a, b, c, t, alpha, beta);
    }
  };
  const std::int64_t tasks = plan.tasks(s.batch);
  if (plan.run_inline || schedule == GemmSchedule::sequential) {
    run_tasks(0, tasks);
  } else {
    par_for(tasks, plan.grain, run_tasks);
  }
}

}  // namespace

void gemm(const GemmShape& shape, const GemmOperand<float>& a, const GemmOperand<float>& b, float* c,
          GemmSchedule schedule, float alpha, float beta) {
  gemm_tiled(shape, a, b, c, schedule, alpha, beta);
}

void gemm(const GemmShape& shape, const GemmOperand<double>& a, const GemmOperand<double>& b, double* c,
          GemmSchedule schedule, double alpha, double beta) {
  gemm_tiled(shape, a, b, c, schedule, alpha, beta);
}

}  // namespace dm::cpu
