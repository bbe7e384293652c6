// CPU convolution over NCHW data by im2col into the GEMM engine.
//
//   x (N, C, H, W)   w (OC, C/G, KH, KW)   y (N, OC, OH, OW)   per image n and group g:
//   cols (K = C/G * KH * KW, P = OH * OW)      rows ordered (c, kh, kw), like w's last three dims
//   forward:  y[n, g] (OC/G, P) = w[g] (OC/G, K) * cols (K, P)       (+ bias, put in y first)
//   backward: dcols (K, P) = w[g]^T * g[n, g], scattered back into dx[n, g] (col2im)
//             dw[g] (OC/G, K) = sum_n g[n, g] (OC/G, P) * cols^T (P, K)
//             db (OC) = sum over n and pixels of g, in f64
// Images run in parallel, each GEMM tiled by its shape alone. The weight gradient sums the
// batch in fixed chunks of images (in order within a chunk) and then the chunks in order, so
// its bits depend on the batch size, never on the thread count. A 1x1 kernel with stride 1
// and no padding reads x itself as cols.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "backend/conv_plan.hpp"
#include "backend/cpu/conv_pool.hpp"
#include "backend/cpu/gemm.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

using backend::Conv2dGeometry;
using Plan = backend::Conv2dPlan;

// Images whose weight gradients one task adds up before the chunks are added in order:
// enough work per task to amortise its scratch, few enough partial sums to keep in cache.
constexpr std::int64_t kImagesPerChunk = 4;

const std::int64_t kNoOffset[1] = {0};

// The output columns [lo, hi) of one kernel column whose input column ow * stride + offset
// lies inside [0, in_w).
struct ColumnRange {
  std::int64_t lo, hi;
};

ColumnRange valid_columns(std::int64_t offset, std::int64_t stride, std::int64_t in_w, std::int64_t out_w) {
  std::int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  std::int64_t hi = in_w - 1 - offset < 0 ? 0 : (in_w - 1 - offset) / stride + 1;
  lo = std::min(lo, out_w);
  hi = std::clamp(hi, lo, out_w);
  return {lo, hi};
}

// cols (group_in * KH * KW, OH * OW) from one group's channels x (group_in, H, W).
template <class T>
void im2col(const Conv2dGeometry& g, const Plan& p, const T* x, T* cols) {
  for (std::int64_t c = 0; c < p.group_in; ++c) {
    const T* plane = x + c * p.in_plane;
    for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
      for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
        T* row = cols + ((c * g.kernel_h + kh) * g.kernel_w + kw) * p.pixels;
        const std::int64_t col_offset = kw * g.dilation_w - g.pad_w;
        const ColumnRange r = valid_columns(col_offset, g.stride_w, g.in_w, g.out_w);
        for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
          T* out = row + oh * g.out_w;
          const std::int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
          if (ih < 0 || ih >= g.in_h) {
            std::fill_n(out, g.out_w, T(0));
            continue;
          }
          const T* src = plane + ih * g.in_w;  // output column ow reads src[ow * stride_w + col_offset]
          // Rows are short (an output row, often under 32 values): plain loops, which the
          // compiler inlines, beat a library call per row.
          for (std::int64_t ow = 0; ow < r.lo; ++ow) out[ow] = T(0);
          if (g.stride_w == 1) {
            const T* from = src + col_offset;
            for (std::int64_t ow = r.lo; ow < r.hi; ++ow) out[ow] = from[ow];
          } else {
            for (std::int64_t ow = r.lo; ow < r.hi; ++ow) out[ow] = src[ow * g.stride_w + col_offset];
          }
          for (std::int64_t ow = r.hi; ow < g.out_w; ++ow) out[ow] = T(0);
        }
      }
    }
  }
}

// dx (group_in, H, W), already zero, += cols (group_in * KH * KW, OH * OW) at the places
// im2col read them from, rows in order.
template <class T>
void col2im(const Conv2dGeometry& g, const Plan& p, const T* cols, T* dx) {
  for (std::int64_t c = 0; c < p.group_in; ++c) {
    T* plane = dx + c * p.in_plane;
    for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
      for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
        const T* row = cols + ((c * g.kernel_h + kh) * g.kernel_w + kw) * p.pixels;
        const std::int64_t col_offset = kw * g.dilation_w - g.pad_w;
        const ColumnRange r = valid_columns(col_offset, g.stride_w, g.in_w, g.out_w);
        for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
          const std::int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
          if (ih < 0 || ih >= g.in_h) continue;
          const T* in = row + oh * g.out_w;
          T* dst = plane + ih * g.in_w;
          for (std::int64_t ow = r.lo; ow < r.hi; ++ow) dst[ow * g.stride_w + col_offset] += in[ow];
        }
      }
    }
  }
}

// c (m, n) = alpha * a * b + beta * c for single matrices, through the engine.
template <class T>
void gemm1(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, bool a_transposed, std::int64_t lda,
           const T* b, bool b_transposed, std::int64_t ldb, T* c, T beta) {
  const GemmOperand<T> ga{a, kNoOffset, a_transposed, lda};
  const GemmOperand<T> gb{b, kNoOffset, b_transposed, ldb};
  gemm(GemmShape{1, m, n, k}, ga, gb, c, Schedule::parallel, T(1), beta);
}

template <class T>
void forward(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const Plan p(g);
  par_for(g.batch, 1, [&](std::int64_t n0, std::int64_t n1) {
    // Scratch that every use overwrites first: no zero-filling pass over it.
    const auto cols = std::make_unique_for_overwrite<T[]>(p.direct ? 0 : static_cast<std::size_t>(p.k * p.pixels));
    for (std::int64_t n = n0; n < n1; ++n) {
      for (std::int64_t gi = 0; gi < g.groups; ++gi) {
        const T* xg = x + (n * g.in_channels + gi * p.group_in) * p.in_plane;
        T* yg = y + (n * g.out_channels + gi * p.group_out) * p.pixels;  // (group_out, pixels)
        if (bias) {
          for (std::int64_t o = 0; o < p.group_out; ++o)
            std::fill_n(yg + o * p.pixels, p.pixels, bias[gi * p.group_out + o]);
        }
        const T* b = xg;
        if (!p.direct) {
          im2col(g, p, xg, cols.get());
          b = cols.get();
        }
        gemm1<T>(p.group_out, p.pixels, p.k, w + gi * p.group_out * p.k, false, p.k, b, false, p.pixels, yg,
                 bias ? T(1) : T(0));
      }
    }
  });
}

// The input gradient of image n into dx[n] and its weight gradient added (or, for the first
// image of a chunk, written) into partial (OC, K).
template <class T>
void backward_image(const Conv2dGeometry& g, const Plan& p, std::int64_t n, bool first, const T* grad, const T* x,
                    const T* w, T* dx, T* partial, T* cols, T* dcols) {
  for (std::int64_t gi = 0; gi < g.groups; ++gi) {
    const T* gg = grad + (n * g.out_channels + gi * p.group_out) * p.pixels;  // (group_out, pixels)
    const T* wg = w + gi * p.group_out * p.k;                                 // (group_out, k)
    if (partial) {
      const T* xg = x + (n * g.in_channels + gi * p.group_in) * p.in_plane;
      const T* c = xg;
      if (!p.direct) {
        im2col(g, p, xg, cols);
        c = cols;
      }
      // (group_out, k) = gg (group_out, pixels) * c^T, c stored (k, pixels)
      gemm1<T>(p.group_out, p.k, p.pixels, gg, false, p.pixels, c, true, p.pixels, partial + gi * p.group_out * p.k,
               first ? T(0) : T(1));
    }
    if (dx) {
      T* dxg = dx + (n * g.in_channels + gi * p.group_in) * p.in_plane;
      // (k, pixels) = wg^T (k, group_out) * gg (group_out, pixels), wg stored (group_out, k)
      if (p.direct) {
        gemm1<T>(p.k, p.pixels, p.group_out, wg, true, p.k, gg, false, p.pixels, dxg, T(0));
      } else {
        gemm1<T>(p.k, p.pixels, p.group_out, wg, true, p.k, gg, false, p.pixels, dcols, T(0));
        std::fill_n(dxg, p.group_in * p.in_plane, T(0));
        col2im(g, p, dcols, dxg);
      }
    }
  }
}

template <class T>
void backward(const Conv2dGeometry& g, const T* grad, const T* x, const T* w, T* dx, T* dw, T* db) {
  const Plan p(g);
  const std::int64_t weight_numel = g.out_channels * p.k;
  const std::int64_t chunks = (g.batch + kImagesPerChunk - 1) / kImagesPerChunk;
  // Each chunk's first image writes its partial sum: no zero-filling pass over them.
  const auto partials = std::make_unique_for_overwrite<T[]>(dw ? static_cast<std::size_t>(chunks * weight_numel) : 0);
  if (dx || dw) {
    par_for(chunks, 1, [&](std::int64_t c0, std::int64_t c1) {
      const auto scratch = static_cast<std::size_t>(p.direct ? 0 : p.k * p.pixels);
      const auto cols = std::make_unique_for_overwrite<T[]>(dw ? scratch : 0);
      const auto dcols = std::make_unique_for_overwrite<T[]>(dx ? scratch : 0);
      for (std::int64_t chunk = c0; chunk < c1; ++chunk) {
        T* partial = dw ? partials.get() + chunk * weight_numel : nullptr;
        const std::int64_t end = std::min(g.batch, (chunk + 1) * kImagesPerChunk);
        for (std::int64_t n = chunk * kImagesPerChunk; n < end; ++n)
          backward_image(g, p, n, n == chunk * kImagesPerChunk, grad, x, w, dx, partial, cols.get(), dcols.get());
      }
    });
  }
  if (dw) {
    par_for(weight_numel, 4096, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        T s = T(0);
        for (std::int64_t chunk = 0; chunk < chunks; ++chunk)
          s += partials[static_cast<std::size_t>(chunk * weight_numel + i)];
        dw[i] = s;
      }
    });
  }
  if (db) {
    par_for(g.out_channels, 1, [&](std::int64_t o0, std::int64_t o1) {
      for (std::int64_t o = o0; o < o1; ++o) {
        double s = 0.0;
        for (std::int64_t n = 0; n < g.batch; ++n) {
          const T* row = grad + (n * g.out_channels + o) * p.pixels;
          for (std::int64_t i = 0; i < p.pixels; ++i) s += static_cast<double>(row[i]);
        }
        db[o] = static_cast<T>(s);
      }
    });
  }
}

}  // namespace

void conv2d_forward(DType dtype, const Conv2dGeometry& geo, const std::byte* x, const std::byte* w,
                    const std::byte* bias, std::byte* y) {
  dispatch_float(dtype, "conv2d_forward", [&]<class T>(TypeTag<T>) {
    forward(geo, reinterpret_cast<const T*>(x), reinterpret_cast<const T*>(w), reinterpret_cast<const T*>(bias),
            reinterpret_cast<T*>(y));
  });
}

void conv2d_backward(DType dtype, const Conv2dGeometry& geo, const std::byte* g, const std::byte* x,
                     const std::byte* w, std::byte* dx, std::byte* dw, std::byte* db) {
  dispatch_float(dtype, "conv2d_backward", [&]<class T>(TypeTag<T>) {
    backward(geo, reinterpret_cast<const T*>(g), reinterpret_cast<const T*>(x), reinterpret_cast<const T*>(w),
             reinterpret_cast<T*>(dx), reinterpret_cast<T*>(dw), reinterpret_cast<T*>(db));
  });
}

}  // namespace dm::cpu
