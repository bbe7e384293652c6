// Losses with hand-written backward passes: cross_entropy (fused log-softmax + NLL), nll_loss
// and mse_loss. Each returns a 0-d tensor of the input's dtype; means are summed in a fixed
// order in double, so the loss is the same for any thread count.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/cpu/softmax_exp.hpp"
#include "core/dispatch.hpp"
#include "democratising/autograd.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/runtime.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

constexpr std::int64_t kElementsPerBlock = 1 << 15;

std::int64_t rows_per_block(std::int64_t cols) {
  return std::max<std::int64_t>(1, kElementsPerBlock / std::max<std::int64_t>(cols, 1));
}

// (B, C) scores and (B) labels: shapes, dtypes, devices. `what` names the scores argument.
void check_classification(const Tensor& scores, const Tensor& labels, const char* op, const char* what) {
  impl_of(scores, op);
  impl_of(labels, op);
  detail::require_cpu({&scores, &labels}, op);
  if (scores.dim() != 2)
    throw ShapeError(std::string("[") + op + "] " + what + " must be 2-d (B, C), got shape " + scores.shape().str());
  if (labels.dim() != 1 || labels.size(0) != scores.size(0))
    throw ShapeError(std::string("[") + op + "] " + what + " " + scores.shape().str() + " vs labels " +
                     labels.shape().str() + ": labels must have shape " + Shape{scores.size(0)}.str());
  detail::require_floating(scores, op, what);
  detail::require_labels(labels, op);
}

// The labels as i64, each checked to lie in [0, classes).
std::vector<std::int64_t> read_labels(const Tensor& labels, std::int64_t classes, const char* op) {
  std::vector<std::int64_t> out = labels.to_vector<std::int64_t>();
  for (std::size_t i = 0; i < out.size(); ++i)
    if (out[i] < 0 || out[i] >= classes)
      throw ValueError(std::string("[") + op + "] label " + std::to_string(out[i]) + " at index " + std::to_string(i) +
                       " is outside [0, " + std::to_string(classes) + ")");
  return out;
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
      cpu::exp_minus(x, m, p, cols);
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
// Sum of (p - t)^2 over fixed blocks (partial sums in double), then the blocks in order.
template <class T>
double squared_error_sum(const T* p, const T* t, std::int64_t n) {
  const std::int64_t blocks = (n + kElementsPerBlock - 1) / kElementsPerBlock;
  std::vector<double> parts(static_cast<std::size_t>(blocks), 0.0);
  par_for(n, kElementsPerBlock, [&](std::int64_t i0, std::int64_t i1) {
    double s = 0.0;
    for (std::int64_t i = i0; i < i1; ++i) {
      const double d = static_cast<double>(p[i]) - static_cast<double>(t[i]);
      s += d * d;
    }
    parts[static_cast<std::size_t>(i0 / kElementsPerBlock)] = s;
  });
  return ordered_sum(parts);
}

// out = (p - t) * scale
template <class T>
void scaled_difference(const T* p, const T* t, T* out, T scale, std::int64_t n) {
  par_for(n, kElementsPerBlock, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) out[i] = (p[i] - t[i]) * scale;
  });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  constexpr const char* op = "cross_entropy";
  check_classification(logits, labels, op, "logits");
  const std::int64_t rows = logits.size(0), cols = logits.size(1);
  if (cols == 0 && rows > 0) throw ShapeError("[cross_entropy] logits " + logits.shape().str() + " have no classes");
  auto label_values = std::make_shared<const std::vector<std::int64_t>>(read_labels(labels, cols, op));
  const Tensor x = detail::compute_view(logits);
  Tensor probs = Tensor::empty(x.shape(), x.dtype(), x.device());
  std::vector<double> row_loss(static_cast<std::size_t>(rows));
  dispatch_float(x.dtype(), op, [&]<class T>(TypeTag<T>) {
    cross_entropy_rows(x.data<T>(), label_values->data(), probs.data<T>(), row_loss.data(), rows, cols);
  });
  const double mean = rows > 0 ? ordered_sum(row_loss) / static_cast<double>(rows)
                               : std::numeric_limits<double>::quiet_NaN();
  Tensor loss = Tensor::scalar(mean, logits.dtype(), logits.device());
  if (autograd::needs_grad({&logits})) {
    const DType dtype = logits.dtype();
    autograd::record(loss, op, {&logits}, [probs, label_values, rows, cols, dtype](const Tensor& g) {
      Tensor out = Tensor::empty(probs.shape(), probs.dtype(), probs.device());
      const double scale = g.item<double>() / static_cast<double>(rows);
      dispatch_float(probs.dtype(), "cross_entropy", [&]<class T>(TypeTag<T>) {
        cross_entropy_grad(probs.data<T>(), label_values->data(), out.data<T>(), static_cast<T>(scale), rows, cols);
      });
      return std::vector<Tensor>{out.to(dtype)};
    });
  }
  return loss;
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& labels) {
  constexpr const char* op = "nll_loss";
  check_classification(log_probs, labels, op, "log_probs");
  const std::int64_t rows = log_probs.size(0), cols = log_probs.size(1);
  auto label_values = std::make_shared<const std::vector<std::int64_t>>(read_labels(labels, cols, op));
  const Tensor x = detail::compute_view(log_probs);
  double total = 0.0;
  dispatch_float(x.dtype(), op, [&]<class T>(TypeTag<T>) {
    const T* lp = x.data<T>();
    for (std::int64_t r = 0; r < rows; ++r) total -= static_cast<double>(lp[r * cols + (*label_values)[r]]);
  });
  const double mean = rows > 0 ? total / static_cast<double>(rows) : std::numeric_limits<double>::quiet_NaN();
  Tensor loss = Tensor::scalar(mean, log_probs.dtype(), log_probs.device());
  if (autograd::needs_grad({&log_probs})) {
    const DType dtype = log_probs.dtype();
    autograd::record(loss, op, {&log_probs}, [label_values, rows, cols, dtype](const Tensor& g) {
      // dlog_probs (B, C): -g/B at each row's label, zero elsewhere.
      const DType cd = detail::compute_dtype(dtype);
      Tensor out = Tensor::zeros({rows, cols}, cd, g.device());
      const double value = -g.item<double>() / static_cast<double>(rows);
      dispatch_float(cd, "nll_loss", [&]<class T>(TypeTag<T>) {
        T* o = out.data<T>();
        for (std::int64_t r = 0; r < rows; ++r) o[r * cols + (*label_values)[r]] = static_cast<T>(value);
      });
      return std::vector<Tensor>{out.to(dtype)};
    });
  }
  return loss;
}

Tensor mse_loss(const Tensor& prediction, const Tensor& target) {
  constexpr const char* op = "mse_loss";
  impl_of(prediction, op);
  impl_of(target, op);
  detail::require_cpu({&prediction, &target}, op);
  if (prediction.shape() != target.shape())
    throw ShapeError("[mse_loss] prediction " + prediction.shape().str() + " vs target " + target.shape().str() +
                     ": shapes must match");
  detail::require_floating(prediction, op, "prediction");
  if (prediction.dtype() != target.dtype())
    throw DTypeError("[mse_loss] prediction " + std::string(dtype_name(prediction.dtype())) + " vs target " +
                     std::string(dtype_name(target.dtype())) + ": dtypes must match");
  const std::int64_t n = prediction.numel();
  const Tensor p = detail::compute_view(prediction);
  const Tensor t = detail::compute_view(target);
  double total = 0.0;
  dispatch_float(p.dtype(), op, [&]<class T>(TypeTag<T>) { total = squared_error_sum(p.data<T>(), t.data<T>(), n); });
  const double mean = n > 0 ? total / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
  Tensor loss = Tensor::scalar(mean, prediction.dtype(), prediction.device());
  if (autograd::needs_grad({&prediction, &target})) {
    const bool need_p = prediction.requires_grad(), need_t = target.requires_grad();
    const DType dtype = prediction.dtype();
    autograd::record(loss, op, {&prediction, &target}, [p, t, n, need_p, need_t, dtype](const Tensor& g) {
      // dprediction = 2 (p - t) g / n,  dtarget = -dprediction
      const double scale = 2.0 * g.item<double>() / static_cast<double>(n);
      auto scaled = [&](double s) {
        Tensor out = Tensor::empty(p.shape(), p.dtype(), p.device());
        dispatch_float(p.dtype(), "mse_loss", [&]<class T>(TypeTag<T>) {
          scaled_difference(p.data<T>(), t.data<T>(), out.data<T>(), static_cast<T>(s), n);
        });
        return out.to(dtype);
      };
      std::vector<Tensor> grads(2);
      if (need_p) grads[0] = scaled(scale);
      if (need_t) grads[1] = scaled(-scale);
      return grads;
    });
  }
  return loss;
}

}  // namespace dm::nn
