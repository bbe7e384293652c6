#pragma once
// CPU kernels of the fused passes training needs (see Backend in backend/backend.hpp for
// each one's layout and maths). The ops, nn and optim layers call them through the Backend.
#include <cstddef>
#include <cstdint>
#include <span>

#include "backend/backend.hpp"

namespace dm::cpu {

// finite.cpp
bool all_finite(const std::byte* data, DType dtype, std::int64_t n);

// rows.cpp
void bias_add_rows(DType dtype, std::byte* y, const std::byte* b, std::int64_t rows, std::int64_t cols);
void sum_rows(DType dtype, const std::byte* g, std::byte* out, std::int64_t rows, std::int64_t cols);

// layer_norm.cpp
void layer_norm_forward(DType dtype, const std::byte* x, const std::byte* w, const std::byte* b, std::byte* y,
                        std::byte* mean, std::byte* rstd, std::int64_t rows, std::int64_t d, double eps);
void layer_norm_backward(DType dtype, const std::byte* g, const std::byte* x, const std::byte* w,
                         const std::byte* mean, const std::byte* rstd, std::byte* dx, std::byte* dw, std::byte* db,
                         std::int64_t rows, std::int64_t d);

// losses.cpp
void cross_entropy_forward(DType dtype, const std::byte* logits, const std::int64_t* labels, std::byte* probs,
                           double* row_loss, std::int64_t rows, std::int64_t cols);
void cross_entropy_backward(DType dtype, const std::byte* probs, const std::int64_t* labels, std::byte* dlogits,
                            double scale, std::int64_t rows, std::int64_t cols);
double nll_sum(DType dtype, const std::byte* log_probs, const std::int64_t* labels, std::int64_t rows,
               std::int64_t cols);
void nll_backward(DType dtype, std::byte* out, const std::int64_t* labels, double value, std::int64_t rows,
                  std::int64_t cols);
double squared_error_sum(DType dtype, const std::byte* p, const std::byte* t, std::int64_t n);
void scaled_difference(DType dtype, const std::byte* p, const std::byte* t, std::byte* out, double scale,
                       std::int64_t n);

// dropout.cpp
void dropout_mask(DType dtype, std::byte* mask, double keep, std::int64_t n);
void multiply(DType dtype, const std::byte* a, const std::byte* b, std::byte* out, std::int64_t n);

// optimizers.cpp
void sgd_step(DType dtype, std::byte* p, const std::byte* g, std::byte* buf, std::int64_t n,
              const backend::SgdStep& step);
void adam_step(DType dtype, std::byte* p, const std::byte* g, std::byte* m, std::byte* v, std::int64_t n,
               const backend::AdamStep& step);

// parameter_updates.cpp
void add_scaled_many(float* p, std::span<const float* const> deltas, float alpha, std::int64_t n);
void weighted_sum(DType dtype, std::byte* out, std::span<const std::byte* const> sources,
                  std::span<const double> weights, std::int64_t n);

// random_fill.cpp
void random_uniform(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double low,
                    double high);
void random_normal(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double mean,
                   double std);
void random_int(std::int64_t* out, std::int64_t n, std::uint64_t seed, std::uint64_t start, std::int64_t low,
                std::int64_t high);

}  // namespace dm::cpu
