// CPU adaptive average pooling over (planes, H, W) to (planes, OH, OW), as
// torch.nn.functional.adaptive_avg_pool2d: cell (oh, ow) averages input rows
// [floor(oh * H / OH), ceil((oh + 1) * H / OH)) and the columns worked out alike, so cells
// tile the input and overlap only where H is not a multiple of OH. One pass per plane, planes
// in parallel, each cell summed in f64.
#include <algorithm>

#include "backend/cpu/conv_pool.hpp"
#include "backend/pool_window.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

using backend::Pool2dGeometry;

using backend::cell_end;
using backend::cell_start;

template <class T>
void forward(const Pool2dGeometry& g, const T* x, T* y) {
  const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  par_for(g.planes, pool_plane_grain(g), [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * in_plane;
      for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
        const std::int64_t h0 = cell_start(oh, g.in_h, g.out_h), h1 = cell_end(oh, g.in_h, g.out_h);
        for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
          const std::int64_t w0 = cell_start(ow, g.in_w, g.out_w), w1 = cell_end(ow, g.in_w, g.out_w);
          double s = 0.0;
          for (std::int64_t ih = h0; ih < h1; ++ih)
            for (std::int64_t iw = w0; iw < w1; ++iw) s += static_cast<double>(xp[ih * g.in_w + iw]);
          y[p * out_plane + oh * g.out_w + ow] = static_cast<T>(s / static_cast<double>((h1 - h0) * (w1 - w0)));
        }
      }
    }
  });
}

template <class T>
void backward(const Pool2dGeometry& g, const T* grad, T* dx) {
  const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  par_for(g.planes, pool_plane_grain(g), [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * in_plane;
      std::fill_n(dxp, in_plane, T(0));
      for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
        const std::int64_t h0 = cell_start(oh, g.in_h, g.out_h), h1 = cell_end(oh, g.in_h, g.out_h);
        for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
          const std::int64_t w0 = cell_start(ow, g.in_w, g.out_w), w1 = cell_end(ow, g.in_w, g.out_w);
          const T share = static_cast<T>(static_cast<double>(grad[p * out_plane + oh * g.out_w + ow]) /
                                         static_cast<double>((h1 - h0) * (w1 - w0)));
          for (std::int64_t ih = h0; ih < h1; ++ih)
            for (std::int64_t iw = w0; iw < w1; ++iw) dxp[ih * g.in_w + iw] += share;
        }
      }
    }
  });
}

}  // namespace

void adaptive_avg_pool2d_forward(DType dtype, const Pool2dGeometry& geo, const std::byte* x, std::byte* y) {
  dispatch_float(dtype, "adaptive_avg_pool2d_forward", [&]<class T>(TypeTag<T>) {
    forward(geo, reinterpret_cast<const T*>(x), reinterpret_cast<T*>(y));
  });
}

void adaptive_avg_pool2d_backward(DType dtype, const Pool2dGeometry& geo, const std::byte* g, std::byte* dx) {
  dispatch_float(dtype, "adaptive_avg_pool2d_backward", [&]<class T>(TypeTag<T>) {
    backward(geo, reinterpret_cast<const T*>(g), reinterpret_cast<T*>(dx));
  });
}

}  // namespace dm::cpu
