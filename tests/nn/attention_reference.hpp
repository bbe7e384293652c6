#pragma once
// Plain f64 loops for scaled dot-product attention and its gradients, written from the
// definitions (no fusion, no recomputation): the independent reference of the nn tests.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace attention_ref {

/// q (b, h, lq, d), k (b, h, lk, d), v (b, h, lk, dv), all row-major.
struct Sizes {
  std::int64_t b, h, lq, lk, d, dv;
};

struct Result {
  std::vector<double> y, dq, dk, dv;
};

/// y = softmax(scale * q k^T, keys j > i hidden when causal) v, and the gradients of q, k, v
/// for the upstream gradient g (b, h, lq, dv).
inline Result attention(const Sizes& s, const std::vector<double>& q, const std::vector<double>& k,
                        const std::vector<double>& v, const std::vector<double>& g, bool causal, double scale) {
  const auto at = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  Result r{std::vector<double>(at(s.b * s.h * s.lq * s.dv)), std::vector<double>(at(s.b * s.h * s.lq * s.d)),
           std::vector<double>(at(s.b * s.h * s.lk * s.d)), std::vector<double>(at(s.b * s.h * s.lk * s.dv))};
  for (std::int64_t bh = 0; bh < s.b * s.h; ++bh) {
    const double* qb = q.data() + bh * s.lq * s.d;
    const double* kb = k.data() + bh * s.lk * s.d;
    const double* vb = v.data() + bh * s.lk * s.dv;
    const double* gb = g.data() + bh * s.lq * s.dv;
    for (std::int64_t i = 0; i < s.lq; ++i) {
      std::vector<double> p(at(s.lk), 0.0);
      double m = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < s.lk; ++j) {
        if (causal && j > i) continue;
        double dot = 0.0;
        for (std::int64_t c = 0; c < s.d; ++c) dot += qb[i * s.d + c] * kb[j * s.d + c];
        p[at(j)] = dot * scale;
        m = std::max(m, p[at(j)]);
      }
      double sum = 0.0;
      for (std::int64_t j = 0; j < s.lk; ++j) {
        p[at(j)] = causal && j > i ? 0.0 : std::exp(p[at(j)] - m);
        sum += p[at(j)];
      }
      for (double& x : p) x /= sum;
      // y = p v; dp = g v^T; ds = p (dp - sum p dp); dq = scale ds k; dk += scale ds q; dv += p g
      std::vector<double> dp(at(s.lk), 0.0);
      double pdp = 0.0;
      for (std::int64_t j = 0; j < s.lk; ++j) {
        for (std::int64_t c = 0; c < s.dv; ++c) {
          r.y[at((bh * s.lq + i) * s.dv + c)] += p[at(j)] * vb[j * s.dv + c];
          dp[at(j)] += gb[i * s.dv + c] * vb[j * s.dv + c];
          r.dv[at((bh * s.lk + j) * s.dv + c)] += p[at(j)] * gb[i * s.dv + c];
        }
        pdp += p[at(j)] * dp[at(j)];
      }
      for (std::int64_t j = 0; j < s.lk; ++j) {
        const double ds = p[at(j)] * (dp[at(j)] - pdp) * scale;
        for (std::int64_t c = 0; c < s.d; ++c) {
          r.dq[at((bh * s.lq + i) * s.d + c)] += ds * kb[j * s.d + c];
          r.dk[at((bh * s.lk + j) * s.d + c)] += ds * qb[i * s.d + c];
        }
      }
    }
  }
  return r;
}

}  // namespace attention_ref
