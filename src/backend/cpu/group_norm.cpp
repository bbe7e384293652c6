// CPU kernels of group norm over contiguous (N, C, S) data: each (sample, group) is one row of
// D = C / G * S contiguous values, normalised like a layer-norm row, then scaled and shifted
// per channel.
//
//   forward:  mean_r, rstd_r = 1 / sqrt(var_r + eps) (biased, two passes in f64)
//             y = (x - mean) * rstd * w_c + b_c
//   backward: dxhat = g * w_c, dx = rstd * (dxhat - mean_r(dxhat) - xhat * mean_r(dxhat * xhat))
//             dw_c = sum over samples and S of g * xhat, db_c = sum g (samples in order)
// Each row, and each channel's sums, is computed by one task in a fixed order, so no bit
// depends on the thread count.
#include <algorithm>
#include <cmath>

#include "backend/cpu/norm_kernels.hpp"
#include "backend/typed_buffer.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

using backend::NormGeometry;

constexpr std::int64_t kElementsPerTask = 1 << 15;

std::int64_t block_of(std::int64_t per_item) {
  return std::max<std::int64_t>(1, kElementsPerTask / std::max<std::int64_t>(per_item, 1));
}

template <class T>
double weight_at(const T* w, std::int64_t ch) {
  return w ? static_cast<double>(w[ch]) : 1.0;
}

template <class T>
void forward(const NormGeometry& geo, const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd) {
  const std::int64_t per_group = geo.channels / geo.groups, s = geo.spatial, d = per_group * s;
  par_for(geo.batch * geo.groups, block_of(d), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      double sum = 0.0;
      for (std::int64_t j = 0; j < d; ++j) sum += static_cast<double>(xr[j]);
      const double mu = d > 0 ? sum / static_cast<double>(d) : 0.0;
      double ss = 0.0;
      for (std::int64_t j = 0; j < d; ++j) {
        const double c = static_cast<double>(xr[j]) - mu;
        ss += c * c;
      }
      const double inv = 1.0 / std::sqrt((d > 0 ? ss / static_cast<double>(d) : 0.0) + eps);
      mean[r] = static_cast<T>(mu);
      rstd[r] = static_cast<T>(inv);
      const std::int64_t first_channel = (r % geo.groups) * per_group;
      T* yr = y + r * d;
      for (std::int64_t k = 0; k < per_group; ++k) {
        const std::int64_t ch = first_channel + k;
        const double scale = inv * weight_at(w, ch), shift = b ? static_cast<double>(b[ch]) : 0.0;
        for (std::int64_t j = k * s; j < (k + 1) * s; ++j)
          yr[j] = static_cast<T>((static_cast<double>(xr[j]) - mu) * scale + shift);
      }
    }
  });
}

template <class T>
void input_grad(const NormGeometry& geo, const T* g, const T* x, const T* w, const T* mean, const T* rstd, T* dx) {
  const std::int64_t per_group = geo.channels / geo.groups, s = geo.spatial, d = per_group * s;
  par_for(geo.batch * geo.groups, block_of(d), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* gr = g + r * d;
      const T* xr = x + r * d;
      const double mu = static_cast<double>(mean[r]), is = static_cast<double>(rstd[r]);
      const std::int64_t first_channel = (r % geo.groups) * per_group;
      double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
      for (std::int64_t k = 0; k < per_group; ++k) {
        const double wk = weight_at(w, first_channel + k);
        for (std::int64_t j = k * s; j < (k + 1) * s; ++j) {
          const double dxhat = static_cast<double>(gr[j]) * wk;
          sum_dxhat += dxhat;
          sum_dxhat_xhat += dxhat * ((static_cast<double>(xr[j]) - mu) * is);
        }
      }
      const double a = sum_dxhat / static_cast<double>(d), c = sum_dxhat_xhat / static_cast<double>(d);
      T* out = dx + r * d;
      for (std::int64_t k = 0; k < per_group; ++k) {
        const double wk = weight_at(w, first_channel + k);
        for (std::int64_t j = k * s; j < (k + 1) * s; ++j) {
          const double xhat = (static_cast<double>(xr[j]) - mu) * is;
          out[j] = static_cast<T>(is * (static_cast<double>(gr[j]) * wk - a - xhat * c));
        }
      }
    }
  });
}

template <class T>
void affine_grad(const NormGeometry& geo, const T* g, const T* x, const T* mean, const T* rstd, T* dw, T* db) {
  const std::int64_t c = geo.channels, s = geo.spatial, per_group = c / geo.groups;
  par_for(c, block_of(geo.batch * s), [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t ch = c0; ch < c1; ++ch) {
      double sum_g = 0.0, sum_gx = 0.0;
      for (std::int64_t i = 0; i < geo.batch; ++i) {
        const std::int64_t r = i * geo.groups + ch / per_group;
        const double mu = static_cast<double>(mean[r]), is = static_cast<double>(rstd[r]);
        const std::int64_t first = (i * c + ch) * s;
        for (std::int64_t j = first; j < first + s; ++j) {
          const double gv = static_cast<double>(g[j]);
          sum_g += gv;
          sum_gx += gv * ((static_cast<double>(x[j]) - mu) * is);
        }
      }
      if (dw) dw[ch] = static_cast<T>(sum_gx);
      if (db) db[ch] = static_cast<T>(sum_g);
    }
  });
}

using backend::typed;

}  // namespace

void group_norm_forward(DType dtype, const NormGeometry& geo, const std::byte* x, const std::byte* w,
                        const std::byte* b, double eps, std::byte* y, std::byte* mean, std::byte* rstd) {
  dispatch_float(dtype, "group_norm", [&]<class T>(TypeTag<T>) {
    forward(geo, typed<T>(x), typed<T>(w), typed<T>(b), eps, typed<T>(y), typed<T>(mean), typed<T>(rstd));
  });
}

void group_norm_backward(DType dtype, const NormGeometry& geo, const std::byte* g, const std::byte* x,
                         const std::byte* w, const std::byte* mean, const std::byte* rstd, std::byte* dx,
                         std::byte* dw, std::byte* db) {
  dispatch_float(dtype, "group_norm", [&]<class T>(TypeTag<T>) {
    if (dx) input_grad(geo, typed<T>(g), typed<T>(x), typed<T>(w), typed<T>(mean), typed<T>(rstd), typed<T>(dx));
    if (dw || db) affine_grad(geo, typed<T>(g), typed<T>(x), typed<T>(mean), typed<T>(rstd), typed<T>(dw), typed<T>(db));
  });
}

}  // namespace dm::cpu
