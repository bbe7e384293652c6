// CUDA group norm over contiguous (N, C, S) data, as cpu/group_norm.cpp: each (sample, group)
// is one row of D = C / G * S contiguous values, normalised like a layer-norm row by one block
// (sums in f64 through block_reduce.cuh's fixed tree), then scaled and shifted per channel.
//
//   forward:  mean_r, rstd_r = 1 / sqrt(var_r + eps) (biased, two passes in f64)
//             y = (x - mean) * rstd * w_c + b_c
//   backward: dxhat = g * w_c, dx = rstd * (dxhat - mean_r(dxhat) - xhat * mean_r(dxhat * xhat))
//             (one block per row); dw_c = sum g * xhat, db_c = sum g (one block per channel)
#include <cmath>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/layer_kernels.hpp"
#include "backend/cuda/layer_support.cuh"

namespace dm::cuda_backend::kernels {
namespace {

using backend::NormGeometry;
using layer::typed;

inline constexpr int kRowThreads = 256;
using RowReduce = BlockReduce<double, kRowThreads>;

template <class T>
__device__ inline double weight_at(const T* w, std::int64_t ch) {
  return w ? static_cast<double>(w[ch]) : 1.0;
}

template <class T>
__global__ void forward_rows(NormGeometry geo, const T* x, const T* w, const T* b, double eps, T* y, T* mean,
                             T* rstd) {
  __shared__ RowReduce::TempStorage tmp;
  __shared__ double shared;
  const std::int64_t per_group = geo.channels / geo.groups, s = geo.spatial, d = per_group * s;
  const double count = static_cast<double>(d);
  for (std::int64_t r = blockIdx.x; r < geo.batch * geo.groups; r += gridDim.x) {
    const T* xr = x + r * d;
    double sum = 0.0;
    for (std::int64_t j = threadIdx.x; j < d; j += kRowThreads) sum += static_cast<double>(xr[j]);
    sum = block_sum<kRowThreads>(sum, tmp, &shared);
    const double mu = d > 0 ? sum / count : 0.0;
    double ss = 0.0;
    for (std::int64_t j = threadIdx.x; j < d; j += kRowThreads) {
      const double c = static_cast<double>(xr[j]) - mu;
      ss += c * c;
    }
    ss = block_sum<kRowThreads>(ss, tmp, &shared);
    const double inv = 1.0 / sqrt((d > 0 ? ss / count : 0.0) + eps);
    if (threadIdx.x == 0) {
      mean[r] = static_cast<T>(mu);
      rstd[r] = static_cast<T>(inv);
    }
    const std::int64_t first_channel = (r % geo.groups) * per_group;
    for (std::int64_t j = threadIdx.x; j < d; j += kRowThreads) {
      const std::int64_t ch = first_channel + j / s;
      const double shift = b ? static_cast<double>(b[ch]) : 0.0;
      y[r * d + j] = static_cast<T>((static_cast<double>(xr[j]) - mu) * (inv * weight_at(w, ch)) + shift);
    }
  }
}

template <class T>
__global__ void input_grad_rows(NormGeometry geo, const T* g, const T* x, const T* w, const T* mean, const T* rstd,
                                T* dx) {
  __shared__ RowReduce::TempStorage tmp;
  __shared__ double shared;
  const std::int64_t per_group = geo.channels / geo.groups, s = geo.spatial, d = per_group * s;
  for (std::int64_t r = blockIdx.x; r < geo.batch * geo.groups; r += gridDim.x) {
    const T* gr = g + r * d;
    const T* xr = x + r * d;
    const double mu = static_cast<double>(mean[r]), is = static_cast<double>(rstd[r]);
    const std::int64_t first_channel = (r % geo.groups) * per_group;
    double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
    for (std::int64_t j = threadIdx.x; j < d; j += kRowThreads) {
      const double dxhat = static_cast<double>(gr[j]) * weight_at(w, first_channel + j / s);
      sum_dxhat += dxhat;
      sum_dxhat_xhat += dxhat * ((static_cast<double>(xr[j]) - mu) * is);
    }
    const double a = block_sum<kRowThreads>(sum_dxhat, tmp, &shared) / static_cast<double>(d);
    const double c = block_sum<kRowThreads>(sum_dxhat_xhat, tmp, &shared) / static_cast<double>(d);
    for (std::int64_t j = threadIdx.x; j < d; j += kRowThreads) {
      const double xhat = (static_cast<double>(xr[j]) - mu) * is;
      dx[r * d + j] =
          static_cast<T>(is * (static_cast<double>(gr[j]) * weight_at(w, first_channel + j / s) - a - xhat * c));
    }
  }
}

template <class T>
__global__ void affine_grad_channels(NormGeometry geo, const T* g, const T* x, const T* mean, const T* rstd, T* dw,
                                     T* db) {
  __shared__ RowReduce::TempStorage tmp;
  __shared__ double shared;
  const std::int64_t c = geo.channels, s = geo.spatial, per_group = c / geo.groups, count = geo.batch * s;
  for (std::int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
    double sum_g = 0.0, sum_gx = 0.0;
    for (std::int64_t j = threadIdx.x; j < count; j += kRowThreads) {
      const std::int64_t i = j / s, r = i * geo.groups + ch / per_group;
      const std::int64_t e = (i * c + ch) * s + j % s;
      const double gv = static_cast<double>(g[e]);
      sum_g += gv;
      sum_gx += gv * ((static_cast<double>(x[e]) - static_cast<double>(mean[r])) * static_cast<double>(rstd[r]));
    }
    sum_g = block_sum<kRowThreads>(sum_g, tmp, &shared);
    sum_gx = block_sum<kRowThreads>(sum_gx, tmp, &shared);
    if (threadIdx.x == 0) {
      if (dw) dw[ch] = static_cast<T>(sum_gx);
      if (db) db[ch] = static_cast<T>(sum_g);
    }
  }
}

}  // namespace

void group_norm_forward(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                        const std::byte* b, double eps, std::byte* y, std::byte* mean, std::byte* rstd) {
  const std::int64_t rows = geo.batch * geo.groups;
  if (rows <= 0) return;
  layer::dispatch_float(dtype, "group_norm_forward", [&]<class T>(T) {
    forward_rows<T><<<layer::block_per_item(rows), kRowThreads>>>(geo, typed<T>(x), typed<T>(w), typed<T>(b), eps,
                                                                  typed<T>(y), typed<T>(mean), typed<T>(rstd));
  });
  check_launch("group_norm_forward");
}

void group_norm_backward(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                         const std::byte* w, const std::byte* mean, const std::byte* rstd, std::byte* dx,
                         std::byte* dw, std::byte* db) {
  const std::int64_t rows = geo.batch * geo.groups;
  layer::dispatch_float(dtype, "group_norm_backward", [&]<class T>(T) {
    if (dx && rows > 0)
      input_grad_rows<T><<<layer::block_per_item(rows), kRowThreads>>>(
          geo, typed<T>(g), typed<T>(x), typed<T>(w), typed<T>(mean), typed<T>(rstd), typed<T>(dx));
    if ((dw || db) && geo.channels > 0)
      affine_grad_channels<T><<<layer::block_per_item(geo.channels), kRowThreads>>>(
          geo, typed<T>(g), typed<T>(x), typed<T>(mean), typed<T>(rstd), typed<T>(dw), typed<T>(db));
  });
  check_launch("group_norm_backward");
}

}  // namespace dm::cuda_backend::kernels
