// CPU kernels of batch norm over contiguous (N, C, S) data; statistics per channel over N * S
// values (see norm_blocks.hpp for the fixed summation order).
//
//   forward (training): mean_c, var_c (biased, two passes in f64), invstd_c = 1 / sqrt(var_c + eps)
//   forward (eval):     mean_c = running_mean_c, invstd_c = 1 / sqrt(running_var_c + eps)
//                       y = (x - mean) * invstd * w + b, in f64, rounded once
//   backward:           xhat = (x - mean) * invstd, db = sum g, dw = sum g * xhat
//                       training: dx = w * invstd * (g - db / M - xhat * dw / M), M = N * S
//                       eval:     dx = w * invstd * g
//
// The same passes also run apart, for a batch split between processes: local moments, their
// combination, normalisation with given statistics; local gradient sums, dx from global ones.
#include <array>
#include <cmath>
#include <vector>

#include "backend/batch_norm_combine.hpp"
#include "backend/cpu/norm_blocks.hpp"
#include "backend/cpu/norm_kernels.hpp"
#include "backend/typed_buffer.hpp"
#include "base/dispatch.hpp"

namespace dm::cpu {
namespace {

using backend::NormGeometry;
using norm_blocks::channel_sums;
using norm_blocks::for_each_plane;

template <class T>
double weight_at(const T* w, std::int64_t ch) {
  return w ? static_cast<double>(w[ch]) : 1.0;
}

// Per channel, over batch * spatial values: the mean and M2, the sum of squared deviations
// from it (two passes, so no cancellation). Without values both are 0.
template <class T>
void moments(const NormGeometry& geo, const T* x, double* mean, double* m2) {
  const double count = static_cast<double>(geo.batch * geo.spatial);
  channel_sums<1>(geo, [&](std::int64_t, std::int64_t i, std::array<double, 1>& acc) { acc[0] += x[i]; }, mean);
  if (count > 0)
    for (std::int64_t ch = 0; ch < geo.channels; ++ch) mean[ch] /= count;
  channel_sums<1>(
      geo,
      [&](std::int64_t ch, std::int64_t i, std::array<double, 1>& acc) {
        const double d = static_cast<double>(x[i]) - mean[ch];
        acc[0] += d * d;
      },
      m2);
}

// y = (x - mean) * invstd * w + b, in f64, rounded once.
template <class T>
void normalise(const NormGeometry& geo, const T* x, const T* w, const T* b, const double* mean, const double* invstd,
               T* y) {
  const std::int64_t s = geo.spatial;
  for_each_plane(geo, [&](std::int64_t ch, std::int64_t first) {
    const double m = mean[ch];
    const double scale = invstd[ch] * weight_at(w, ch);
    const double shift = b ? static_cast<double>(b[ch]) : 0.0;
    for (std::int64_t j = first; j < first + s; ++j) y[j] = static_cast<T>((static_cast<double>(x[j]) - m) * scale + shift);
  });
}

template <class T>
void forward(const NormGeometry& geo, const T* x, const T* w, const T* b, const T* running_mean,
             const T* running_var, bool training, double eps, T* y, T* mean_out, T* invstd_out, T* unbiased_var) {
  const std::int64_t c = geo.channels, s = geo.spatial;
  std::vector<double> mean(static_cast<std::size_t>(c)), invstd(static_cast<std::size_t>(c));
  if (training) {
    const double count = static_cast<double>(geo.batch * s);
    std::vector<double> squares(static_cast<std::size_t>(c));
    moments(geo, x, mean.data(), squares.data());
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const double ss = squares[static_cast<std::size_t>(ch)];
      invstd[static_cast<std::size_t>(ch)] = 1.0 / std::sqrt(ss / count + eps);
      if (unbiased_var) unbiased_var[ch] = static_cast<T>(ss / (count - 1.0));
    }
  } else {
    for (std::int64_t ch = 0; ch < c; ++ch) {
      mean[static_cast<std::size_t>(ch)] = static_cast<double>(running_mean[ch]);
      invstd[static_cast<std::size_t>(ch)] = 1.0 / std::sqrt(static_cast<double>(running_var[ch]) + eps);
    }
  }
  for (std::int64_t ch = 0; ch < c; ++ch) {
    mean_out[ch] = static_cast<T>(mean[static_cast<std::size_t>(ch)]);
    invstd_out[ch] = static_cast<T>(invstd[static_cast<std::size_t>(ch)]);
  }
  normalise(geo, x, w, b, mean.data(), invstd.data(), y);
}

// sums (2, C): sum g, sum g * xhat.
template <class T>
void gradient_sums(const NormGeometry& geo, const T* g, const T* x, const T* mean, const T* invstd, double* sums) {
  channel_sums<2>(
      geo,
      [&](std::int64_t ch, std::int64_t i, std::array<double, 2>& acc) {
        const double gv = static_cast<double>(g[i]);
        acc[0] += gv;
        acc[1] += gv * ((static_cast<double>(x[i]) - static_cast<double>(mean[ch])) * static_cast<double>(invstd[ch]));
      },
      sums);
}

// dx from the sums (2, C) over `count` values per channel; eval's dx needs neither.
template <class T>
void input_gradient(const NormGeometry& geo, const T* g, const T* x, const T* w, const T* mean, const T* invstd,
                    bool training, const double* sums, double count, T* dx) {
  const std::int64_t c = geo.channels, s = geo.spatial;
  for_each_plane(geo, [&](std::int64_t ch, std::int64_t first) {
    const double m = static_cast<double>(mean[ch]), is = static_cast<double>(invstd[ch]);
    const double scale = weight_at(w, ch) * is;
    if (!training) {
      for (std::int64_t j = first; j < first + s; ++j) dx[j] = static_cast<T>(static_cast<double>(g[j]) * scale);
      return;
    }
    const double g_mean = sums[ch] / count;
    const double gx_mean = sums[c + ch] / count;
    for (std::int64_t j = first; j < first + s; ++j) {
      const double xhat = (static_cast<double>(x[j]) - m) * is;
      dx[j] = static_cast<T>(scale * (static_cast<double>(g[j]) - g_mean - xhat * gx_mean));
    }
  });
}

template <class T>
void backward(const NormGeometry& geo, const T* g, const T* x, const T* w, const T* mean, const T* invstd,
              bool training, T* dx, T* dw, T* db) {
  const std::int64_t c = geo.channels;
  std::vector<double> sums(static_cast<std::size_t>(2 * c));
  if (dw || db || training) gradient_sums(geo, g, x, mean, invstd, sums.data());
  for (std::int64_t ch = 0; ch < c; ++ch) {
    if (db) db[ch] = static_cast<T>(sums[static_cast<std::size_t>(ch)]);
    if (dw) dw[ch] = static_cast<T>(sums[static_cast<std::size_t>(c + ch)]);
  }
  if (dx) input_gradient(geo, g, x, w, mean, invstd, training, sums.data(), static_cast<double>(geo.batch * geo.spatial), dx);
}

using backend::typed;

}  // namespace

void batch_norm_forward(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                        const std::byte* b, const std::byte* running_mean, const std::byte* running_var, bool training,
                        double eps, std::byte* y, std::byte* mean, std::byte* invstd, std::byte* unbiased_var) {
  dispatch_float(dtype, "batch_norm", [&]<class T>(TypeTag<T>) {
    forward(geo, typed<T>(x), typed<T>(w), typed<T>(b), typed<T>(running_mean), typed<T>(running_var), training, eps,
            typed<T>(y), typed<T>(mean), typed<T>(invstd), typed<T>(unbiased_var));
  });
}

void batch_norm_backward(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                         const std::byte* w, const std::byte* mean, const std::byte* invstd, bool training,
                         std::byte* dx, std::byte* dw, std::byte* db) {
  dispatch_float(dtype, "batch_norm", [&]<class T>(TypeTag<T>) {
    backward(geo, typed<T>(g), typed<T>(x), typed<T>(w), typed<T>(mean), typed<T>(invstd), training, typed<T>(dx),
             typed<T>(dw), typed<T>(db));
  });
}

void batch_norm_statistics(DType dtype, const NormGeometry& geo, const std::byte* x, std::byte* stats) {
  double* out = typed<double>(stats);
  out[0] = static_cast<double>(geo.batch * geo.spatial);
  dispatch_float(dtype, "batch_norm_statistics", [&]<class T>(TypeTag<T>) {
    moments(geo, typed<T>(x), out + 1, out + 1 + geo.channels);
  });
}

void batch_norm_combine_statistics(std::int64_t parts, std::int64_t channels, const std::byte* gathered, double eps,
                                   std::byte* combined) {
  for (std::int64_t ch = 0; ch < channels; ++ch)
    backend::combine_channel_statistics(parts, channels, ch, typed<double>(gathered), eps, typed<double>(combined));
}

void batch_norm_normalize(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                          const std::byte* b, const std::byte* mean, const std::byte* invstd, std::byte* y) {
  dispatch_float(dtype, "batch_norm_normalize", [&]<class T>(TypeTag<T>) {
    normalise(geo, typed<T>(x), typed<T>(w), typed<T>(b), typed<double>(mean), typed<double>(invstd), typed<T>(y));
  });
}

void batch_norm_backward_sums(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                              const std::byte* mean, const std::byte* invstd, std::byte* sums) {
  dispatch_float(dtype, "batch_norm_backward_sums", [&]<class T>(TypeTag<T>) {
    gradient_sums(geo, typed<T>(g), typed<T>(x), typed<T>(mean), typed<T>(invstd), typed<double>(sums));
  });
}

void batch_norm_backward_input(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                               const std::byte* w, const std::byte* mean, const std::byte* invstd,
                               const std::byte* sums, double count, std::byte* dx) {
  dispatch_float(dtype, "batch_norm_backward_input", [&]<class T>(TypeTag<T>) {
    input_gradient(geo, typed<T>(g), typed<T>(x), typed<T>(w), typed<T>(mean), typed<T>(invstd), true,
                   typed<double>(sums), count, typed<T>(dx));
  });
}

}  // namespace dm::cpu
