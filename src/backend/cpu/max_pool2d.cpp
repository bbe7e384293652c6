// CPU max pooling over (planes, H, W): one fused pass per plane, planes in parallel.
//
//   forward:  y[p, oh, ow] = max over the window, indices[p, oh, ow] = ih * W + iw of the
//             first maximum (a later element wins only if strictly greater, or NaN)
//   backward: dx[p] = 0, then dx[p][indices] += g in output order, so overlapping windows
//             add in a fixed order
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "backend/cpu/conv_pool.hpp"
#include "backend/pool_window.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

using backend::Pool2dGeometry;

// Takes v at input index i if it beats the best so far: strictly greater, or NaN.
template <class T>
inline void take(T v, std::int64_t i, T& best, std::int64_t& best_index) {
  if (v > best || std::isnan(v)) {
    best = v;
    best_index = i;
  }
}

// Whether every window lies inside the input (no padding, none running past the edge): then
// the windows need no bounds tests, the common case of a CNN's pooling.
bool windows_inside(const Pool2dGeometry& g) {
  return g.pad_h == 0 && g.pad_w == 0 && (g.out_h - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h < g.in_h &&
         (g.out_w - 1) * g.stride_w + (g.kernel_w - 1) * g.dilation_w < g.in_w;
}

// One plane, any window: each position tested against the edges.
template <class T>
void plane_general(const Pool2dGeometry& g, const T* xp, T* yp, std::int64_t* ip) {
  for (std::int64_t oh = 0; oh < g.out_h; ++oh)
    for (std::int64_t ow = 0; ow < g.out_w; ++ow)
      yp[oh * g.out_w + ow] = backend::max_window(g, xp, oh, ow, ip + oh * g.out_w + ow);
}

// One plane whose windows all lie inside: the first element of a window starts the maximum.
template <class T>
void plane_inside(const Pool2dGeometry& g, const T* xp, T* yp, std::int64_t* ip) {
  for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
    for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
      const std::int64_t first = oh * g.stride_h * g.in_w + ow * g.stride_w;
      T best = xp[first];
      std::int64_t best_index = first;
      for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
        const std::int64_t row = first + kh * g.dilation_h * g.in_w;
        for (std::int64_t kw = kh == 0 ? 1 : 0; kw < g.kernel_w; ++kw)
          take(xp[row + kw * g.dilation_w], row + kw * g.dilation_w, best, best_index);
      }
      yp[oh * g.out_w + ow] = best;
      ip[oh * g.out_w + ow] = best_index;
    }
  }
}

// take() without a branch. After a ReLU which element of a window wins is close to a coin
// toss, and a mispredicted branch per element cost more than the rest of the pooling, so the
// choice is made with masks (a conditional expression still compiled to jumps).
template <class T>
inline void take_select(T v, std::int64_t i, T& best, std::int64_t& best_index) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const bool wins = static_cast<bool>(static_cast<int>(v > best) | static_cast<int>(v != v));  // v != v: NaN
  const Bits mask = Bits{0} - static_cast<Bits>(wins);
  best = std::bit_cast<T>((std::bit_cast<Bits>(v) & mask) | (std::bit_cast<Bits>(best) & ~mask));
  const std::int64_t index_mask = -static_cast<std::int64_t>(wins);
  best_index = (i & index_mask) | (best_index & ~index_mask);
}

// The 2x2, stride 2 window of most CNNs, its four reads unrolled (same order as above). The
// geometry is read into locals: the stores through yr and ir could alias it otherwise, and the
// compiler would reload it for every window.
template <class T>
void plane_2x2(const Pool2dGeometry& g, const T* xp, T* yp, std::int64_t* ip) {
  const std::int64_t in_w = g.in_w, out_w = g.out_w, out_h = g.out_h;
  for (std::int64_t oh = 0; oh < out_h; ++oh) {
    const std::int64_t top = 2 * oh * in_w;
    const T* r0 = xp + top;
    const T* r1 = r0 + in_w;
    T* yr = yp + oh * out_w;
    std::int64_t* ir = ip + oh * out_w;
    for (std::int64_t ow = 0; ow < out_w; ++ow) {
      const std::int64_t iw = 2 * ow;
      T best = r0[iw];
      std::int64_t best_index = top + iw;
      take_select(r0[iw + 1], top + iw + 1, best, best_index);
      take_select(r1[iw], top + in_w + iw, best, best_index);
      take_select(r1[iw + 1], top + in_w + iw + 1, best, best_index);
      yr[ow] = best;
      ir[ow] = best_index;
    }
  }
}

template <class T>
void forward(const Pool2dGeometry& g, const T* x, T* y, std::int64_t* indices) {
  const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  const bool inside = windows_inside(g);
  const bool two_by_two = inside && g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 && g.stride_w == 2 &&
                          g.dilation_h == 1 && g.dilation_w == 1;
  par_for(g.planes, pool_plane_grain(g), [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * in_plane;
      T* yp = y + p * out_plane;
      std::int64_t* ip = indices + p * out_plane;
      if (two_by_two)
        plane_2x2(g, xp, yp, ip);
      else if (inside)
        plane_inside(g, xp, yp, ip);
      else
        plane_general(g, xp, yp, ip);
    }
  });
}

template <class T>
void backward(const Pool2dGeometry& g, const T* grad, const std::int64_t* indices, T* dx) {
  const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  par_for(g.planes, pool_plane_grain(g), [&](std::int64_t p0, std::int64_t p1) {
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
