// CPU kernels of batch norm over contiguous (N, C, S) data; statistics per channel over N * S
// values (see norm_blocks.hpp for the fixed summation order).
//
//   forward (training): mean_c, var_c (biased, two passes in f64), invstd_c = 1 / sqrt(var_c + eps)
//   forward (eval):     mean_c = running_mean_c, invstd_c = 1 / sqrt(running_var_c + eps)
//                       y = (x - mean) * invstd * w + b, in f64, rounded once
//   backward:           xhat = (x - mean) * invstd, db = sum g, dw = sum g * xhat
//                       training: dx = w * invstd * (g - db / M - xhat * dw / M), M = N * S
//                       eval:     dx = w * invstd * g
#include <array>
#include <cmath>
#include <vector>

#include "backend/cpu/norm_blocks.hpp"
#include "backend/cpu/norm_kernels.hpp"
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

template <class T>
void forward(const NormGeometry& geo, const T* x, const T* w, const T* b, const T* running_mean,
             const T* running_var, bool training, double eps, T* y, T* mean_out, T* invstd_out, T* unbiased_var) {
  const std::int64_t c = geo.channels, s = geo.spatial;
  std::vector<double> mean(static_cast<std::size_t>(c)), invstd(static_cast<std::size_t>(c));
  if (training) {
    const double count = static_cast<double>(geo.batch * s);
    channel_sums<1>(geo, [&](std::int64_t, std::int64_t i, std::array<double, 1>& acc) { acc[0] += x[i]; },
                    mean.data());
    for (double& m : mean) m /= count;
    std::vector<double> squares(static_cast<std::size_t>(c));
    channel_sums<1>(
        geo,
        [&](std::int64_t ch, std::int64_t i, std::array<double, 1>& acc) {
          const double d = static_cast<double>(x[i]) - mean[static_cast<std::size_t>(ch)];
          acc[0] += d * d;
        },
        squares.data());
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
  for_each_plane(geo, [&](std::int64_t ch, std::int64_t first) {
    const double m = mean[static_cast<std::size_t>(ch)];
    const double scale = invstd[static_cast<std::size_t>(ch)] * weight_at(w, ch);
    const double shift = b ? static_cast<double>(b[ch]) : 0.0;
    for (std::int64_t j = first; j < first + s; ++j) y[j] = static_cast<T>((static_cast<double>(x[j]) - m) * scale + shift);
  });
}

template <class T>
void backward(const NormGeometry& geo, const T* g, const T* x, const T* w, const T* mean, const T* invstd,
              bool training, T* dx, T* dw, T* db) {
  const std::int64_t c = geo.channels, s = geo.spatial;
  // sums (2, C): sum g, sum g * xhat. Eval's dx needs neither.
  std::vector<double> sums(static_cast<std::size_t>(2 * c));
  if (dw || db || training) {
    channel_sums<2>(
        geo,
        [&](std::int64_t ch, std::int64_t i, std::array<double, 2>& acc) {
          const double gv = static_cast<double>(g[i]);
          acc[0] += gv;
          acc[1] += gv * ((static_cast<double>(x[i]) - static_cast<double>(mean[ch])) * static_cast<double>(invstd[ch]));
        },
        sums.data());
  }
  for (std::int64_t ch = 0; ch < c; ++ch) {
    if (db) db[ch] = static_cast<T>(sums[static_cast<std::size_t>(ch)]);
    if (dw) dw[ch] = static_cast<T>(sums[static_cast<std::size_t>(c + ch)]);
  }
  if (!dx) return;
  const double count = static_cast<double>(geo.batch * s);
  for_each_plane(geo, [&](std::int64_t ch, std::int64_t first) {
    const double m = static_cast<double>(mean[ch]), is = static_cast<double>(invstd[ch]);
    const double scale = weight_at(w, ch) * is;
    if (!training) {
      for (std::int64_t j = first; j < first + s; ++j) dx[j] = static_cast<T>(static_cast<double>(g[j]) * scale);
      return;
    }
    const double g_mean = sums[static_cast<std::size_t>(ch)] / count;
    const double gx_mean = sums[static_cast<std::size_t>(c + ch)] / count;
    for (std::int64_t j = first; j < first + s; ++j) {
      const double xhat = (static_cast<double>(x[j]) - m) * is;
      dx[j] = static_cast<T>(scale * (static_cast<double>(g[j]) - g_mean - xhat * gx_mean));
    }
  });
}

template <class T>
const T* typed(const std::byte* p) {
  return reinterpret_cast<const T*>(p);
}
template <class T>
T* typed(std::byte* p) {
  return reinterpret_cast<T*>(p);
}

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

}  // namespace dm::cpu
