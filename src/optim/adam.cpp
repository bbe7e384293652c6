// torch.optim.Adam / AdamW (PyTorch 1.13, single-tensor form), element by element, with
// t = the parameter's step count after this step:
//   AdamW: p = p * (1 - lr * weight_decay)        Adam: g = g + weight_decay * p
//   m = m * beta1 + (1 - beta1) * g
//   v = v * beta2 + (1 - beta2) * g * g
//   p = p + (-lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The bias corrections are computed in double and rounded to the parameter's dtype, as torch
// does with its Python-float scalars.
#include <algorithm>
#include <cmath>
#include <string>

#include "democratising/autograd.hpp"
#include "democratising/error.hpp"
#include "democratising/optim/optimizer.hpp"
#include "optim/update_plan.hpp"

namespace dm::optim {
namespace {

template <class T>
struct AdamScalars {
  T beta1, one_minus_beta1, beta2, one_minus_beta2;
  T weight_decay, decay_factor;
  T neg_step_size, bias_correction2_sqrt, eps;
  bool decoupled;
};

template <class T>
AdamScalars<T> adam_scalars(const AdamOptions& o, bool decoupled, double lr, std::int64_t t) {
  const double bias_correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(t));
  const double bias_correction2 = 1.0 - std::pow(o.beta2, static_cast<double>(t));
  return {static_cast<T>(o.beta1),
          static_cast<T>(1.0 - o.beta1),
          static_cast<T>(o.beta2),
          static_cast<T>(1.0 - o.beta2),
          static_cast<T>(o.weight_decay),
          static_cast<T>(1.0 - lr * o.weight_decay),
          static_cast<T>(-(lr / bias_correction1)),
          static_cast<T>(std::sqrt(bias_correction2)),
          static_cast<T>(o.eps),
          decoupled};
}

// p, g, m, v: (n) contiguous.
template <class T>
void adam_update(T* p, const T* g, T* m, T* v, std::int64_t n, const AdamScalars<T>& s) {
  const bool l2 = !s.decoupled && s.weight_decay != T(0);
  for (std::int64_t i = 0; i < n; ++i) {
    T pi = p[i];
    T gi = g[i];
    if (s.decoupled) pi = pi * s.decay_factor;
    if (l2) gi = gi + s.weight_decay * pi;
    T mi = m[i] * s.beta1;
    mi = mi + s.one_minus_beta1 * gi;
    T vi = v[i] * s.beta2;
    vi = vi + s.one_minus_beta2 * gi * gi;
    const T denom = std::sqrt(vi) / s.bias_correction2_sqrt + s.eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + s.neg_step_size * mi / denom;
  }
}

}  // namespace

Adam::Adam(AdamOptions options, bool decoupled_weight_decay)
    : Optimizer(options.lr), options_(options), decoupled_(decoupled_weight_decay) {
  const char* op = decoupled_ ? "[adamw] " : "[adam] ";
  if (!(options.lr >= 0.0)) throw ValueError(op + std::string("invalid learning rate ") + std::to_string(options.lr));
  if (!(options.eps >= 0.0)) throw ValueError(op + std::string("invalid epsilon ") + std::to_string(options.eps));
  if (!(options.beta1 >= 0.0 && options.beta1 < 1.0))
    throw ValueError(op + std::string("invalid beta1 ") + std::to_string(options.beta1) + " (expected [0, 1))");
  if (!(options.beta2 >= 0.0 && options.beta2 < 1.0))
    throw ValueError(op + std::string("invalid beta2 ") + std::to_string(options.beta2) + " (expected [0, 1))");
  if (!(options.weight_decay >= 0.0))
    throw ValueError(op + std::string("invalid weight decay ") + std::to_string(options.weight_decay));
}

void Adam::bind(const nn::NamedTensors& parameters) {
  Optimizer::bind(parameters);
  m_ = detail::make_state_like(params_);
  v_ = detail::make_state_like(params_);
}

void Adam::step(const std::vector<Tensor>& grads) {
  const char* op = decoupled_ ? "adamw" : "adam";
  detail::check_gradients(params_, grads, op);
  NoGradGuard no_grad;
  const double lr = lr_;
  detail::run_update<2>(op, params_, grads, {&m_, &v_}, param_steps_,
                        [&]<class T>(TypeTag<T>, std::int64_t step, const detail::UpdateView<T, 2>& u, std::int64_t n) {
                          adam_update(u.param, u.grad, u.state[0], u.state[1], n,
                                      adam_scalars<T>(options_, decoupled_, lr, step + 1));
                        });
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (grads[i].defined()) ++param_steps_[i];
  ++steps_;
}

nn::NamedTensors Adam::state() const {
  nn::NamedTensors out{{"step", detail::steps_to_tensor(param_steps_)}};
  for (std::size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("exp_avg." + params_[i].first, m_[i].clone());
    out.emplace_back("exp_avg_sq." + params_[i].first, v_[i].clone());
  }
  return out;
}

void Adam::load_state(const nn::NamedTensors& state) {
  const char* op = decoupled_ ? "adamw" : "adam";
  const auto by_name = detail::index_by_name(state);
  std::vector<std::int64_t> steps = detail::load_steps(by_name, params_.size(), op);
  // Everything is checked before anything changes, so a bad state leaves this one intact.
  std::vector<Tensor> m, v;
  for (const auto& [name, p] : params_) {
    m.push_back(detail::require_state(by_name, "exp_avg." + name, p.shape(), op));
    v.push_back(detail::require_state(by_name, "exp_avg_sq." + name, p.shape(), op));
  }
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    m_[i].copy_(m[i]);
    v_[i].copy_(v[i]);
  }
  param_steps_ = std::move(steps);
  steps_ = param_steps_.empty() ? 0 : *std::max_element(param_steps_.begin(), param_steps_.end());
}

}  // namespace dm::optim
