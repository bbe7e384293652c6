// CPU kernels of the losses: cross-entropy (fused log-softmax + NLL) forward and backward,
// and the two passes of the mean squared error. Partial sums are in double over fixed
// blocks added in order, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/softmax_exp.hpp"
#include "backend/cpu/training_kernels.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

constexpr std::int64_t kElementsPerBlock = 1 << 15;

std::int64_t rows_per_block(std::int64_t cols) {
  return std::max<std::int64_t>(1, kElementsPerBlock / std::max<std::int64_t>(cols, 1));
}

double ordered_sum(const std::vector<double>& parts) {
  double s = 0.0;
  for (double p : parts) s += p;
  return s;
}

// ---- cross_entropy -------------------------------------------------------------------------
// logits (B, C), probs (B, C) out, row_loss (B) out: per row, a stable log-softmax
//   m = max x,  s = sum exp(x - m),  loss = m + log s - x[label],  probs = exp(x - m) / s
template <class T>
void cross_entropy_rows(const T* logits, const std::int64_t* labels, T* probs, double* row_loss, std::int64_t rows,
                        std::int64_t cols) {
  par_for(rows, rows_per_block(cols), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* x = logits + r * cols;
      T* p = probs + r * cols;
      T m = x[0];
      for (std::int64_t j = 1; j < cols; ++j) m = x[j] > m ? x[j] : m;
      exp_minus(x, m, p, cols);
      T s = 0;
      for (std::int64_t j = 0; j < cols; ++j) s += p[j];
      const T inv = T(1) / s;
      for (std::int64_t j = 0; j < cols; ++j) p[j] *= inv;
      row_loss[r] = static_cast<double>(m) + std::log(static_cast<double>(s)) - static_cast<double>(x[labels[r]]);
    }
  });
}

// dlogits (B, C) = (probs - onehot(labels)) * scale
template <class T>
void cross_entropy_grad(const T* probs, const std::int64_t* labels, T* out, T scale, std::int64_t rows,
                        std::int64_t cols) {
  par_for(rows, rows_per_block(cols), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* p = probs + r * cols;
      T* o = out + r * cols;
      for (std::int64_t j = 0; j < cols; ++j) o[j] = p[j] * scale;
      o[labels[r]] = (p[labels[r]] - T(1)) * scale;
    }
  });
}

// ---- mse_loss ------------------------------------------------------------------------------
// Sum of (p - t)^2 (p^2 when t is null) over fixed blocks (partial sums in double), then the
// blocks in order.
template <class T>
double sum_squared_errors(const T* p, const T* t, std::int64_t n) {
  const std::int64_t blocks = (n + kElementsPerBlock - 1) / kElementsPerBlock;
  std::vector<double> parts(static_cast<std::size_t>(blocks), 0.0);
  par_for(n, kElementsPerBlock, [&](std::int64_t i0, std::int64_t i1) {
    double s = 0.0;
    if (t == nullptr) {
      for (std::int64_t i = i0; i < i1; ++i) s += static_cast<double>(p[i]) * static_cast<double>(p[i]);
    } else {
      for (std::int64_t i = i0; i < i1; ++i) {
        const double d = static_cast<double>(p[i]) - static_cast<double>(t[i]);
        s += d * d;
      }
    }
    parts[static_cast<std::size_t>(i0 / kElementsPerBlock)] = s;
  });
  return ordered_sum(parts);
}

// out = (p - t) * scale
template <class T>
void scale_differences(const T* p, const T* t, T* out, T scale, std::int64_t n) {
  par_for(n, kElementsPerBlock, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) out[i] = (p[i] - t[i]) * scale;
  });
}

}  // namespace

void cross_entropy_forward(DType dtype, const std::byte* logits, const std::int64_t* labels, std::byte* probs,
                           double* row_loss, std::int64_t rows, std::int64_t cols) {
  dispatch_float(dtype, "cross_entropy", [&]<class T>(TypeTag<T>) {
    cross_entropy_rows(reinterpret_cast<const T*>(logits), labels, reinterpret_cast<T*>(probs), row_loss, rows, cols);
  });
}

void cross_entropy_backward(DType dtype, const std::byte* probs, const std::int64_t* labels, std::byte* dlogits,
                            double scale, std::int64_t rows, std::int64_t cols) {
  dispatch_float(dtype, "cross_entropy", [&]<class T>(TypeTag<T>) {
    cross_entropy_grad(reinterpret_cast<const T*>(probs), labels, reinterpret_cast<T*>(dlogits), static_cast<T>(scale),
                       rows, cols);
  });
}

double nll_sum(DType dtype, const std::byte* log_probs, const std::int64_t* labels, std::int64_t rows,
               std::int64_t cols) {
  return dispatch_float(dtype, "nll_loss", [&]<class T>(TypeTag<T>) {
    const T* lp = reinterpret_cast<const T*>(log_probs);
    double total = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) total -= static_cast<double>(lp[r * cols + labels[r]]);
    return total;
  });
}

void nll_backward(DType dtype, std::byte* out, const std::int64_t* labels, double value, std::int64_t rows,
                  std::int64_t cols) {
  dispatch_float(dtype, "nll_loss", [&]<class T>(TypeTag<T>) {
    T* o = reinterpret_cast<T*>(out);
    for (std::int64_t r = 0; r < rows; ++r) o[r * cols + labels[r]] = static_cast<T>(value);
  });
}

double squared_error_sum(DType dtype, const std::byte* p, const std::byte* t, std::int64_t n) {
  return dispatch_float(dtype, "mse_loss", [&]<class T>(TypeTag<T>) {
    return sum_squared_errors(reinterpret_cast<const T*>(p), reinterpret_cast<const T*>(t), n);
  });
}

void scaled_difference(DType dtype, const std::byte* p, const std::byte* t, std::byte* out, double scale,
                       std::int64_t n) {
  dispatch_float(dtype, "mse_loss", [&]<class T>(TypeTag<T>) {
    scale_differences(reinterpret_cast<const T*>(p), reinterpret_cast<const T*>(t), reinterpret_cast<T*>(out),
                      static_cast<T>(scale), n);
  });
}

}  // namespace dm::cpu
