#pragma once
// Naive loops of convolution and pooling in f64, written straight from the definitions (no
// im2col, no tiling), for the kernels to be checked against. Layouts are row-major NCHW.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace conv_ref {

using Values = std::vector<double>;

struct Conv {
  std::int64_t n, c, h, w, oc, kh, kw;
  std::int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  std::int64_t oh() const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  std::int64_t ow() const { return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
};

struct ConvResult {
  Values y, dx, dw, db;
};

/// y = conv(x, wt) + b and, for the upstream gradient g, dx, dw and db (b may be empty).
inline ConvResult conv2d(const Conv& p, const Values& x, const Values& wt, const Values& b, const Values& g) {
  const std::int64_t oh = p.oh(), ow = p.ow(), cg = p.c / p.groups, ocg = p.oc / p.groups;
  ConvResult r;
  r.y.assign(static_cast<std::size_t>(p.n * p.oc * oh * ow), 0.0);
  r.dx.assign(x.size(), 0.0);
  r.dw.assign(wt.size(), 0.0);
  r.db.assign(static_cast<std::size_t>(p.oc), 0.0);
  for (std::int64_t n = 0; n < p.n; ++n)
    for (std::int64_t o = 0; o < p.oc; ++o) {
      const std::int64_t group = o / ocg;
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) {
          const auto yi = static_cast<std::size_t>(((n * p.oc + o) * oh + i) * ow + j);
          double s = b.empty() ? 0.0 : b[static_cast<std::size_t>(o)];
          const double gv = g[yi];
          r.db[static_cast<std::size_t>(o)] += gv;
          for (std::int64_t c = 0; c < cg; ++c)
            for (std::int64_t a = 0; a < p.kh; ++a)
              for (std::int64_t e = 0; e < p.kw; ++e) {
                const std::int64_t ih = i * p.sh - p.ph + a * p.dh, iw = j * p.sw - p.pw + e * p.dw;
                if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;
                const auto xi = static_cast<std::size_t>(((n * p.c + group * cg + c) * p.h + ih) * p.w + iw);
                const auto wi = static_cast<std::size_t>(((o * cg + c) * p.kh + a) * p.kw + e);
                s += x[xi] * wt[wi];
                r.dx[xi] += gv * wt[wi];
                r.dw[wi] += gv * x[xi];
              }
          r.y[yi] = s;
        }
    }
  return r;
}

struct Pool {
  std::int64_t planes, h, w, kh, kw, sh, sw, ph = 0, pw = 0, dh = 1, dw = 1;
  std::int64_t oh() const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  std::int64_t ow() const { return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
};

struct PoolResult {
  Values y, dx;
};

/// Max pooling: the first strictly largest element of each window gets the gradient.
inline PoolResult max_pool2d(const Pool& p, const Values& x, const Values& g) {
  const std::int64_t oh = p.oh(), ow = p.ow();
  PoolResult r{Values(static_cast<std::size_t>(p.planes * oh * ow)), Values(x.size(), 0.0)};
  for (std::int64_t q = 0; q < p.planes; ++q)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) {
        double best = -std::numeric_limits<double>::infinity();
        std::int64_t at = -1;
        for (std::int64_t a = 0; a < p.kh; ++a)
          for (std::int64_t e = 0; e < p.kw; ++e) {
            const std::int64_t ih = i * p.sh - p.ph + a * p.dh, iw = j * p.sw - p.pw + e * p.dw;
            if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;
            const std::int64_t xi = (q * p.h + ih) * p.w + iw;
            if (at < 0 || x[static_cast<std::size_t>(xi)] > best) {
              best = x[static_cast<std::size_t>(xi)];
              at = xi;
            }
          }
        const auto yi = static_cast<std::size_t>((q * oh + i) * ow + j);
        r.y[yi] = best;
        r.dx[static_cast<std::size_t>(at)] += g[yi];
      }
  return r;
}

/// Average pooling; the divisor counts padding (count_include_pad) or only the input's cells.
inline PoolResult avg_pool2d(const Pool& p, bool count_include_pad, const Values& x, const Values& g) {
  const std::int64_t oh = p.oh(), ow = p.ow();
  PoolResult r{Values(static_cast<std::size_t>(p.planes * oh * ow)), Values(x.size(), 0.0)};
  for (std::int64_t q = 0; q < p.planes; ++q)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) {
        std::vector<std::int64_t> inside;
        std::int64_t padded = 0;
        for (std::int64_t a = 0; a < p.kh; ++a)
          for (std::int64_t e = 0; e < p.kw; ++e) {
            const std::int64_t ih = i * p.sh - p.ph + a, iw = j * p.sw - p.pw + e;
            if (ih >= p.h + p.ph || iw >= p.w + p.pw) continue;  // past the padded input
            ++padded;
            if (ih >= 0 && ih < p.h && iw >= 0 && iw < p.w) inside.push_back((q * p.h + ih) * p.w + iw);
          }
        const auto inner = static_cast<std::int64_t>(inside.size());
        const double divisor = static_cast<double>(count_include_pad ? padded : inner);
        const auto yi = static_cast<std::size_t>((q * oh + i) * ow + j);
        double s = 0.0;
        for (std::int64_t xi : inside) s += x[static_cast<std::size_t>(xi)];
        r.y[yi] = s / divisor;
        for (std::int64_t xi : inside) r.dx[static_cast<std::size_t>(xi)] += g[yi] / divisor;
      }
  return r;
}

/// Adaptive average pooling to (oh, ow).
inline PoolResult adaptive_avg_pool2d(std::int64_t planes, std::int64_t h, std::int64_t w, std::int64_t oh,
                                      std::int64_t ow, const Values& x, const Values& g) {
  PoolResult r{Values(static_cast<std::size_t>(planes * oh * ow)), Values(x.size(), 0.0)};
  for (std::int64_t q = 0; q < planes; ++q)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) {
        // Cell (i, j) covers rows [floor(i * h / oh), ceil((i + 1) * h / oh)), columns alike.
        const auto floor_div = [](std::int64_t a, std::int64_t b) {
          return static_cast<std::int64_t>(std::floor(static_cast<double>(a) / static_cast<double>(b)));
        };
        const auto ceil_div = [](std::int64_t a, std::int64_t b) {
          return static_cast<std::int64_t>(std::ceil(static_cast<double>(a) / static_cast<double>(b)));
        };
        const std::int64_t h0 = floor_div(i * h, oh), h1 = ceil_div((i + 1) * h, oh);
        const std::int64_t w0 = floor_div(j * w, ow), w1 = ceil_div((j + 1) * w, ow);
        const double count = static_cast<double>((h1 - h0) * (w1 - w0));
        const auto yi = static_cast<std::size_t>((q * oh + i) * ow + j);
        double s = 0.0;
        for (std::int64_t a = h0; a < h1; ++a)
          for (std::int64_t e = w0; e < w1; ++e) s += x[static_cast<std::size_t>((q * h + a) * w + e)];
        r.y[yi] = s / count;
        for (std::int64_t a = h0; a < h1; ++a)
          for (std::int64_t e = w0; e < w1; ++e) r.dx[static_cast<std::size_t>((q * h + a) * w + e)] += g[yi] / count;
      }
  return r;
}

}  // namespace conv_ref
