// CUDA kernels of layer norm and the cross-entropy forward, one block per row for the row
// statistics (sums in f64 through block_reduce.cuh's fixed tree) and one thread per column
// for the affine gradients (rows added in order, as the CPU does).
//   layer norm: mean, rstd = 1 / sqrt(var + eps) (biased, two passes in f64),
//               y = (x - mean) * rstd * w + b
//   backward:   dx = rstd * (dxhat - mean_j(dxhat) - xhat * mean_j(dxhat * xhat)), dxhat = g * w
//               dw = sum_r g * xhat, db = sum_r g
//   cross-entropy: probs = softmax(x), loss = max + log(sum exp(x - max)) - x[label]
#include <cmath>
#include <string>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/check.hpp"
#include "backend/cuda/launch.hpp"
#include "backend/cuda/layer_support.cuh"
#include "backend/cuda/training_kernels.hpp"

namespace dm::cuda_backend::kernels {
namespace {

using layer::dispatch_float;
using layer::typed;

inline constexpr int kRowThreads = 256;
using RowReduce = BlockReduce<double, kRowThreads>;

template <class T>
__global__ void layer_norm_rows(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, std::int64_t rows,
                                std::int64_t d, double eps) {
  __shared__ RowReduce::TempStorage tmp;
  __shared__ double shared;
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * d;
    double s = 0.0;
    for (std::int64_t j = threadIdx.x; j < d; j += kRowThreads) s += static_cast<double>(xr[j]);
    const double mu = block_sum<kRowThreads>(s, tmp, &shared) / static_cast<double>(d);
    double ss = 0.0;
    for (std::int64_t j = threadIdx.x; j < d; j += kRowThreads) {
      const double c = static_cast<double>(xr[j]) - mu;
      ss += c * c;
    }
    const double inv = 1.0 / sqrt(block_sum<kRowThreads>(ss, tmp, &shared) / static_cast<double>(d) + eps);
    if (threadIdx.x == 0) {
      mean[r] = static_cast<T>(mu);
      rstd[r] = static_cast<T>(inv);
    }
    const T m = static_cast<T>(mu), is = static_cast<T>(inv);
    for (std::int64_t j = threadIdx.x; j < d; j += kRowThreads) {
      T v = (xr[j] - m) * is;
      if (w) v *= w[j];
      if (b) v += b[j];
      y[r * d + j] = v;
    }
  }
}

template <class T>
__global__ void layer_norm_input_grad(const T* g, const T* x, const T* w, const T* mean, const T* rstd, T* dx,
                                      std::int64_t rows, std::int64_t d) {
  __shared__ RowReduce::TempStorage tmp;
  __shared__ double shared;
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* gr = g + r * d;
    const T* xr = x + r * d;
    const double mr = mean[r], sr = rstd[r];
    double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
    for (std::int64_t j = threadIdx.x; j < d; j += kRowThreads) {
      const double dxhat = static_cast<double>(gr[j]) * (w ? static_cast<double>(w[j]) : 1.0);
      const double xhat = (static_cast<double>(xr[j]) - mr) * sr;
      sum_dxhat += dxhat;
      sum_dxhat_xhat += dxhat * xhat;
    }
    const double a = block_sum<kRowThreads>(sum_dxhat, tmp, &shared) / static_cast<double>(d);
    const double c = block_sum<kRowThreads>(sum_dxhat_xhat, tmp, &shared) / static_cast<double>(d);
    for (std::int64_t j = threadIdx.x; j < d; j += kRowThreads) {
      const double dxhat = static_cast<double>(gr[j]) * (w ? static_cast<double>(w[j]) : 1.0);
      const double xhat = (static_cast<double>(xr[j]) - mr) * sr;
      dx[r * d + j] = static_cast<T>(sr * (dxhat - a - xhat * c));
    }
  }
}

template <class T>
__global__ void layer_norm_affine_grad(const T* g, const T* x, const T* mean, const T* rstd, T* dw, T* db,
                                       std::int64_t rows, std::int64_t d) {
  const std::int64_t step = std::int64_t{gridDim.x} * blockDim.x;
  for (std::int64_t j = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; j < d; j += step) {
    T sw = T(0), sb = T(0);
    for (std::int64_t r = 0; r < rows; ++r) {
      const T gv = g[r * d + j];
      sw += gv * ((x[r * d + j] - mean[r]) * rstd[r]);
      sb += gv;
    }
    if (dw) dw[j] = sw;
    if (db) db[j] = sb;
  }
}

// The larger of two logits, as the CPU's running max compares them.
struct Larger {
  template <class T>
  __device__ T operator()(T a, T b) const { return b > a ? b : a; }
};

template <class T>
__global__ void cross_entropy_rows(const T* logits, const std::int64_t* labels, T* probs, double* row_loss,
                                   std::int64_t rows, std::int64_t cols) {
  __shared__ typename BlockReduce<T, kRowThreads>::TempStorage max_tmp;
  __shared__ RowReduce::TempStorage sum_tmp;
  __shared__ T max_shared;
  __shared__ double sum_shared;
  const Larger larger;
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* x = logits + r * cols;
    T* p = probs + r * cols;
    T part = x[0];
    for (std::int64_t j = threadIdx.x; j < cols; j += kRowThreads) part = larger(part, x[j]);
    const T m = block_fold<kRowThreads>(part, larger, max_tmp, &max_shared);
    double s = 0.0;
    for (std::int64_t j = threadIdx.x; j < cols; j += kRowThreads) {
      const T e = exp(x[j] - m);
      p[j] = e;
      s += static_cast<double>(e);
    }
    const T total = static_cast<T>(block_sum<kRowThreads>(s, sum_tmp, &sum_shared));
    const T inv = T(1) / total;
    for (std::int64_t j = threadIdx.x; j < cols; j += kRowThreads) p[j] *= inv;
    if (threadIdx.x == 0)
      row_loss[r] = static_cast<double>(m) + log(static_cast<double>(total)) - static_cast<double>(x[labels[r]]);
  }
}

unsigned rows_grid(std::int64_t rows) { return static_cast<unsigned>(grid_blocks(rows, 1)); }

}  // namespace

void layer_norm_forward(DType dtype, const std::byte* x, const std::byte* w, const std::byte* b, std::byte* y,
                        std::byte* mean, std::byte* rstd, std::int64_t rows, std::int64_t d, double eps) {
  if (rows <= 0) return;
  dispatch_float(dtype, "layer_norm_forward", [&]<class T>(T) {
    layer_norm_rows<T><<<rows_grid(rows), kRowThreads>>>(typed<T>(x), typed<T>(w), typed<T>(b), typed<T>(y),
                                                         typed<T>(mean), typed<T>(rstd), rows, d, eps);
  });
  check_launch("layer_norm_forward");
}

void layer_norm_backward(DType dtype, const std::byte* g, const std::byte* x, const std::byte* w,
                         const std::byte* mean, const std::byte* rstd, std::byte* dx, std::byte* dw, std::byte* db,
                         std::int64_t rows, std::int64_t d) {
  dispatch_float(dtype, "layer_norm_backward", [&]<class T>(T) {
    if (dx && rows > 0)
      layer_norm_input_grad<T><<<rows_grid(rows), kRowThreads>>>(typed<T>(g), typed<T>(x), typed<T>(w),
                                                                 typed<T>(mean), typed<T>(rstd), typed<T>(dx), rows, d);
    if ((dw || db) && d > 0)
      layer_norm_affine_grad<T><<<static_cast<unsigned>(grid_blocks(d)), kBlockThreads>>>(
          typed<T>(g), typed<T>(x), typed<T>(mean), typed<T>(rstd), typed<T>(dw), typed<T>(db), rows, d);
  });
  check_launch("layer_norm_backward");
}

void cross_entropy_forward(DType dtype, const std::byte* logits, const std::int64_t* labels, std::byte* probs,
                           double* row_loss, std::int64_t rows, std::int64_t cols) {
  if (rows <= 0) return;
  dispatch_float(dtype, "cross_entropy_forward", [&]<class T>(T) {
    // The losses are made on the device, then brought to the host buffer the entry fills.
    double* device_loss = nullptr;
    const std::size_t bytes = static_cast<std::size_t>(rows) * sizeof(double);
    check(cudaMallocAsync(reinterpret_cast<void**>(&device_loss), bytes, nullptr), "cross_entropy_forward");
    cross_entropy_rows<T><<<rows_grid(rows), kRowThreads>>>(typed<T>(logits), labels, typed<T>(probs), device_loss,
                                                            rows, cols);
    const cudaError_t launched = cudaGetLastError();
    const cudaError_t copied = launched == cudaSuccess
                                   ? cudaMemcpyAsync(row_loss, device_loss, bytes, cudaMemcpyDeviceToHost, nullptr)
                                   : launched;
    cudaFreeAsync(device_loss, nullptr);
    check(copied, "cross_entropy_forward");
    check(cudaStreamSynchronize(nullptr), "cross_entropy_forward");
  });
}

}  // namespace dm::cuda_backend::kernels
