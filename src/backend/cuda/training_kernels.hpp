#pragma once
// The fused training kernels, gathers and host-returning sums of training.cu, layer_norm.cu,
// index_select.cu and host_sums.cu, with the Backend entries' arguments and meaning (see
// backend/backend.hpp); device pointers throughout, launched on the default stream.
#include <cstdint>
#include <span>

#include "backend/backend.hpp"

namespace dm::cuda_backend::kernels {

void unary_backward(UnaryGradOp op, DType dtype, const std::byte* g, const std::byte* x, const std::byte* y,
                    std::byte* dx, std::int64_t n);
void bias_add_rows(DType dtype, std::byte* y, const std::byte* b, std::int64_t rows, std::int64_t cols);
void sum_rows(DType dtype, const std::byte* g, std::byte* out, std::int64_t rows, std::int64_t cols);
void dropout_mask(DType dtype, std::byte* mask, double keep, std::int64_t n);
void multiply(DType dtype, const std::byte* a, const std::byte* b, std::byte* out, std::int64_t n);
void scaled_difference(DType dtype, const std::byte* p, const std::byte* t, std::byte* out, double scale,
                       std::int64_t n);
void nll_backward(DType dtype, std::byte* out, const std::int64_t* labels, double value, std::int64_t rows,
                  std::int64_t cols);
void cross_entropy_backward(DType dtype, const std::byte* probs, const std::int64_t* labels, std::byte* dlogits,
                            double scale, std::int64_t rows, std::int64_t cols);
void sgd_step(DType dtype, std::byte* p, const std::byte* g, std::byte* buf, std::int64_t n,
              const backend::SgdStep& step);
void adam_step(DType dtype, std::byte* p, const std::byte* g, std::byte* m, std::byte* v, std::int64_t n,
               const backend::AdamStep& step);
void add_scaled_many(float* p, std::span<const float* const> deltas, float alpha, std::int64_t n);
void weighted_sum(DType dtype, std::byte* out, std::span<const std::byte* const> sources,
                  std::span<const double> weights, std::int64_t n);

// host_sums.cu: results read back to the host
bool all_finite(const std::byte* data, DType dtype, std::int64_t n);
double nll_sum(DType dtype, const std::byte* log_probs, const std::int64_t* labels, std::int64_t rows,
               std::int64_t cols);
double squared_error_sum(DType dtype, const std::byte* p, const std::byte* t, std::int64_t n);
// layer_norm.cu
void layer_norm_forward(DType dtype, const std::byte* x, const std::byte* w, const std::byte* b, std::byte* y,
                        std::byte* mean, std::byte* rstd, std::int64_t rows, std::int64_t d, double eps);
void layer_norm_backward(DType dtype, const std::byte* g, const std::byte* x, const std::byte* w,
                         const std::byte* mean, const std::byte* rstd, std::byte* dx, std::byte* dw, std::byte* db,
                         std::int64_t rows, std::int64_t d);
void cross_entropy_forward(DType dtype, const std::byte* logits, const std::int64_t* labels, std::byte* probs,
                           double* row_loss, std::int64_t rows, std::int64_t cols);
// index_select.cu
void index_select(const backend::Output& out, const std::byte* src, const Strides& src_strides, int dim,
                  const std::int64_t* index);

}  // namespace dm::cuda_backend::kernels
