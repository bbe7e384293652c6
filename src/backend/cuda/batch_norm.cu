// CUDA batch norm over contiguous (N, C, S) data, as cpu/batch_norm.cpp: one block per
// channel reads that channel's N * S values, sums in f64 through block_reduce.cuh's fixed tree
// (so a run gives the same bits every time; the order is not the CPU's, which agrees to
// rounding), then writes its part of the result.
//
//   forward (training): mean_c, var_c (biased, two passes in f64), invstd_c = 1 / sqrt(var_c + eps)
//   forward (eval):     mean_c = running_mean_c, invstd_c = 1 / sqrt(running_var_c + eps)
//                       y = (x - mean) * invstd * w + b, in f64, rounded once
//   backward:           xhat = (x - mean) * invstd, db = sum g, dw = sum g * xhat
//                       training: dx = w * invstd * (g - db / M - xhat * dw / M), M = N * S
//                       eval:     dx = w * invstd * g
// Batch norm across ranks runs the same maths in parts between the exchanges: each channel's
// (count, mean, M2), their combination pairwise in row order (one thread per channel, the
// CPU's order and formula), normalisation with given f64 statistics, the two gradient sums,
// and dx from the whole batch's sums.
#include <cmath>

#include "backend/batch_norm_combine.hpp"
#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/layer_kernels.hpp"
#include "backend/cuda/layer_support.cuh"

namespace dm::cuda_backend::kernels {
namespace {

using backend::NormGeometry;
using layer::typed;

inline constexpr int kChannelThreads = 256;
using ChannelReduce = BlockReduce<double, kChannelThreads>;

// Flat index of value j (of N * S) of channel ch.
__device__ inline std::int64_t at(const NormGeometry& geo, std::int64_t ch, std::int64_t j) {
  return ((j / geo.spatial) * geo.channels + ch) * geo.spatial + j % geo.spatial;
}

template <class T>
__global__ void forward_channels(NormGeometry geo, const T* x, const T* w, const T* b, const T* running_mean,
                                 const T* running_var, bool training, double eps, T* y, T* mean_out, T* invstd_out,
                                 T* unbiased_var) {
  __shared__ ChannelReduce::TempStorage tmp;
  __shared__ double shared;
  const std::int64_t count = geo.batch * geo.spatial;
  for (std::int64_t ch = blockIdx.x; ch < geo.channels; ch += gridDim.x) {
    double m, invstd;
    if (training) {
      double s = 0.0;
      for (std::int64_t j = threadIdx.x; j < count; j += kChannelThreads) s += static_cast<double>(x[at(geo, ch, j)]);
      m = block_sum<kChannelThreads>(s, tmp, &shared) / static_cast<double>(count);
      double ss = 0.0;
      for (std::int64_t j = threadIdx.x; j < count; j += kChannelThreads) {
        const double d = static_cast<double>(x[at(geo, ch, j)]) - m;
        ss += d * d;
      }
      const double squares = block_sum<kChannelThreads>(ss, tmp, &shared);
      invstd = 1.0 / sqrt(squares / static_cast<double>(count) + eps);
      if (threadIdx.x == 0 && unbiased_var)
        unbiased_var[ch] = static_cast<T>(squares / (static_cast<double>(count) - 1.0));
    } else {
      m = static_cast<double>(running_mean[ch]);
      invstd = 1.0 / sqrt(static_cast<double>(running_var[ch]) + eps);
    }
    if (threadIdx.x == 0) {
      mean_out[ch] = static_cast<T>(m);
      invstd_out[ch] = static_cast<T>(invstd);
    }
    const double scale = invstd * (w ? static_cast<double>(w[ch]) : 1.0);
    const double shift = b ? static_cast<double>(b[ch]) : 0.0;
    for (std::int64_t j = threadIdx.x; j < count; j += kChannelThreads) {
      const std::int64_t i = at(geo, ch, j);
      y[i] = static_cast<T>((static_cast<double>(x[i]) - m) * scale + shift);
    }
  }
}

template <class T>
__global__ void backward_channels(NormGeometry geo, const T* g, const T* x, const T* w, const T* mean,
                                  const T* invstd, bool training, T* dx, T* dw, T* db) {
  __shared__ ChannelReduce::TempStorage tmp;
  __shared__ double shared;
  const std::int64_t count = geo.batch * geo.spatial;
  const bool sums = training || dw || db;  // the same for every thread: the block syncs together
  for (std::int64_t ch = blockIdx.x; ch < geo.channels; ch += gridDim.x) {
    const double m = static_cast<double>(mean[ch]), is = static_cast<double>(invstd[ch]);
    double sum_g = 0.0, sum_gx = 0.0;
    if (sums) {
      double sg = 0.0, sgx = 0.0;
      for (std::int64_t j = threadIdx.x; j < count; j += kChannelThreads) {
        const std::int64_t i = at(geo, ch, j);
        const double gv = static_cast<double>(g[i]);
        sg += gv;
        sgx += gv * ((static_cast<double>(x[i]) - m) * is);
      }
      sum_g = block_sum<kChannelThreads>(sg, tmp, &shared);
      sum_gx = block_sum<kChannelThreads>(sgx, tmp, &shared);
      if (threadIdx.x == 0) {
        if (db) db[ch] = static_cast<T>(sum_g);
        if (dw) dw[ch] = static_cast<T>(sum_gx);
      }
    }
    if (!dx) continue;
    const double scale = (w ? static_cast<double>(w[ch]) : 1.0) * is;
    const double g_mean = sum_g / static_cast<double>(count), gx_mean = sum_gx / static_cast<double>(count);
    for (std::int64_t j = threadIdx.x; j < count; j += kChannelThreads) {
      const std::int64_t i = at(geo, ch, j);
      if (!training) {
        dx[i] = static_cast<T>(static_cast<double>(g[i]) * scale);
      } else {
        const double xhat = (static_cast<double>(x[i]) - m) * is;
        dx[i] = static_cast<T>(scale * (static_cast<double>(g[i]) - g_mean - xhat * gx_mean));
      }
    }
  }
}


template <class T>
__global__ void statistics_channels(NormGeometry geo, const T* x, double* stats) {
  __shared__ ChannelReduce::TempStorage tmp;
  __shared__ double shared;
  const std::int64_t count = geo.batch * geo.spatial;
  for (std::int64_t ch = blockIdx.x; ch < geo.channels; ch += gridDim.x) {
    double s = 0.0;
    for (std::int64_t j = threadIdx.x; j < count; j += kChannelThreads) s += static_cast<double>(x[at(geo, ch, j)]);
    const double total = block_sum<kChannelThreads>(s, tmp, &shared);
    const double m = count > 0 ? total / static_cast<double>(count) : 0.0;
    double ss = 0.0;
    for (std::int64_t j = threadIdx.x; j < count; j += kChannelThreads) {
      const double d = static_cast<double>(x[at(geo, ch, j)]) - m;
      ss += d * d;
    }
    const double squares = block_sum<kChannelThreads>(ss, tmp, &shared);
    if (threadIdx.x == 0) {
      if (ch == 0) stats[0] = static_cast<double>(count);
      stats[1 + ch] = m;
      stats[1 + geo.channels + ch] = squares;
    }
  }
}

__global__ void combine_channels(std::int64_t parts, std::int64_t c, const double* gathered, double eps,
                                 double* out) {
  for (std::int64_t ch = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; ch < c;
       ch += std::int64_t{gridDim.x} * blockDim.x)
    backend::combine_channel_statistics(parts, c, ch, gathered, eps, out);
}

template <class T>
__global__ void gradient_sums_channels(NormGeometry geo, const T* g, const T* x, const T* mean, const T* invstd,
                                       double* sums) {
  __shared__ ChannelReduce::TempStorage tmp;
  __shared__ double shared;
  const std::int64_t count = geo.batch * geo.spatial;
  for (std::int64_t ch = blockIdx.x; ch < geo.channels; ch += gridDim.x) {
    const double m = static_cast<double>(mean[ch]), is = static_cast<double>(invstd[ch]);
    double sg = 0.0, sgx = 0.0;
    for (std::int64_t j = threadIdx.x; j < count; j += kChannelThreads) {
      const std::int64_t i = at(geo, ch, j);
      const double gv = static_cast<double>(g[i]);
      sg += gv;
      sgx += gv * ((static_cast<double>(x[i]) - m) * is);
    }
    const double sum_g = block_sum<kChannelThreads>(sg, tmp, &shared);
    const double sum_gx = block_sum<kChannelThreads>(sgx, tmp, &shared);
    if (threadIdx.x == 0) {
      sums[ch] = sum_g;
      sums[geo.channels + ch] = sum_gx;
    }
  }
}

// y = (x - mean) * invstd * w + b per element, the statistics given in f64.
template <class T>
struct Normalize {
  NormGeometry geo;
  const T* x;
  const T* w;
  const T* b;
  const double* mean;
  const double* invstd;
  T* y;
  __device__ void operator()(std::int64_t i) const {
    const std::int64_t ch = (i / geo.spatial) % geo.channels;
    const double scale = invstd[ch] * (w ? static_cast<double>(w[ch]) : 1.0);
    const double shift = b ? static_cast<double>(b[ch]) : 0.0;
    y[i] = static_cast<T>((static_cast<double>(x[i]) - mean[ch]) * scale + shift);
  }
};

// dx per element from the whole batch's sums (2, C) over `count` values per channel.
template <class T>
struct InputGradient {
  NormGeometry geo;
  const T* g;
  const T* x;
  const T* w;
  const T* mean;
  const T* invstd;
  const double* sums;
  double count;
  T* dx;
  __device__ void operator()(std::int64_t i) const {
    const std::int64_t ch = (i / geo.spatial) % geo.channels;
    const double m = static_cast<double>(mean[ch]), is = static_cast<double>(invstd[ch]);
    const double scale = (w ? static_cast<double>(w[ch]) : 1.0) * is;
    const double xhat = (static_cast<double>(x[i]) - m) * is;
    dx[i] = static_cast<T>(scale * (static_cast<double>(g[i]) - sums[ch] / count - xhat * (sums[geo.channels + ch] / count)));
  }
};

}  // namespace

void batch_norm_forward(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                        const std::byte* b, const std::byte* running_mean, const std::byte* running_var, bool training,
                        double eps, std::byte* y, std::byte* mean, std::byte* invstd, std::byte* unbiased_var) {
  if (geo.channels <= 0) return;
  layer::dispatch_float(dtype, "batch_norm_forward", [&]<class T>(T) {
    forward_channels<T><<<layer::block_per_item(geo.channels), kChannelThreads>>>(
        geo, typed<T>(x), typed<T>(w), typed<T>(b), typed<T>(running_mean), typed<T>(running_var), training, eps,
        typed<T>(y), typed<T>(mean), typed<T>(invstd), typed<T>(unbiased_var));
  });
  check_launch("batch_norm_forward");
}

void batch_norm_backward(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                         const std::byte* w, const std::byte* mean, const std::byte* invstd, bool training,
                         std::byte* dx, std::byte* dw, std::byte* db) {
  if (geo.channels <= 0 || (!dx && !dw && !db)) return;
  layer::dispatch_float(dtype, "batch_norm_backward", [&]<class T>(T) {
    backward_channels<T><<<layer::block_per_item(geo.channels), kChannelThreads>>>(
        geo, typed<T>(g), typed<T>(x), typed<T>(w), typed<T>(mean), typed<T>(invstd), training, typed<T>(dx),
        typed<T>(dw), typed<T>(db));
  });
  check_launch("batch_norm_backward");
}

void batch_norm_statistics(DType dtype, const NormGeometry& geo, const std::byte* x, std::byte* stats) {
  double* out = typed<double>(stats);
  if (geo.channels <= 0) return;
  layer::dispatch_float(dtype, "batch_norm_statistics", [&]<class T>(T) {
    statistics_channels<T><<<layer::block_per_item(geo.channels), kChannelThreads>>>(geo, typed<T>(x), out);
  });
  check_launch("batch_norm_statistics");
}

void batch_norm_combine_statistics(std::int64_t parts, std::int64_t channels, const std::byte* gathered, double eps,
                                   std::byte* combined) {
  if (channels <= 0) return;
  combine_channels<<<static_cast<unsigned>(grid_blocks(channels)), kBlockThreads>>>(
      parts, channels, typed<double>(gathered), eps, typed<double>(combined));
  check_launch("batch_norm_combine_statistics");
}

void batch_norm_normalize(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                          const std::byte* b, const std::byte* mean, const std::byte* invstd, std::byte* y) {
  layer::dispatch_float(dtype, "batch_norm_normalize", [&]<class T>(T) {
    layer::each("batch_norm_normalize", geo.batch * geo.channels * geo.spatial,
                Normalize<T>{geo, typed<T>(x), typed<T>(w), typed<T>(b), typed<double>(mean), typed<double>(invstd),
                             typed<T>(y)});
  });
}

void batch_norm_backward_sums(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                              const std::byte* mean, const std::byte* invstd, std::byte* sums) {
  if (geo.channels <= 0) return;
  layer::dispatch_float(dtype, "batch_norm_backward_sums", [&]<class T>(T) {
    gradient_sums_channels<T><<<layer::block_per_item(geo.channels), kChannelThreads>>>(
        geo, typed<T>(g), typed<T>(x), typed<T>(mean), typed<T>(invstd), typed<double>(sums));
  });
  check_launch("batch_norm_backward_sums");
}

void batch_norm_backward_input(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                               const std::byte* w, const std::byte* mean, const std::byte* invstd,
                               const std::byte* sums, double count, std::byte* dx) {
  layer::dispatch_float(dtype, "batch_norm_backward_input", [&]<class T>(T) {
    layer::each("batch_norm_backward_input", geo.batch * geo.channels * geo.spatial,
                InputGradient<T>{geo, typed<T>(g), typed<T>(x), typed<T>(w), typed<T>(mean), typed<T>(invstd),
                                 typed<double>(sums), count, typed<T>(dx)});
  });
}

}  // namespace dm::cuda_backend::kernels
