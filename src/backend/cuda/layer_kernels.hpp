#pragma once
// The kernels of the model layers' entries: convolution, pooling, batch and group norm,
// embedding and attention (one .cu file per family, as in src/backend/cpu/), with the Backend
// entries' arguments and meaning (see backend/backend.hpp); device pointers throughout,
// launched on the default stream. Each throws a DeviceError naming its entry on a CUDA error.
#include <cstdint>

#include "backend/backend.hpp"

namespace dm::cuda_backend::kernels {

// conv2d.cu
void conv2d_forward(DType dtype, const backend::Conv2dGeometry& geo, const std::byte* x, const std::byte* w,
                    const std::byte* bias, std::byte* y);
void conv2d_backward(DType dtype, const backend::Conv2dGeometry& geo, const std::byte* g, const std::byte* x,
                     const std::byte* w, std::byte* dx, std::byte* dw, std::byte* db);
// max_pool2d.cu
void max_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* x, std::byte* y,
                        std::int64_t* indices);
void max_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* g,
                         const std::int64_t* indices, std::byte* dx);
// avg_pool2d.cu
void avg_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, bool count_include_pad, const std::byte* x,
                        std::byte* y);
void avg_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, bool count_include_pad, const std::byte* g,
                         std::byte* dx);
// adaptive_avg_pool2d.cu
void adaptive_avg_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* x, std::byte* y);
void adaptive_avg_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* g, std::byte* dx);
// batch_norm.cu
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
// group_norm.cu
void group_norm_forward(DType dtype, const backend::NormGeometry& geo, const std::byte* x, const std::byte* w,
                        const std::byte* b, double eps, std::byte* y, std::byte* mean, std::byte* rstd);
void group_norm_backward(DType dtype, const backend::NormGeometry& geo, const std::byte* g, const std::byte* x,
                         const std::byte* w, const std::byte* mean, const std::byte* rstd, std::byte* dx,
                         std::byte* dw, std::byte* db);
// embedding.cu
void embedding_backward(DType dtype, const std::byte* g, const std::int64_t* indices, std::int64_t n,
                        std::int64_t num, std::int64_t dim, std::byte* dw);
// attention.cu
void attention_forward(DType dtype, const backend::AttentionGeometry& geo, const std::byte* q, const std::byte* k,
                       const std::byte* v, std::byte* out, std::byte* lse);
void attention_backward(DType dtype, const backend::AttentionGeometry& geo, const std::byte* g, const std::byte* q,
                        const std::byte* k, const std::byte* v, const std::byte* lse, std::byte* dq, std::byte* dk,
                        std::byte* dv);

}  // namespace dm::cuda_backend::kernels
