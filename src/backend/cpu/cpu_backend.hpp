#pragma once
// The CPU backend: memory from the caching allocator, kernels in the files beside this one,
// one per op family. Every kernel runs on the process-wide pool and has finished when it
// returns, so the stream arguments are ignored.
#include "backend/backend.hpp"

namespace dm::cpu {

class CpuBackend final : public backend::Backend {
 public:
  using Output = backend::Output;
  using Operand = backend::Operand;
  using GemmOperand = backend::GemmOperand;
  using Stream = backend::Stream;
  using SgdStep = backend::SgdStep;
  using AdamStep = backend::AdamStep;
  using Conv2dGeometry = backend::Conv2dGeometry;
  using Pool2dGeometry = backend::Pool2dGeometry;
  using AttentionGeometry = backend::AttentionGeometry;
  using NormGeometry = backend::NormGeometry;

  std::string_view name() const override { return "cpu"; }

  void* allocate(std::size_t nbytes, int index) override;
  void release(void* ptr, std::size_t nbytes, int index) override;
  void copy_from_host(void* dst, const void* src, std::size_t nbytes, int index, Stream stream) override;
  void copy_to_host(void* dst, const void* src, std::size_t nbytes, int index, Stream stream) override;
  void copy_on_device(void* dst, int dst_index, const void* src, int src_index, std::size_t nbytes,
                      Stream stream) override;
  void synchronize(int index) override;

  void unary(UnaryOp op, const Output& out, const Operand& a, UnaryParams params, DType compute) override;
  void binary(BinaryOp op, const Output& out, const Operand& a, const Operand& b, DType compute) override;
  void binary_scalar(BinaryOp op, const Output& out, const Operand& a, double scalar, ScalarSide side,
                     DType compute) override;
  void compare(CompareOp op, const Output& out, const Operand& a, const Operand& b, DType compute) override;
  void compare_scalar(CompareOp op, const Output& out, const Operand& a, double scalar, DType compute) override;
  void where(const Output& out, const Operand& cond, const Operand& a, const Operand& b) override;
  void copy(const Output& out, const Operand& src) override;
  void fill(const Output& out, double value) override;
  void unary_backward(UnaryGradOp op, DType dtype, const std::byte* g, const std::byte* x, const std::byte* y,
                      std::byte* dx, std::int64_t n) override;

  void reduce_sum(SumKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::int64_t correction,
                  std::byte* out) override;
  void reduce_extreme(Extreme kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* values,
                      std::int64_t* indices) override;
  void softmax(SoftmaxKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) override;
  void logsumexp(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) override;

  void gemm(DType dtype, const GemmShape& shape, const GemmOperand& a, const GemmOperand& b, std::byte* c, double alpha,
            double beta, Schedule schedule) override;
  void index_select(const Output& out, const std::byte* src, const Strides& src_strides, int dim,
                    const std::int64_t* index) override;

  void random_uniform(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double low,
                      double high) override;
  void random_normal(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double mean,
                     double std) override;
  void random_int(std::int64_t* out, std::int64_t n, std::uint64_t seed, std::uint64_t start, std::int64_t low,
                  std::int64_t high) override;

  void bias_add_rows(DType dtype, std::byte* y, const std::byte* b, std::int64_t rows, std::int64_t cols) override;
  bool all_finite(const std::byte* data, DType dtype, std::int64_t n) override;
  void sum_rows(DType dtype, const std::byte* g, std::byte* out, std::int64_t rows, std::int64_t cols) override;
  void layer_norm_forward(DType dtype, const std::byte* x, const std::byte* w, const std::byte* b, std::byte* y,
                          std::byte* mean, std::byte* rstd, std::int64_t rows, std::int64_t d, double eps) override;
  void layer_norm_backward(DType dtype, const std::byte* g, const std::byte* x, const std::byte* w,
                           const std::byte* mean, const std::byte* rstd, std::byte* dx, std::byte* dw, std::byte* db,
                           std::int64_t rows, std::int64_t d) override;
  void cross_entropy_forward(DType dtype, const std::byte* logits, const std::int64_t* labels, std::byte* probs,
                             double* row_loss, std::int64_t rows, std::int64_t cols) override;
  void cross_entropy_backward(DType dtype, const std::byte* probs, const std::int64_t* labels, std::byte* dlogits,
                              double scale, std::int64_t rows, std::int64_t cols) override;
  double nll_sum(DType dtype, const std::byte* log_probs, const std::int64_t* labels, std::int64_t rows,
                 std::int64_t cols) override;
  void nll_backward(DType dtype, std::byte* out, const std::int64_t* labels, double value, std::int64_t rows,
                    std::int64_t cols) override;
  double squared_error_sum(DType dtype, const std::byte* p, const std::byte* t, std::int64_t n) override;
  void scaled_difference(DType dtype, const std::byte* p, const std::byte* t, std::byte* out, double scale,
                         std::int64_t n) override;
  void dropout_mask(DType dtype, std::byte* mask, double keep, std::int64_t n) override;
  void multiply(DType dtype, const std::byte* a, const std::byte* b, std::byte* out, std::int64_t n) override;
  void sgd_step(DType dtype, std::byte* p, const std::byte* g, std::byte* buf, std::int64_t n,
                const SgdStep& step) override;
  void adam_step(DType dtype, std::byte* p, const std::byte* g, std::byte* m, std::byte* v, std::int64_t n,
                 const AdamStep& step) override;
  void add_scaled_many(float* p, std::span<const float* const> deltas, float alpha, std::int64_t n) override;
  void weighted_sum(DType dtype, std::byte* out, std::span<const std::byte* const> sources,
                    std::span<const double> weights, std::int64_t n) override;

  void conv2d_forward(DType dtype, const Conv2dGeometry& geo, const std::byte* x, const std::byte* w,
                      const std::byte* bias, std::byte* y) override;
  void conv2d_backward(DType dtype, const Conv2dGeometry& geo, const std::byte* g, const std::byte* x,
                       const std::byte* w, std::byte* dx, std::byte* dw, std::byte* db) override;
  void max_pool2d_forward(DType dtype, const Pool2dGeometry& geo, const std::byte* x, std::byte* y,
                          std::int64_t* indices) override;
  void max_pool2d_backward(DType dtype, const Pool2dGeometry& geo, const std::byte* g, const std::int64_t* indices,
                           std::byte* dx) override;
  void avg_pool2d_forward(DType dtype, const Pool2dGeometry& geo, bool count_include_pad, const std::byte* x,
                          std::byte* y) override;
  void avg_pool2d_backward(DType dtype, const Pool2dGeometry& geo, bool count_include_pad, const std::byte* g,
                           std::byte* dx) override;
  void adaptive_avg_pool2d_forward(DType dtype, const Pool2dGeometry& geo, const std::byte* x,
                                   std::byte* y) override;
  void adaptive_avg_pool2d_backward(DType dtype, const Pool2dGeometry& geo, const std::byte* g,
                                    std::byte* dx) override;

  void embedding_backward(DType dtype, const std::byte* g, const std::int64_t* indices, std::int64_t n,
                          std::int64_t num, std::int64_t dim, std::byte* dw) override;
  void attention_forward(DType dtype, const AttentionGeometry& geo, const std::byte* q, const std::byte* k,
                         const std::byte* v, std::byte* out, std::byte* lse) override;
  void attention_backward(DType dtype, const AttentionGeometry& geo, const std::byte* g, const std::byte* q,
                          const std::byte* k, const std::byte* v, const std::byte* lse, std::byte* dq, std::byte* dk,
                          std::byte* dv) override;
  void batch_norm_forward(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                          const std::byte* b, const std::byte* running_mean, const std::byte* running_var,
                          bool training, double eps, std::byte* y, std::byte* mean, std::byte* invstd,
                          std::byte* unbiased_var) override;
  void batch_norm_backward(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                           const std::byte* w, const std::byte* mean, const std::byte* invstd, bool training,
                           std::byte* dx, std::byte* dw, std::byte* db) override;
  void batch_norm_statistics(DType dtype, const NormGeometry& geo, const std::byte* x, std::byte* stats) override;
  void batch_norm_combine_statistics(std::int64_t parts, std::int64_t channels, const std::byte* gathered, double eps,
                                     std::byte* combined) override;
  void batch_norm_normalize(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                            const std::byte* b, const std::byte* mean, const std::byte* invstd, std::byte* y) override;
  void batch_norm_backward_sums(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                                const std::byte* mean, const std::byte* invstd, std::byte* sums) override;
  void batch_norm_backward_input(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                                 const std::byte* w, const std::byte* mean, const std::byte* invstd,
                                 const std::byte* sums, double count, std::byte* dx) override;
  void group_norm_forward(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                          const std::byte* b, double eps, std::byte* y, std::byte* mean, std::byte* rstd) override;
  void group_norm_backward(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                           const std::byte* w, const std::byte* mean, const std::byte* rstd, std::byte* dx,
                           std::byte* dw, std::byte* db) override;

};

/// The one CPU backend.
CpuBackend& cpu_backend();

}  // namespace dm::cpu
