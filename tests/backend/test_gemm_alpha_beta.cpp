// The backend's GEMM entry, c = alpha * a * b + beta * c, against a naive triple loop, through
// each path of the CPU engine: the tiled gemm, the two matrix-vector shapes (n == 1, m == 1),
// an empty inner dimension (k == 0), transposed operands, a batch, and beta == 0 over memory
// holding NaN (which must not survive: c is then only written).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "backend/backend.hpp"

namespace {

using dm::DType;
using dm::GemmShape;
using dm::backend::GemmOperand;

struct Matrix {
  std::vector<double> v;  // stored row-major as given (the transpose's storage when transposed)
  std::int64_t rows, cols;
  bool transposed;
  double at(std::int64_t r, std::int64_t c) const {
    return transposed ? v[static_cast<std::size_t>(c * rows + r)] : v[static_cast<std::size_t>(r * cols + c)];
  }
};

Matrix make(std::int64_t rows, std::int64_t cols, bool transposed, int seed) {
  Matrix m{std::vector<double>(static_cast<std::size_t>(rows * cols)), rows, cols, transposed};
  for (std::size_t i = 0; i < m.v.size(); ++i) m.v[i] = std::sin(0.37 * static_cast<double>(i) + seed) * 2.0;
  return m;
}

void check(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb, double alpha,
           double beta, bool nan_in_c) {
  SCOPED_TRACE(testing::Message() << "batch " << batch << " m " << m << " n " << n << " k " << k << " ta " << ta
                                  << " tb " << tb << " alpha " << alpha << " beta " << beta);
  std::vector<Matrix> as, bs;
  std::vector<double> a_all, b_all;
  std::vector<std::int64_t> a_off, b_off;
  for (std::int64_t i = 0; i < batch; ++i) {
    as.push_back(make(m, k, ta, static_cast<int>(i)));
    bs.push_back(make(k, n, tb, static_cast<int>(i) + 7));
    a_off.push_back(static_cast<std::int64_t>(a_all.size()));
    b_off.push_back(static_cast<std::int64_t>(b_all.size()));
    a_all.insert(a_all.end(), as.back().v.begin(), as.back().v.end());
    b_all.insert(b_all.end(), bs.back().v.begin(), bs.back().v.end());
  }
  std::vector<double> c(static_cast<std::size_t>(batch * m * n));
  for (std::size_t i = 0; i < c.size(); ++i)
    c[i] = nan_in_c ? std::numeric_limits<double>::quiet_NaN() : std::cos(0.11 * static_cast<double>(i));
  std::vector<double> want = c;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t r = 0; r < m; ++r)
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0.0;
        for (std::int64_t p = 0; p < k; ++p) s += as[b].at(r, p) * bs[b].at(p, j);
        double& w = want[static_cast<std::size_t>((b * m + r) * n + j)];
        w = alpha * s + (beta == 0.0 ? 0.0 : beta * w);
      }
  // ld: the stored row length (a transposed operand stores its transpose).
  const GemmOperand a{reinterpret_cast<const std::byte*>(a_all.data()), a_off, ta, ta ? std::max<std::int64_t>(m, 1)
                                                                                      : std::max<std::int64_t>(k, 1)};
  const GemmOperand bop{reinterpret_cast<const std::byte*>(b_all.data()), b_off, tb,
                        tb ? std::max<std::int64_t>(k, 1) : std::max<std::int64_t>(n, 1)};
  dm::backend::backend_for(dm::Device::cpu())
      .gemm(DType::f64, GemmShape{batch, m, n, k}, a, bop, reinterpret_cast<std::byte*>(c.data()), alpha, beta,
            dm::Schedule::parallel);
  for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], want[i], 1e-12 * (1.0 + std::fabs(want[i]))) << i;
}

TEST(BackendGemm, AlphaAndBetaOnEveryEnginePath) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check(1, 37, 29, 41, ta, tb, 2.0, 0.5, false);   // tiled gemm
      check(1, 37, 1, 41, ta, tb, -1.5, 0.25, false);  // n == 1: gemv
      check(1, 1, 29, 41, ta, tb, 0.5, -2.0, false);   // m == 1: gemv
      check(3, 5, 4, 6, ta, tb, 1.0, 1.0, false);      // a batch, accumulating into c
    }
  check(1, 6, 5, 0, false, false, 3.0, 0.5, false);  // k == 0: c = beta * c
}

TEST(BackendGemm, BetaZeroNeverReadsC) {
  check(1, 37, 29, 41, false, true, 1.0, 0.0, true);
  check(1, 37, 1, 41, true, false, 2.0, 0.0, true);
  check(1, 1, 29, 41, false, false, 2.0, 0.0, true);
  check(1, 6, 5, 0, false, false, 1.0, 0.0, true);
}

}  // namespace
