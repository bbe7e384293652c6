#pragma once
// Index maths of the CUDA convolution and pooling kernels, in plain C++ so the host tests
// check it without a GPU. The kernels that add into an input-shaped result (col2im, the
// pooling backwards) are written as gathers: one thread per input element walks the output
// windows that cover it, in increasing output order, so no two threads write one element and
// no float atomics are needed; these ranges are what makes that walk short.
#include <cstdint>

#include "backend/conv_geometry.hpp"
#include "backend/host_device.hpp"
#include "backend/pool_window.hpp"

namespace dm::cuda_backend {

/// Output positions [lo, hi) along one axis.
struct OutputRange {
  std::int64_t lo = 0, hi = 0;
};

/// The windows o in [0, out) whose span [o * stride - pad, o * stride - pad + span) holds input
/// position i (i >= 0, pad >= 0). With dilation, a window in the range may still step over i:
/// max pooling's backward then matches the recorded index, which never names such a tap.
DM_HOST_DEVICE inline OutputRange windows_covering(std::int64_t i, std::int64_t pad, std::int64_t stride,
                                                   std::int64_t span, std::int64_t out) {
  const std::int64_t far = i + pad - span;  // o * stride > far
  std::int64_t lo = far < 0 ? 0 : far / stride + 1;
  std::int64_t hi = (i + pad) / stride + 1;  // o * stride <= i + pad
  if (hi > out) hi = out;
  if (lo > hi) lo = hi;
  return {lo, hi};
}

using backend::cell_end;
using backend::cell_start;

/// The adaptive cells holding input position i: floor(i * out / in) up to
/// floor(((i + 1) * out - 1) / in), clipped to [0, out).
DM_HOST_DEVICE inline OutputRange cells_covering(std::int64_t i, std::int64_t in, std::int64_t out) {
  std::int64_t lo = (i * out) / in;
  std::int64_t hi = ((i + 1) * out - 1) / in + 1;
  if (hi > out) hi = out;
  if (lo > hi) lo = hi;
  return {lo, hi};
}

/// The im2col matrix of a run of `images` images of a convolution: row k = (c, kh, kw) of a
/// group's K = C/G * KH * KW, column p = (oh, ow) of P = OH * OW. Image-major stores image n,
/// group g as one (K, P) block at ((n * G + g) * K) * P, the layout of a batched GEMM per
/// (image, group); group-major stores group g as one (K, images * P) block, columns (n, p),
/// so one GEMM per group adds up the images (the weight gradient).
struct Im2col {
  backend::Conv2dGeometry geo;
  std::int64_t images = 0;
  bool group_major = false;

  DM_HOST_DEVICE std::int64_t group_in() const { return geo.in_channels / geo.groups; }
  DM_HOST_DEVICE std::int64_t rows() const { return group_in() * geo.kernel_h * geo.kernel_w; }
  DM_HOST_DEVICE std::int64_t pixels() const { return geo.out_h * geo.out_w; }
  DM_HOST_DEVICE std::int64_t numel() const { return images * geo.groups * rows() * pixels(); }

  /// Where element e of the matrix comes from: the offset in x of the run's first image, or
  /// -1 where the tap falls in the padding (the element is 0).
  DM_HOST_DEVICE std::int64_t source(std::int64_t e) const {
    const std::int64_t k_count = rows(), p_count = pixels();
    std::int64_t n, gi, k, p;
    if (group_major) {  // (G, K, images, P)
      p = e % p_count;
      n = (e / p_count) % images;
      k = (e / (p_count * images)) % k_count;
      gi = e / (p_count * images * k_count);
    } else {  // (images, G, K, P)
      p = e % p_count;
      k = (e / p_count) % k_count;
      gi = (e / (p_count * k_count)) % geo.groups;
      n = e / (p_count * k_count * geo.groups);
    }
    const std::int64_t kw = k % geo.kernel_w, kh = (k / geo.kernel_w) % geo.kernel_h;
    const std::int64_t c = gi * group_in() + k / (geo.kernel_w * geo.kernel_h);
    const std::int64_t oh = p / geo.out_w, ow = p % geo.out_w;
    const std::int64_t ih = oh * geo.stride_h - geo.pad_h + kh * geo.dilation_h;
    const std::int64_t iw = ow * geo.stride_w - geo.pad_w + kw * geo.dilation_w;
    if (ih < 0 || ih >= geo.in_h || iw < 0 || iw >= geo.in_w) return -1;
    return ((n * geo.in_channels + c) * geo.in_h + ih) * geo.in_w + iw;
  }
};

/// col2im as a gather: the image-major column matrix (images, G, K, P) of a run of images
/// summed back onto input element e (an offset in the run's x, laid out like x), over the
/// taps (kh, kw) in increasing order (the order the CPU's col2im adds them in).
template <class T>
DM_HOST_DEVICE T col2im_at(const backend::Conv2dGeometry& g, const T* cols, std::int64_t e) {
  const std::int64_t iw = e % g.in_w, ih = (e / g.in_w) % g.in_h;
  const std::int64_t c = (e / (g.in_w * g.in_h)) % g.in_channels, n = e / (g.in_w * g.in_h * g.in_channels);
  const std::int64_t group_in = g.in_channels / g.groups, gi = c / group_in, ci = c % group_in;
  const std::int64_t k_count = group_in * g.kernel_h * g.kernel_w, p_count = g.out_h * g.out_w;
  const T* block = cols + (n * g.groups + gi) * k_count * p_count;
  T sum = T(0);
  for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
    const std::int64_t th = ih + g.pad_h - kh * g.dilation_h;  // = oh * stride_h
    if (th < 0 || th % g.stride_h != 0 || th / g.stride_h >= g.out_h) continue;
    const std::int64_t oh = th / g.stride_h;
    for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const std::int64_t tw = iw + g.pad_w - kw * g.dilation_w;
      if (tw < 0 || tw % g.stride_w != 0 || tw / g.stride_w >= g.out_w) continue;
      const std::int64_t ow = tw / g.stride_w;
      sum += block[((ci * g.kernel_h + kh) * g.kernel_w + kw) * p_count + oh * g.out_w + ow];
    }
  }
  return sum;
}

}  // namespace dm::cuda_backend
