// Losses with hand-written backward passes: cross_entropy (fused log-softmax + NLL), nll_loss
// and mse_loss. Each returns a 0-d tensor of the input's dtype; means are summed in a fixed
// order in double, so the loss is the same for any thread count.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/functional.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

// (B, C) scores and (B) labels: shapes, dtypes, devices. `what` names the scores argument.
void check_classification(const Tensor& scores, const Tensor& labels, const char* op, const char* what) {
  impl_of(scores, op);
  impl_of(labels, op);
  common_device({&scores, &labels}, op);
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

std::byte* data_of(const Tensor& t) { return static_cast<std::byte*>(t.data_ptr()); }

double ordered_sum(const std::vector<double>& parts) {
  double s = 0.0;
  for (double p : parts) s += p;
  return s;
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
  backend::backend_for(x.device())
      .cross_entropy_forward(x.dtype(), data_of(x), label_values->data(), data_of(probs), row_loss.data(), rows, cols);
  const double mean = rows > 0 ? ordered_sum(row_loss) / static_cast<double>(rows)
                               : std::numeric_limits<double>::quiet_NaN();
  Tensor loss = Tensor::scalar(mean, logits.dtype(), logits.device());
  if (autograd::needs_grad({&logits})) {
    const DType dtype = logits.dtype();
    autograd::record(loss, op, {&logits}, [probs, label_values, rows, cols, dtype](const Tensor& g) {
      Tensor out = Tensor::empty(probs.shape(), probs.dtype(), probs.device());
      const double scale = g.item<double>() / static_cast<double>(rows);
      backend::backend_for(probs.device())
          .cross_entropy_backward(probs.dtype(), data_of(probs), label_values->data(), data_of(out), scale, rows, cols);
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
  const double total =
      backend::backend_for(x.device()).nll_sum(x.dtype(), data_of(x), label_values->data(), rows, cols);
  const double mean = rows > 0 ? total / static_cast<double>(rows) : std::numeric_limits<double>::quiet_NaN();
  Tensor loss = Tensor::scalar(mean, log_probs.dtype(), log_probs.device());
  if (autograd::needs_grad({&log_probs})) {
    const DType dtype = log_probs.dtype();
    autograd::record(loss, op, {&log_probs}, [label_values, rows, cols, dtype](const Tensor& g) {
      // dlog_probs (B, C): -g/B at each row's label, zero elsewhere.
      const DType cd = detail::compute_dtype(dtype);
      Tensor out = Tensor::zeros({rows, cols}, cd, g.device());
      const double value = -g.item<double>() / static_cast<double>(rows);
      backend::backend_for(out.device()).nll_backward(cd, data_of(out), label_values->data(), value, rows, cols);
      return std::vector<Tensor>{out.to(dtype)};
    });
  }
  return loss;
}

Tensor mse_loss(const Tensor& prediction, const Tensor& target) {
  constexpr const char* op = "mse_loss";
  impl_of(prediction, op);
  impl_of(target, op);
  common_device({&prediction, &target}, op);
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
  total = backend::backend_for(p.device()).squared_error_sum(p.dtype(), data_of(p), data_of(t), n);
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
        backend::backend_for(p.device()).scaled_difference(p.dtype(), data_of(p), data_of(t), data_of(out), s, n);
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
