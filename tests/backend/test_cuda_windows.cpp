// The CUDA convolution and pooling kernels' index maths and per-element bodies
// (backend/cuda/window_index.hpp, pool_windows.hpp), run on the host: the covering ranges
// against brute force, the pooling bodies against the CPU kernels bit for bit (the gathers add
// in the CPU's order), and im2col / col2im in both layouts against the CPU convolution.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "backend/cpu/conv_pool.hpp"
#include "backend/cuda/launch.hpp"
#include "backend/cuda/pool_windows.hpp"
#include "backend/cuda/window_index.hpp"

namespace {

using dm::DType;
using dm::backend::Conv2dGeometry;
using dm::backend::Pool2dGeometry;
using namespace dm::cuda_backend;

template <class T>
const std::byte* in(const std::vector<T>& v) {
  return reinterpret_cast<const std::byte*>(v.data());
}
template <class T>
std::byte* out(std::vector<T>& v) {
  return reinterpret_cast<std::byte*>(v.data());
}

template <class T>
void expect_same_bits(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_TRUE(std::memcmp(&got[i], &want[i], sizeof(T)) == 0)
        << what << " [" << i << "] " << got[i] << " vs " << want[i];
}

TEST(CudaWindows, CoveringWindowsMatchBruteForce) {
  for (std::int64_t size = 1; size <= 9; ++size)
    for (std::int64_t pad = 0; pad <= 2; ++pad)
      for (std::int64_t stride = 1; stride <= 3; ++stride)
        for (std::int64_t span = 1; span <= 7; ++span) {
          if (size + 2 * pad < span) continue;
          const std::int64_t outs = (size + 2 * pad - span) / stride + 1;
          for (std::int64_t i = 0; i < size; ++i) {
            std::int64_t lo = -1, hi = -1;
            for (std::int64_t o = 0; o < outs; ++o) {
              const bool holds = o * stride - pad <= i && i < o * stride - pad + span;
              if (holds && lo < 0) lo = o;
              if (holds) hi = o + 1;
            }
            const OutputRange r = windows_covering(i, pad, stride, span, outs);
            if (lo < 0) {
              EXPECT_EQ(r.lo, r.hi) << "size " << size << " pad " << pad << " stride " << stride << " i " << i;
            } else {
              EXPECT_EQ(r.lo, lo) << "size " << size << " pad " << pad << " stride " << stride << " span " << span;
              EXPECT_EQ(r.hi, hi) << "size " << size << " pad " << pad << " stride " << stride << " span " << span;
            }
          }
        }
}

TEST(CudaWindows, CoveringCellsMatchBruteForce) {
  for (std::int64_t size = 1; size <= 13; ++size)
    for (std::int64_t outs = 1; outs <= 13; ++outs)
      for (std::int64_t i = 0; i < size; ++i) {
        std::int64_t lo = -1, hi = -1;
        for (std::int64_t o = 0; o < outs; ++o) {
          const bool holds = cell_start(o, size, outs) <= i && i < cell_end(o, size, outs);
          if (holds && lo < 0) lo = o;
          if (holds) hi = o + 1;
        }
        ASSERT_GE(lo, 0) << "cells tile the input";
        const OutputRange r = cells_covering(i, size, outs);
        EXPECT_EQ(r.lo, lo) << "in " << size << " out " << outs << " i " << i;
        EXPECT_EQ(r.hi, hi) << "in " << size << " out " << outs << " i " << i;
      }
}

TEST(CudaWindows, ScratchRunsHoldAtLeastOneItemAndNeverMoreThanAll) {
  EXPECT_EQ(items_per_run(10, 7, 100), 7);
  EXPECT_EQ(items_per_run(10, 70, 100), 10);
  EXPECT_EQ(items_per_run(1000, 5, 100), 1);  // one item past the budget still goes through
  EXPECT_EQ(items_per_run(0, 5, 100), 5);
  EXPECT_EQ(items_per_run(3, 0, 100), 1);
}

// Values with many ties (small integers), so max pooling's first-maximum rule is exercised.
template <class T>
std::vector<T> values(std::int64_t n, std::uint32_t seed, bool ties) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> small(-3, 3);
  std::uniform_real_distribution<double> real(-2.0, 2.0);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (T& x : v) x = ties ? static_cast<T>(small(rng)) : static_cast<T>(real(rng));
  return v;
}

// planes, in_h, in_w, out_h, out_w, kernel, stride, pad, dilation
std::vector<Pool2dGeometry> pool_geometries() {
  auto make = [](std::int64_t planes, std::int64_t h, std::int64_t w, std::int64_t kh, std::int64_t kw,
                 std::int64_t sh, std::int64_t sw, std::int64_t ph, std::int64_t pw, std::int64_t dh,
                 std::int64_t dw) {
    Pool2dGeometry g{planes, h, w, 0, 0, kh, kw, sh, sw, ph, pw, dh, dw};
    g.out_h = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
    g.out_w = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    return g;
  };
  return {make(3, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1), make(2, 6, 7, 2, 2, 1, 1, 0, 0, 2, 2),
          make(2, 9, 8, 3, 2, 1, 3, 1, 1, 2, 1), make(1, 5, 5, 5, 5, 1, 1, 2, 2, 1, 1),
          make(4, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1)};
}

template <class T>
void check_max_pool(DType dtype) {
  std::uint32_t seed = 11;
  for (const Pool2dGeometry& g : pool_geometries()) {
    std::vector<T> x = values<T>(g.planes * g.in_h * g.in_w, ++seed, true);
    x[3] = std::numeric_limits<T>::quiet_NaN();  // NaN wins its windows
    const std::int64_t outs = g.planes * g.out_h * g.out_w, ins = g.planes * g.in_h * g.in_w;
    std::vector<T> y_cpu(static_cast<std::size_t>(outs)), y(y_cpu.size());
    std::vector<std::int64_t> idx_cpu(y_cpu.size()), idx(y_cpu.size());
    dm::cpu::max_pool2d_forward(dtype, g, in(x), out(y_cpu), idx_cpu.data());
    for (std::int64_t o = 0; o < outs; ++o) {
      const auto i = static_cast<std::size_t>(o);
      y[i] = max_pool_at(g, x.data(), o, &idx[i]);
    }
    expect_same_bits(y, y_cpu, "max_pool2d y");
    EXPECT_EQ(idx, idx_cpu);
    const std::vector<T> grad = values<T>(outs, ++seed, false);
    std::vector<T> dx_cpu(static_cast<std::size_t>(ins)), dx(dx_cpu.size());
    dm::cpu::max_pool2d_backward(dtype, g, in(grad), idx_cpu.data(), out(dx_cpu));
    for (std::int64_t e = 0; e < ins; ++e)
      dx[static_cast<std::size_t>(e)] = max_pool_grad_at(g, grad.data(), idx.data(), e);
    expect_same_bits(dx, dx_cpu, "max_pool2d dx");
  }
}

TEST(CudaWindows, MaxPoolBodiesGiveTheCpuBits) {
  check_max_pool<float>(DType::f32);
  check_max_pool<double>(DType::f64);
}

template <class T>
void check_avg_pool(DType dtype) {
  std::uint32_t seed = 51;
  for (Pool2dGeometry g : pool_geometries()) {
    g.dilation_h = g.dilation_w = 1;  // average pooling has none
    g.out_h = (g.in_h + 2 * g.pad_h - g.kernel_h) / g.stride_h + 1;
    g.out_w = (g.in_w + 2 * g.pad_w - g.kernel_w) / g.stride_w + 1;
    const std::int64_t outs = g.planes * g.out_h * g.out_w, ins = g.planes * g.in_h * g.in_w;
    const std::vector<T> x = values<T>(ins, ++seed, false), grad = values<T>(outs, ++seed, false);
    for (bool include_pad : {true, false}) {
      std::vector<T> y_cpu(static_cast<std::size_t>(outs)), y(y_cpu.size());
      dm::cpu::avg_pool2d_forward(dtype, g, include_pad, in(x), out(y_cpu));
      for (std::int64_t o = 0; o < outs; ++o)
        y[static_cast<std::size_t>(o)] = avg_pool_at(g, include_pad, x.data(), o);
      expect_same_bits(y, y_cpu, "avg_pool2d y");
      std::vector<T> dx_cpu(static_cast<std::size_t>(ins)), dx(dx_cpu.size());
      dm::cpu::avg_pool2d_backward(dtype, g, include_pad, in(grad), out(dx_cpu));
      for (std::int64_t e = 0; e < ins; ++e)
        dx[static_cast<std::size_t>(e)] = avg_pool_grad_at(g, include_pad, grad.data(), e);
      expect_same_bits(dx, dx_cpu, "avg_pool2d dx");
    }
  }
}

TEST(CudaWindows, AvgPoolBodiesGiveTheCpuBits) {
  check_avg_pool<float>(DType::f32);
  check_avg_pool<double>(DType::f64);
}

template <class T>
void check_adaptive_pool(DType dtype) {
  std::uint32_t seed = 91;
  for (std::int64_t in_h : {1, 5, 7, 8})
    for (std::int64_t out_h : {1, 2, 3, 5, 8}) {
      const Pool2dGeometry g{2, in_h, in_h + 1, out_h, out_h + 2};
      const std::int64_t outs = g.planes * g.out_h * g.out_w, ins = g.planes * g.in_h * g.in_w;
      const std::vector<T> x = values<T>(ins, ++seed, false), grad = values<T>(outs, ++seed, false);
      std::vector<T> y_cpu(static_cast<std::size_t>(outs)), y(y_cpu.size());
      dm::cpu::adaptive_avg_pool2d_forward(dtype, g, in(x), out(y_cpu));
      for (std::int64_t o = 0; o < outs; ++o) y[static_cast<std::size_t>(o)] = adaptive_pool_at(g, x.data(), o);
      expect_same_bits(y, y_cpu, "adaptive_avg_pool2d y");
      std::vector<T> dx_cpu(static_cast<std::size_t>(ins)), dx(dx_cpu.size());
      dm::cpu::adaptive_avg_pool2d_backward(dtype, g, in(grad), out(dx_cpu));
      for (std::int64_t e = 0; e < ins; ++e)
        dx[static_cast<std::size_t>(e)] = adaptive_pool_grad_at(g, grad.data(), e);
      expect_same_bits(dx, dx_cpu, "adaptive_avg_pool2d dx");
    }
}

TEST(CudaWindows, AdaptivePoolBodiesGiveTheCpuBits) {
  check_adaptive_pool<float>(DType::f32);
  check_adaptive_pool<double>(DType::f64);
}

Conv2dGeometry conv(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t oc, std::int64_t k,
                    std::int64_t stride, std::int64_t pad, std::int64_t dilation, std::int64_t groups) {
  Conv2dGeometry g{n, c, h, w, oc, 0, 0, k, k, stride, stride, pad, pad, dilation, dilation, groups};
  g.out_h = (h + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
  g.out_w = (w + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
  return g;
}

// The CUDA convolution's three products written with the host's loops over the same column
// matrices the kernels build (Im2col::source in both layouts, col2im_at), against the CPU
// convolution. Sums in f64 over f64 data: only the order of additions differs.
TEST(CudaWindows, Im2colAndCol2imReproduceTheCpuConvolution) {
  for (const Conv2dGeometry& g : {conv(2, 3, 7, 6, 4, 3, 1, 1, 1, 1), conv(3, 4, 8, 7, 6, 3, 2, 1, 2, 2),
                                  conv(2, 4, 5, 5, 4, 1, 1, 0, 1, 2), conv(1, 2, 6, 6, 2, 2, 3, 2, 1, 1)}) {
    const std::int64_t group_in = g.in_channels / g.groups, group_out = g.out_channels / g.groups;
    const std::int64_t k_count = group_in * g.kernel_h * g.kernel_w, pixels = g.out_h * g.out_w;
    const std::vector<double> x = values<double>(g.batch * g.in_channels * g.in_h * g.in_w, 5, false);
    const std::vector<double> w = values<double>(g.out_channels * k_count, 6, false);
    const std::vector<double> grad = values<double>(g.batch * g.out_channels * pixels, 7, false);

    const Im2col image_major{g, g.batch, false}, group_major{g, g.batch, true};
    ASSERT_EQ(image_major.numel(), g.batch * g.groups * k_count * pixels);
    std::vector<double> cols(static_cast<std::size_t>(image_major.numel()));
    std::vector<double> cols_gm(cols.size());
    for (std::int64_t e = 0; e < image_major.numel(); ++e) {
      const std::int64_t s = image_major.source(e), t = group_major.source(e);
      cols[static_cast<std::size_t>(e)] = s < 0 ? 0.0 : x[static_cast<std::size_t>(s)];
      cols_gm[static_cast<std::size_t>(e)] = t < 0 ? 0.0 : x[static_cast<std::size_t>(t)];
    }
    std::vector<double> y(grad.size()), dcols(cols.size()), dw(w.size(), 0.0);
    for (std::int64_t n = 0; n < g.batch; ++n)
      for (std::int64_t gi = 0; gi < g.groups; ++gi) {
        const double* block = cols.data() + (n * g.groups + gi) * k_count * pixels;
        for (std::int64_t o = 0; o < group_out; ++o) {
          const std::int64_t oc = gi * group_out + o;
          for (std::int64_t p = 0; p < pixels; ++p) {
            double s = 0.0;
            for (std::int64_t k = 0; k < k_count; ++k)
              s += w[static_cast<std::size_t>(oc * k_count + k)] * block[k * pixels + p];
            y[static_cast<std::size_t>((n * g.out_channels + oc) * pixels + p)] = s;
          }
        }
        for (std::int64_t k = 0; k < k_count; ++k)
          for (std::int64_t p = 0; p < pixels; ++p) {
            double s = 0.0;
            for (std::int64_t o = 0; o < group_out; ++o) {
              const std::int64_t oc = gi * group_out + o;
              s += w[static_cast<std::size_t>(oc * k_count + k)] *
                   grad[static_cast<std::size_t>((n * g.out_channels + oc) * pixels + p)];
            }
            dcols[static_cast<std::size_t>(((n * g.groups + gi) * k_count + k) * pixels + p)] = s;
          }
      }
    // The weight gradient from the group-major columns: column (n, p) of group gi.
    for (std::int64_t gi = 0; gi < g.groups; ++gi)
      for (std::int64_t o = 0; o < group_out; ++o)
        for (std::int64_t k = 0; k < k_count; ++k) {
          double s = 0.0;
          for (std::int64_t n = 0; n < g.batch; ++n)
            for (std::int64_t p = 0; p < pixels; ++p)
              s += grad[static_cast<std::size_t>((n * g.out_channels + gi * group_out + o) * pixels + p)] *
                   cols_gm[static_cast<std::size_t>(((gi * k_count + k) * g.batch + n) * pixels + p)];
          dw[static_cast<std::size_t>((gi * group_out + o) * k_count + k)] = s;
        }
    std::vector<double> dx(x.size());
    for (std::int64_t e = 0; e < static_cast<std::int64_t>(dx.size()); ++e)
      dx[static_cast<std::size_t>(e)] = col2im_at(g, dcols.data(), e);

    std::vector<double> y_cpu(y.size()), dx_cpu(dx.size()), dw_cpu(dw.size());
    dm::cpu::conv2d_forward(DType::f64, g, in(x), in(w), nullptr, out(y_cpu));
    dm::cpu::conv2d_backward(DType::f64, g, in(grad), in(x), in(w), out(dx_cpu), out(dw_cpu), nullptr);
    // f64 sums of a few dozen products of values below 2 in different orders: 1e-12 holds them.
    for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], y_cpu[i], 1e-12) << "y " << i;
    for (std::size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx[i], dx_cpu[i], 1e-12) << "dx " << i;
    for (std::size_t i = 0; i < dw.size(); ++i) EXPECT_NEAR(dw[i], dw_cpu[i], 1e-12) << "dw " << i;
  }
}

}  // namespace
