// CUDA convolution over NCHW data by im2col into cuBLAS (gemm.cpp), as cpu/conv2d.cpp does it.
//
//   x (N, C, H, W)   w (OC, C/G, KH, KW)   y (N, OC, OH, OW)   per image n and group g:
//   cols (K = C/G * KH * KW, P = OH * OW)      rows ordered (c, kh, kw), like w's last three dims
//   forward:  y[n, g] (OC/G, P) = w[g] (OC/G, K) * cols (K, P)       (+ bias, put in y first)
//   backward: dcols (K, P) = w[g]^T * g[n, g], gathered back into dx (col2im_at: one thread per
//             input element, taps in order, no atomics)
//             dw[g] (OC/G, K) = g[., g] (OC/G, N * P) * cols[g]^T (N * P, K): the images are the
//             GEMM's reduction, with cols and g laid out group-major
//             db (OC) = sum over n and pixels of g, in f64, one block per channel
// Images go through in runs whose scratch fits kScratchElements; the runs add into dw in order
// (beta = 1 after the first), so every bit depends on the shapes alone. A 1x1 kernel with
// stride 1 and no padding reads x itself as cols and writes dx straight from the GEMM.
#include <algorithm>
#include <vector>

#include "backend/conv_plan.hpp"
#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/kernels.hpp"
#include "backend/cuda/layer_kernels.hpp"
#include "backend/cuda/layer_support.cuh"
#include "backend/cuda/window_index.hpp"

namespace dm::cuda_backend::kernels {
namespace {

using backend::Conv2dGeometry;
using Plan = backend::Conv2dPlan;
using backend::GemmOperand;
using layer::each;
using layer::Scratch;
using layer::typed;

inline constexpr int kChannelThreads = 256;

template <class T>
const std::byte* raw(const T* p) {
  return reinterpret_cast<const std::byte*>(p);
}
template <class T>
std::byte* raw(T* p) {
  return reinterpret_cast<std::byte*>(p);
}

template <class T>
struct Im2colFill {
  Im2col m;
  const T* x;  // the run's first image
  T* cols;
  __device__ void operator()(std::int64_t e) const {
    const std::int64_t s = m.source(e);
    cols[e] = s < 0 ? T(0) : x[s];
  }
};

template <class T>
struct Col2im {
  Conv2dGeometry geo;
  const T* cols;  // image-major (images, G, K, P)
  T* dx;          // the run's first image
  __device__ void operator()(std::int64_t e) const { dx[e] = col2im_at(geo, cols, e); }
};

template <class T>
struct BiasFill {
  T* y;
  const T* bias;
  std::int64_t pixels, channels;
  __device__ void operator()(std::int64_t i) const { y[i] = bias[(i / pixels) % channels]; }
};

// out (G, OC/G, images * P) = the run's g (images, OC, P), group-major like the weight
// gradient's cols.
template <class T>
struct GroupMajorGrad {
  const T* g;
  T* out;
  std::int64_t images, groups, group_out, pixels;
  __device__ void operator()(std::int64_t e) const {
    const std::int64_t p = e % pixels, n = (e / pixels) % images;
    const std::int64_t o = (e / (pixels * images)) % group_out, gi = e / (pixels * images * group_out);
    out[e] = g[((n * groups + gi) * group_out + o) * pixels + p];
  }
};

// db[ch] = sum over images and pixels of g, in f64 through the block's fixed tree.
template <class T>
__global__ void bias_grad(const T* g, T* db, std::int64_t batch, std::int64_t channels, std::int64_t pixels) {
  __shared__ typename BlockReduce<double, kChannelThreads>::TempStorage tmp;
  __shared__ double shared;
  const std::int64_t count = batch * pixels;
  for (std::int64_t ch = blockIdx.x; ch < channels; ch += gridDim.x) {
    double s = 0.0;
    for (std::int64_t j = threadIdx.x; j < count; j += kChannelThreads)
      s += static_cast<double>(g[((j / pixels) * channels + ch) * pixels + j % pixels]);
    const double total = block_sum<kChannelThreads>(s, tmp, &shared);
    if (threadIdx.x == 0) db[ch] = static_cast<T>(total);
  }
}

// Batch offsets of the GEMMs: for item i = n * G + g of a run, the weight block of group g;
// and blocks of `stride` elements one after another.
std::vector<std::int64_t> weight_offsets(std::int64_t items, std::int64_t groups, std::int64_t block) {
  std::vector<std::int64_t> off(static_cast<std::size_t>(items));
  for (std::int64_t i = 0; i < items; ++i) off[static_cast<std::size_t>(i)] = (i % groups) * block;
  return off;
}
std::vector<std::int64_t> item_offsets(std::int64_t items, std::int64_t stride) {
  std::vector<std::int64_t> off(static_cast<std::size_t>(items));
  for (std::int64_t i = 0; i < items; ++i) off[static_cast<std::size_t>(i)] = i * stride;
  return off;
}

template <class T>
void forward(DType dtype, const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const char* entry = "conv2d_forward";
  const Plan p(g);
  if (g.batch == 0 || g.out_channels == 0 || p.pixels == 0) return;
  if (bias) each(entry, g.batch * g.out_channels * p.pixels, BiasFill<T>{y, bias, p.pixels, g.out_channels});
  const std::int64_t run = p.direct ? g.batch : items_per_run(g.groups * p.k * p.pixels, g.batch);
  Scratch<T> cols(p.direct ? 0 : run * g.groups * p.k * p.pixels, entry);
  for (std::int64_t n0 = 0; n0 < g.batch; n0 += run) {
    const std::int64_t images = std::min(run, g.batch - n0), items = images * g.groups;
    const T* source = x + n0 * g.in_channels * p.in_plane;
    if (!p.direct) {
      const Im2col m{g, images, false};
      each(entry, m.numel(), Im2colFill<T>{m, source, cols.get()});
      source = cols.get();
    }
    const std::vector<std::int64_t> a_off = weight_offsets(items, g.groups, p.group_out * p.k);
    const std::vector<std::int64_t> b_off = item_offsets(items, p.k * p.pixels);
    gemm(dtype, GemmShape{items, p.group_out, p.pixels, p.k}, GemmOperand{raw(w), a_off, false, p.k},
         GemmOperand{raw(source), b_off, false, p.pixels}, raw(y + n0 * g.out_channels * p.pixels), 1.0,
         bias ? 1.0 : 0.0);
  }
}

template <class T>
void input_grad(DType dtype, const Conv2dGeometry& g, const Plan& p, const T* grad, const T* w, T* dx) {
  const char* entry = "conv2d_backward";
  const std::int64_t run = p.direct ? g.batch : items_per_run(g.groups * p.k * p.pixels, g.batch);
  Scratch<T> dcols(p.direct ? 0 : run * g.groups * p.k * p.pixels, entry);
  for (std::int64_t n0 = 0; n0 < g.batch; n0 += run) {
    const std::int64_t images = std::min(run, g.batch - n0), items = images * g.groups;
    T* dx_run = dx + n0 * g.in_channels * p.in_plane;
    // (K, P) per item = w[g]^T (K, OC/G) * g[n, g] (OC/G, P); w[g] is stored (OC/G, K)
    const std::vector<std::int64_t> a_off = weight_offsets(items, g.groups, p.group_out * p.k);
    const std::vector<std::int64_t> b_off = item_offsets(items, p.group_out * p.pixels);
    gemm(dtype, GemmShape{items, p.k, p.pixels, p.group_out}, GemmOperand{raw(w), a_off, true, p.k},
         GemmOperand{raw(grad + n0 * g.out_channels * p.pixels), b_off, false, p.pixels},
         p.direct ? raw(dx_run) : raw(dcols.get()), 1.0, 0.0);
    if (!p.direct) each(entry, images * g.in_channels * p.in_plane, Col2im<T>{g, dcols.get(), dx_run});
  }
}

template <class T>
void weight_grad(DType dtype, const Conv2dGeometry& g, const Plan& p, const T* grad, const T* x, T* dw) {
  const char* entry = "conv2d_backward";
  const std::int64_t run = items_per_run(g.groups * (p.k + p.group_out) * p.pixels, g.batch);
  Scratch<T> cols(run * g.groups * p.k * p.pixels, entry);
  Scratch<T> grads(run * g.out_channels * p.pixels, entry);
  for (std::int64_t n0 = 0; n0 < g.batch; n0 += run) {
    const std::int64_t images = std::min(run, g.batch - n0), columns = images * p.pixels;
    const Im2col m{g, images, true};
    each(entry, m.numel(), Im2colFill<T>{m, x + n0 * g.in_channels * p.in_plane, cols.get()});
    each(entry, images * g.out_channels * p.pixels,
         GroupMajorGrad<T>{grad + n0 * g.out_channels * p.pixels, grads.get(), images, g.groups, p.group_out,
                           p.pixels});
    // dw[g] (OC/G, K) (+)= grads[g] (OC/G, columns) * cols[g]^T, cols[g] stored (K, columns)
    const std::vector<std::int64_t> a_off = item_offsets(g.groups, p.group_out * columns);
    const std::vector<std::int64_t> b_off = item_offsets(g.groups, p.k * columns);
    gemm(dtype, GemmShape{g.groups, p.group_out, p.k, columns}, GemmOperand{raw(grads.get()), a_off, false, columns},
         GemmOperand{raw(cols.get()), b_off, true, columns}, raw(dw), 1.0, n0 == 0 ? 0.0 : 1.0);
  }
}

template <class T>
void backward(DType dtype, const Conv2dGeometry& g, const T* grad, const T* x, const T* w, T* dx, T* dw, T* db) {
  const char* entry = "conv2d_backward";
  const Plan p(g);
  if (g.batch == 0 || p.pixels == 0) {  // no output: every gradient is zero
    layer::zero(dx, g.batch * g.in_channels * p.in_plane, sizeof(T), entry);
    layer::zero(dw, g.out_channels * p.k, sizeof(T), entry);
    layer::zero(db, g.out_channels, sizeof(T), entry);
    return;
  }
  if (db && g.out_channels > 0) {
    bias_grad<T><<<layer::block_per_item(g.out_channels), kChannelThreads>>>(grad, db, g.batch, g.out_channels,
                                                                             p.pixels);
    check_launch(entry);
  }
  if (dx) input_grad(dtype, g, p, grad, w, dx);
  if (dw) weight_grad(dtype, g, p, grad, x, dw);
}

}  // namespace

void conv2d_forward(DType dtype, const Conv2dGeometry& geo, const std::byte* x, const std::byte* w,
                    const std::byte* bias, std::byte* y) {
  layer::dispatch_float(dtype, "conv2d_forward", [&]<class T>(T) {
    forward(dtype, geo, typed<T>(x), typed<T>(w), typed<T>(bias), typed<T>(y));
  });
}

void conv2d_backward(DType dtype, const Conv2dGeometry& geo, const std::byte* g, const std::byte* x,
                     const std::byte* w, std::byte* dx, std::byte* dw, std::byte* db) {
  layer::dispatch_float(dtype, "conv2d_backward", [&]<class T>(T) {
    backward(dtype, geo, typed<T>(g), typed<T>(x), typed<T>(w), typed<T>(dx), typed<T>(dw), typed<T>(db));
  });
}

}  // namespace dm::cuda_backend::kernels
