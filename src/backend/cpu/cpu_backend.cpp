// The CPU backend's entries: each forwards to the kernel of its op family.
#include "backend/cpu/cpu_backend.hpp"

#include <cstring>
#include <string>

#include "backend/cpu/attention_kernels.hpp"
#include "backend/cpu/caching_allocator.hpp"
#include "backend/cpu/conv_pool.hpp"
#include "backend/cpu/elementwise.hpp"
#include "backend/cpu/gemm.hpp"
#include "backend/cpu/norm_kernels.hpp"
#include "backend/cpu/reduce.hpp"
#include "backend/cpu/training_kernels.hpp"
#include "democratising/base/error.hpp"

namespace dm::cpu {

void index_select(const backend::Output& out, const std::byte* src, const Strides& src_strides, int dim,
                  const std::int64_t* index);

namespace {

template <class T>
GemmOperand<T> typed(const backend::GemmOperand& op) {
  return {reinterpret_cast<const T*>(op.data), op.batch_offsets, op.transposed, op.ld};
}

}  // namespace

// ---- memory: logical CPU devices share the host's memory --------------------------------------

void* CpuBackend::allocate(std::size_t nbytes, int) { return cpu_allocator::allocate(nbytes); }
void CpuBackend::release(void* ptr, std::size_t nbytes, int) { cpu_allocator::release(ptr, nbytes); }
void CpuBackend::copy_from_host(void* dst, const void* src, std::size_t nbytes, int, Stream) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}
void CpuBackend::copy_to_host(void* dst, const void* src, std::size_t nbytes, int, Stream) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}
void CpuBackend::copy_on_device(void* dst, int, const void* src, int, std::size_t nbytes, Stream) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}
void CpuBackend::synchronize(int) {}

// ---- elementwise ------------------------------------------------------------------------------

void CpuBackend::unary(UnaryOp op, const Output& out, const Operand& a, UnaryParams params, DType compute) {
  cpu::unary(op, out, a, params, compute);
}
void CpuBackend::binary(BinaryOp op, const Output& out, const Operand& a, const Operand& b, DType compute) {
  cpu::binary(op, out, a, b, compute);
}
void CpuBackend::binary_scalar(BinaryOp op, const Output& out, const Operand& a, double scalar, ScalarSide side,
                               DType compute) {
  cpu::binary_scalar(op, out, a, scalar, side, compute);
}
void CpuBackend::compare(CompareOp op, const Output& out, const Operand& a, const Operand& b, DType compute) {
  cpu::compare(op, out, a, b, compute);
}
void CpuBackend::compare_scalar(CompareOp op, const Output& out, const Operand& a, double scalar, DType compute) {
  cpu::compare_scalar(op, out, a, scalar, compute);
}
void CpuBackend::where(const Output& out, const Operand& cond, const Operand& a, const Operand& b) {
  cpu::where(out, cond, a, b);
}
void CpuBackend::copy(const Output& out, const Operand& src) { cpu::copy(out, src); }
void CpuBackend::fill(const Output& out, double value) { cpu::fill(out, value); }
void CpuBackend::unary_backward(UnaryGradOp op, DType dtype, const std::byte* g, const std::byte* x,
                                const std::byte* y, std::byte* dx, std::int64_t n) {
  cpu::unary_backward(op, dtype, g, x, y, dx, n);
}

// ---- reductions -------------------------------------------------------------------------------

void CpuBackend::reduce_sum(SumKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::int64_t correction,
                            std::byte* out) {
  switch (kind) {
    case SumKind::sum: return sum_kernel(in, dtype, g, out);
    case SumKind::mean: return mean_kernel(in, dtype, g, out);
    case SumKind::var: return var_kernel(in, dtype, g, correction, false, out);
    case SumKind::std: return var_kernel(in, dtype, g, correction, true, out);
  }
}
void CpuBackend::reduce_extreme(Extreme kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* values,
                                std::int64_t* indices) {
  extreme_kernel(in, dtype, g, kind, values, indices);
}
void CpuBackend::softmax(SoftmaxKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) {
  softmax_kernel(in, dtype, g, kind, out);
}
void CpuBackend::logsumexp(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) {
  logsumexp_kernel(in, dtype, g, out);
}

// ---- matrix products and gathers ----------------------------------------------------------------

void CpuBackend::gemm(DType dtype, const GemmShape& shape, const GemmOperand& a, const GemmOperand& b, std::byte* c,
                      double alpha, double beta, Schedule schedule) {
  switch (dtype) {
    case DType::f32:
      return cpu::gemm(shape, typed<float>(a), typed<float>(b), reinterpret_cast<float*>(c), schedule,
                       static_cast<float>(alpha), static_cast<float>(beta));
    case DType::f64:
      return cpu::gemm(shape, typed<double>(a), typed<double>(b), reinterpret_cast<double*>(c), schedule, alpha, beta);
    default:
      throw DTypeError("[gemm] the CPU GEMM computes f32 or f64, got " + std::string(dtype_name(dtype)));
  }
}

void CpuBackend::index_select(const Output& out, const std::byte* src, const Strides& src_strides, int dim,
                              const std::int64_t* index) {
  cpu::index_select(out, src, src_strides, dim, index);
}

// ---- random numbers ---------------------------------------------------------------------------

void CpuBackend::random_uniform(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start,
                                double low, double high) {
  cpu::random_uniform(out, dtype, n, seed, start, low, high);
}
void CpuBackend::random_normal(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start,
                               double mean, double std) {
  cpu::random_normal(out, dtype, n, seed, start, mean, std);
}
void CpuBackend::random_int(std::int64_t* out, std::int64_t n, std::uint64_t seed, std::uint64_t start,
                            std::int64_t low, std::int64_t high) {
  cpu::random_int(out, n, seed, start, low, high);
}

// ---- fused training kernels ---------------------------------------------------------------------

void CpuBackend::bias_add_rows(DType dtype, std::byte* y, const std::byte* b, std::int64_t rows, std::int64_t cols) {
  cpu::bias_add_rows(dtype, y, b, rows, cols);
}
bool CpuBackend::all_finite(const std::byte* data, DType dtype, std::int64_t n) {
  return cpu::all_finite(data, dtype, n);
}
void CpuBackend::sum_rows(DType dtype, const std::byte* g, std::byte* out, std::int64_t rows, std::int64_t cols) {
  cpu::sum_rows(dtype, g, out, rows, cols);
}
void CpuBackend::layer_norm_forward(DType dtype, const std::byte* x, const std::byte* w, const std::byte* b,
                                    std::byte* y, std::byte* mean, std::byte* rstd, std::int64_t rows, std::int64_t d,
                                    double eps) {
  cpu::layer_norm_forward(dtype, x, w, b, y, mean, rstd, rows, d, eps);
}
void CpuBackend::layer_norm_backward(DType dtype, const std::byte* g, const std::byte* x, const std::byte* w,
                                     const std::byte* mean, const std::byte* rstd, std::byte* dx, std::byte* dw,
                                     std::byte* db, std::int64_t rows, std::int64_t d) {
  cpu::layer_norm_backward(dtype, g, x, w, mean, rstd, dx, dw, db, rows, d);
}
void CpuBackend::cross_entropy_forward(DType dtype, const std::byte* logits, const std::int64_t* labels,
                                       std::byte* probs, double* row_loss, std::int64_t rows, std::int64_t cols) {
  cpu::cross_entropy_forward(dtype, logits, labels, probs, row_loss, rows, cols);
}
void CpuBackend::cross_entropy_backward(DType dtype, const std::byte* probs, const std::int64_t* labels,
                                        std::byte* dlogits, double scale, std::int64_t rows, std::int64_t cols) {
  cpu::cross_entropy_backward(dtype, probs, labels, dlogits, scale, rows, cols);
}
double CpuBackend::nll_sum(DType dtype, const std::byte* log_probs, const std::int64_t* labels, std::int64_t rows,
                           std::int64_t cols) {
  return cpu::nll_sum(dtype, log_probs, labels, rows, cols);
}
void CpuBackend::nll_backward(DType dtype, std::byte* out, const std::int64_t* labels, double value, std::int64_t rows,
                              std::int64_t cols) {
  cpu::nll_backward(dtype, out, labels, value, rows, cols);
}
double CpuBackend::squared_error_sum(DType dtype, const std::byte* p, const std::byte* t, std::int64_t n) {
  return cpu::squared_error_sum(dtype, p, t, n);
}
void CpuBackend::scaled_difference(DType dtype, const std::byte* p, const std::byte* t, std::byte* out, double scale,
                                   std::int64_t n) {
  cpu::scaled_difference(dtype, p, t, out, scale, n);
}
void CpuBackend::dropout_mask(DType dtype, std::byte* mask, double keep, std::int64_t n) {
  cpu::dropout_mask(dtype, mask, keep, n);
}
void CpuBackend::multiply(DType dtype, const std::byte* a, const std::byte* b, std::byte* out, std::int64_t n) {
  cpu::multiply(dtype, a, b, out, n);
}
void CpuBackend::sgd_step(DType dtype, std::byte* p, const std::byte* g, std::byte* buf, std::int64_t n,
                          const SgdStep& step) {
  cpu::sgd_step(dtype, p, g, buf, n, step);
}
void CpuBackend::adam_step(DType dtype, std::byte* p, const std::byte* g, std::byte* m, std::byte* v, std::int64_t n,
                           const AdamStep& step) {
  cpu::adam_step(dtype, p, g, m, v, n, step);
}
void CpuBackend::add_scaled_many(float* p, std::span<const float* const> deltas, float alpha, std::int64_t n) {
  cpu::add_scaled_many(p, deltas, alpha, n);
}
void CpuBackend::weighted_sum(DType dtype, std::byte* out, std::span<const std::byte* const> sources,
                              std::span<const double> weights, std::int64_t n) {
  cpu::weighted_sum(dtype, out, sources, weights, n);
}

// ---- convolution and pooling ------------------------------------------------------------------

void CpuBackend::conv2d_forward(DType dtype, const Conv2dGeometry& geo, const std::byte* x, const std::byte* w,
                                const std::byte* bias, std::byte* y) {
  cpu::conv2d_forward(dtype, geo, x, w, bias, y);
}
void CpuBackend::conv2d_backward(DType dtype, const Conv2dGeometry& geo, const std::byte* g, const std::byte* x,
                                 const std::byte* w, std::byte* dx, std::byte* dw, std::byte* db) {
  cpu::conv2d_backward(dtype, geo, g, x, w, dx, dw, db);
}
void CpuBackend::max_pool2d_forward(DType dtype, const Pool2dGeometry& geo, const std::byte* x, std::byte* y,
                                    std::int64_t* indices) {
  cpu::max_pool2d_forward(dtype, geo, x, y, indices);
}
void CpuBackend::max_pool2d_backward(DType dtype, const Pool2dGeometry& geo, const std::byte* g,
                                     const std::int64_t* indices, std::byte* dx) {
  cpu::max_pool2d_backward(dtype, geo, g, indices, dx);
}
void CpuBackend::avg_pool2d_forward(DType dtype, const Pool2dGeometry& geo, bool count_include_pad,
                                    const std::byte* x, std::byte* y) {
  cpu::avg_pool2d_forward(dtype, geo, count_include_pad, x, y);
}
void CpuBackend::avg_pool2d_backward(DType dtype, const Pool2dGeometry& geo, bool count_include_pad,
                                     const std::byte* g, std::byte* dx) {
  cpu::avg_pool2d_backward(dtype, geo, count_include_pad, g, dx);
}
void CpuBackend::adaptive_avg_pool2d_forward(DType dtype, const Pool2dGeometry& geo, const std::byte* x,
                                             std::byte* y) {
  cpu::adaptive_avg_pool2d_forward(dtype, geo, x, y);
}
void CpuBackend::adaptive_avg_pool2d_backward(DType dtype, const Pool2dGeometry& geo, const std::byte* g,
                                              std::byte* dx) {
  cpu::adaptive_avg_pool2d_backward(dtype, geo, g, dx);
}

// ---- embedding and attention ----------------------------------------------------------------

void CpuBackend::embedding_backward(DType dtype, const std::byte* g, const std::int64_t* indices, std::int64_t n,
                                    std::int64_t num, std::int64_t dim, std::byte* dw) {
  cpu::embedding_backward(dtype, g, indices, n, num, dim, dw);
}
void CpuBackend::attention_forward(DType dtype, const AttentionGeometry& geo, const std::byte* q, const std::byte* k,
                                   const std::byte* v, std::byte* out, std::byte* lse) {
  cpu::attention_forward(dtype, geo, q, k, v, out, lse);
}
void CpuBackend::attention_backward(DType dtype, const AttentionGeometry& geo, const std::byte* g, const std::byte* q,
                                    const std::byte* k, const std::byte* v, const std::byte* lse, std::byte* dq,
                                    std::byte* dk, std::byte* dv) {
  cpu::attention_backward(dtype, geo, g, q, k, v, lse, dq, dk, dv);
}
// ---- batch and group normalisation ------------------------------------------------------------

void CpuBackend::batch_norm_forward(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                                    const std::byte* b, const std::byte* running_mean, const std::byte* running_var,
                                    bool training, double eps, std::byte* y, std::byte* mean, std::byte* invstd,
                                    std::byte* unbiased_var) {
  cpu::batch_norm_forward(dtype, geo, x, w, b, running_mean, running_var, training, eps, y, mean, invstd,
                          unbiased_var);
}
void CpuBackend::batch_norm_backward(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                                     const std::byte* w, const std::byte* mean, const std::byte* invstd,
                                     bool training, std::byte* dx, std::byte* dw, std::byte* db) {
  cpu::batch_norm_backward(dtype, geo, g, x, w, mean, invstd, training, dx, dw, db);
}
void CpuBackend::batch_norm_statistics(DType dtype, const NormGeometry& geo, const std::byte* x, std::byte* stats) {
  cpu::batch_norm_statistics(dtype, geo, x, stats);
}
void CpuBackend::batch_norm_combine_statistics(std::int64_t parts, std::int64_t channels, const std::byte* gathered,
                                               double eps, std::byte* combined) {
  cpu::batch_norm_combine_statistics(parts, channels, gathered, eps, combined);
}
void CpuBackend::batch_norm_normalize(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                                      const std::byte* b, const std::byte* mean, const std::byte* invstd,
                                      std::byte* y) {
  cpu::batch_norm_normalize(dtype, geo, x, w, b, mean, invstd, y);
}
void CpuBackend::batch_norm_backward_sums(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                                          const std::byte* mean, const std::byte* invstd, std::byte* sums) {
  cpu::batch_norm_backward_sums(dtype, geo, g, x, mean, invstd, sums);
}
void CpuBackend::batch_norm_backward_input(DType dtype, const NormGeometry& geo, const std::byte* g,
                                           const std::byte* x, const std::byte* w, const std::byte* mean,
                                           const std::byte* invstd, const std::byte* sums, double count,
                                           std::byte* dx) {
  cpu::batch_norm_backward_input(dtype, geo, g, x, w, mean, invstd, sums, count, dx);
}
void CpuBackend::group_norm_forward(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                                    const std::byte* b, double eps, std::byte* y, std::byte* mean,
                                    std::byte* rstd) {
  cpu::group_norm_forward(dtype, geo, x, w, b, eps, y, mean, rstd);
}
void CpuBackend::group_norm_backward(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                                     const std::byte* w, const std::byte* mean, const std::byte* rstd,
                                     std::byte* dx, std::byte* dw, std::byte* db) {
  cpu::group_norm_backward(dtype, geo, g, x, w, mean, rstd, dx, dw, db);
}

CpuBackend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace dm::cpu
