#pragma once
// CPU kernels of batch and group normalisation (see Backend in backend/backend.hpp for each
// one's layout and maths).
#include <cstddef>

#include "backend/backend.hpp"

namespace dm::cpu {

// batch_norm.cpp
void batch_norm_forward(DType dtype, const backend::NormGeometry& geo, const std::byte* x, const std::byte* w,
                        const std::byte* b, const std::byte* running_mean, const std::byte* running_var, bool training,
                        double eps, std::byte* y, std::byte* mean, std::byte* invstd, std::byte* unbiased_var);
void batch_norm_backward(DType dtype, const backend::NormGeometry& geo, const std::byte* g, const std::byte* x,
                         const std::byte* w, const std::byte* mean, const std::byte* invstd, bool training,
                         std::byte* dx, std::byte* dw, std::byte* db);

void batch_norm_statistics(DType dtype, const backend::NormGeometry& geo, const std::byte* x, std::byte* stats);
void batch_norm_combine_statistics(std::int64_t parts, std::int64_t channels, const std::byte* gathered, double eps,
                                   std::byte* combined);
void batch_norm_normalize(DType dtype, const backend::NormGeometry& geo, const std::byte* x, const std::byte* w,
                          const std::byte* b, const std::byte* mean, const std::byte* invstd, std::byte* y);
void batch_norm_backward_sums(DType dtype, const backend::NormGeometry& geo, const std::byte* g, const std::byte* x,
                              const std::byte* mean, const std::byte* invstd, std::byte* sums);
void batch_norm_backward_input(DType dtype, const backend::NormGeometry& geo, const std::byte* g, const std::byte* x,
                               const std::byte* w, const std::byte* mean, const std::byte* invstd,
                               const std::byte* sums, double count, std::byte* dx);

// group_norm.cpp
void group_norm_forward(DType dtype, const backend::NormGeometry& geo, const std::byte* x, const std::byte* w,
                        const std::byte* b, double eps, std::byte* y, std::byte* mean, std::byte* rstd);
void group_norm_backward(DType dtype, const backend::NormGeometry& geo, const std::byte* g, const std::byte* x,
                         const std::byte* w, const std::byte* mean, const std::byte* rstd, std::byte* dx,
                         std::byte* dw, std::byte* db);

}  // namespace dm::cpu
