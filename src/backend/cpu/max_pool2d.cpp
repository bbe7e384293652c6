// CPU max pooling over (planes, H, W): one fused pass per plane, planes in parallel.
//
//   forward:  y[p, oh, ow] = max over the window, indices[p, oh, ow] = ih * W + iw of the
//             first maximum (a later element wins only if strictly greater, or NaN)
//   backward: dx[p] = 0, then dx[p][indices] += g in output order, so overlapping windows
//             add in a fixed order
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/conv_pool.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

using backend::Pool2dGeometry;

// Planes per task: about 32 K elements of input.
std::int64_t plane_grain(const Pool2dGeometry& g) {
  return std::max<std::int64_t>(1, (std::int64_t{1} << 15) / std::max<std::int64_t>(1, g.in_h * g.in_w));
}

template <class T>
void forward(const Pool2dGeometry& g, const T* x, T* y, std::int64_t* indices) {
  const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  par_for(g.planes, plane_grain(g), [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * in_plane;
      for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
        for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
          T best = -std::numeric_limits<T>::infinity();
          std::int64_t best_index = -1;
          for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
            const std::int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
            if (ih < 0 || ih >= g.in_h) continue;
            for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
              const std::int64_t iw = ow * g.stride_w - g.pad_w + kw * g.dilation_w;
              if (iw < 0 || iw >= g.in_w) continue;
              const T v = xp[ih * g.in_w + iw];
              if (best_index < 0 || v > best || std::isnan(v)) {
                best = v;
                best_index = ih * g.in_w + iw;
              }
            }
          }
          const std::int64_t o = p * out_plane + oh * g.out_w + ow;
          y[o] = best;
          indices[o] = best_index;
        }
      }
    }
  });
}

template <class T>
void backward(const Pool2dGeometry& g, const T* grad, const std::int64_t* indices, T* dx) {
  const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  par_for(g.planes, plane_grain(g), [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * in_plane;
      std::fill_n(dxp, in_plane, T(0));
      const T* gp = grad + p * out_plane;
      const std::int64_t* ip = indices + p * out_plane;
      for (std::int64_t o = 0; o < out_plane; ++o)
        if (ip[o] >= 0) dxp[ip[o]] += gp[o];
    }
  });
}

}  // namespace

void max_pool2d_forward(DType dtype, const Pool2dGeometry& geo, const std::byte* x, std::byte* y,
                        std::int64_t* indices) {
  dispatch_float(dtype, "max_pool2d_forward", [&]<class T>(TypeTag<T>) {
    forward(geo, reinterpret_cast<const T*>(x), reinterpret_cast<T*>(y), indices);
  });
}

void max_pool2d_backward(DType dtype, const Pool2dGeometry& geo, const std::byte* g, const std::int64_t* indices,
                         std::byte* dx) {
  dispatch_float(dtype, "max_pool2d_backward", [&]<class T>(TypeTag<T>) {
    backward(geo, reinterpret_cast<const T*>(g), indices, reinterpret_cast<T*>(dx));
  });
}

}  // namespace dm::cpu
