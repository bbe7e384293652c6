// CPU kernels of layer norm over rows of D elements.
//
//   forward:  mean_r, rstd_r = 1 / sqrt(var_r + eps) (biased variance, two passes in double)
//             xhat = (x - mean) * rstd,  y = xhat * w + b
//   backward: dxhat = g * w
//             dx = rstd * (dxhat - mean_j(dxhat) - xhat * mean_j(dxhat * xhat))
//             dw = sum_r g * xhat,  db = sum_r g   (per column block, rows in order)
#include <algorithm>
#include <cmath>

#include "backend/cpu/training_kernels.hpp"
#include "backend/typed_buffer.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

constexpr std::int64_t kElementsPerBlock = 1 << 15;

std::int64_t block_of(std::int64_t per_item) {
  return std::max<std::int64_t>(1, kElementsPerBlock / std::max<std::int64_t>(per_item, 1));
}

// x (rows, D) -> y (rows, D), mean (rows), rstd (rows). w, b may be null.
template <class T>
void forward_rows(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, std::int64_t rows, std::int64_t d,
                  double eps) {
  par_for(rows, block_of(d), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      double s = 0.0;
      for (std::int64_t j = 0; j < d; ++j) s += static_cast<double>(xr[j]);
      const double mu = s / static_cast<double>(d);
      double ss = 0.0;
      for (std::int64_t j = 0; j < d; ++j) {
        const double c = static_cast<double>(xr[j]) - mu;
        ss += c * c;
      }
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
      mean[r] = static_cast<T>(mu);
      rstd[r] = static_cast<T>(inv);
      T* yr = y + r * d;
      const T m = static_cast<T>(mu), is = static_cast<T>(inv);
      for (std::int64_t j = 0; j < d; ++j) {
        T v = (xr[j] - m) * is;
        if (w) v *= w[j];
        if (b) v += b[j];
        yr[j] = v;
      }
    }
  });
}

// dx (rows, D) from g, x, mean, rstd, w (may be null).
template <class T>
void input_grad_rows(const T* g, const T* x, const T* w, const T* mean, const T* rstd, T* dx, std::int64_t rows,
                     std::int64_t d) {
  par_for(rows, block_of(d), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* gr = g + r * d;
      const T* xr = x + r * d;
      double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
      for (std::int64_t j = 0; j < d; ++j) {
        const double dxhat = static_cast<double>(gr[j]) * (w ? static_cast<double>(w[j]) : 1.0);
        const double xhat = (static_cast<double>(xr[j]) - mean[r]) * rstd[r];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * xhat;
      }
      const double a = sum_dxhat / static_cast<double>(d), c = sum_dxhat_xhat / static_cast<double>(d);
      T* out = dx + r * d;
      for (std::int64_t j = 0; j < d; ++j) {
        const double dxhat = static_cast<double>(gr[j]) * (w ? static_cast<double>(w[j]) : 1.0);
        const double xhat = (static_cast<double>(xr[j]) - mean[r]) * rstd[r];
        out[j] = static_cast<T>(rstd[r] * (dxhat - a - xhat * c));
      }
    }
  });
}

// dw (D) = sum_r g * xhat, db (D) = sum_r g; either may be null.
template <class T>
void affine_grad_columns(const T* g, const T* x, const T* mean, const T* rstd, T* dw, T* db, std::int64_t rows,
                         std::int64_t d) {
  par_for(d, std::max<std::int64_t>(64, block_of(rows)), [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t j = c0; j < c1; ++j) {
      if (dw) dw[j] = T(0);
      if (db) db[j] = T(0);
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* gr = g + r * d;
      const T* xr = x + r * d;
      for (std::int64_t j = c0; j < c1; ++j) {
        if (dw) dw[j] += gr[j] * ((xr[j] - mean[r]) * rstd[r]);
        if (db) db[j] += gr[j];
      }
    }
  });
}

using backend::typed;

}  // namespace

void layer_norm_forward(DType dtype, const std::byte* x, const std::byte* w, const std::byte* b, std::byte* y,
                        std::byte* mean, std::byte* rstd, std::int64_t rows, std::int64_t d, double eps) {
  dispatch_float(dtype, "layer_norm", [&]<class T>(TypeTag<T>) {
    forward_rows(typed<T>(x), typed<T>(w), typed<T>(b), typed<T>(y), typed<T>(mean), typed<T>(rstd), rows, d, eps);
  });
}

void layer_norm_backward(DType dtype, const std::byte* g, const std::byte* x, const std::byte* w,
                         const std::byte* mean, const std::byte* rstd, std::byte* dx, std::byte* dw, std::byte* db,
                         std::int64_t rows, std::int64_t d) {
  dispatch_float(dtype, "layer_norm", [&]<class T>(TypeTag<T>) {
    if (dx) input_grad_rows(typed<T>(g), typed<T>(x), typed<T>(w), typed<T>(mean), typed<T>(rstd), typed<T>(dx), rows, d);
    if (dw || db)
      affine_grad_columns(typed<T>(g), typed<T>(x), typed<T>(mean), typed<T>(rstd), typed<T>(dw), typed<T>(db), rows, d);
  });
}

}  // namespace dm::cpu
