// CPU average pooling over (planes, H, W), torch.nn.functional.avg_pool2d without ceil_mode:
// one fused pass per plane, planes in parallel, each window summed in f64.
//
//   window (oh, ow): rows [h0, h1) = [oh * stride - pad, that + kernel) clipped to the padded
//   input, columns likewise; divisor = its area (count_include_pad) or the area of its part
//   inside the input; forward y = sum / divisor, backward dx += g / divisor over the window.
#include <algorithm>

#include "backend/cpu/conv_pool.hpp"
#include "backend/pool_window.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

using backend::Pool2dGeometry;

using backend::avg_window;

template <class T>
void forward(const Pool2dGeometry& g, bool count_include_pad, const T* x, T* y) {
  const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  par_for(g.planes, pool_plane_grain(g), [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * in_plane;
      for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
        for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
          const backend::AvgWindow win = avg_window(g, count_include_pad, oh, ow);
          double s = 0.0;
          for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
            for (std::int64_t iw = win.w0; iw < win.w1; ++iw) s += static_cast<double>(xp[ih * g.in_w + iw]);
          y[p * out_plane + oh * g.out_w + ow] = static_cast<T>(s / win.divisor);
        }
      }
    }
  });
}

template <class T>
void backward(const Pool2dGeometry& g, bool count_include_pad, const T* grad, T* dx) {
  const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  par_for(g.planes, pool_plane_grain(g), [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * in_plane;
      std::fill_n(dxp, in_plane, T(0));
      for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
        for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
          const backend::AvgWindow win = avg_window(g, count_include_pad, oh, ow);
          const T share = static_cast<T>(static_cast<double>(grad[p * out_plane + oh * g.out_w + ow]) / win.divisor);
          for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
            for (std::int64_t iw = win.w0; iw < win.w1; ++iw) dxp[ih * g.in_w + iw] += share;
        }
      }
    }
  });
}

}  // namespace

void avg_pool2d_forward(DType dtype, const Pool2dGeometry& geo, bool count_include_pad, const std::byte* x,
                        std::byte* y) {
  dispatch_float(dtype, "avg_pool2d_forward", [&]<class T>(TypeTag<T>) {
    forward(geo, count_include_pad, reinterpret_cast<const T*>(x), reinterpret_cast<T*>(y));
  });
}

void avg_pool2d_backward(DType dtype, const Pool2dGeometry& geo, bool count_include_pad, const std::byte* g,
                         std::byte* dx) {
  dispatch_float(dtype, "avg_pool2d_backward", [&]<class T>(TypeTag<T>) {
    backward(geo, count_include_pad, reinterpret_cast<const T*>(g), reinterpret_cast<T*>(dx));
  });
}

}  // namespace dm::cpu
