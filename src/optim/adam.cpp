// torch.optim.Adam / AdamW (PyTorch 1.13, single-tensor form), element by element, with
// t = the parameter's step count after this step:
//   AdamW: p = p * (1 - lr * weight_decay)        Adam: g = g + weight_decay * p
//   m = m * beta1 + (1 - beta1) * g
//   v = v * beta2 + (1 - beta2) * g * g
//   p = p + (-lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The bias corrections are computed in double and rounded to the parameter's dtype, as torch
// does with its Python-float scalars.
#include <algorithm>
#include <string>

#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/optim/optimizer.hpp"
#include "optim/update_plan.hpp"

namespace dm::optim {

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

void Adam::bind(const nn::NamedTensors& parameters, std::shared_ptr<const nn::ParameterLayout> layout) {
  Optimizer::bind(parameters, std::move(layout));
  m_ = detail::make_state_like(params_, layout_.get());
  v_ = detail::make_state_like(params_, layout_.get());
}

void Adam::step(const std::vector<Tensor>& grads) {
  const char* op = decoupled_ ? "adamw" : "adam";
  detail::check_gradients(params_, grads, op);
  NoGradGuard no_grad;
  const double lr = lr_;
  detail::run_update<2>(params_, grads, {&m_, &v_}, param_steps_, [&](std::int64_t step, const detail::UpdateView<2>& u) {
    const backend::AdamStep scalars{lr,       options_.beta1, options_.beta2, options_.eps, options_.weight_decay,
                                    decoupled_, step + 1};
    backend::backend_for(u.device).adam_step(u.dtype, u.param, u.grad, u.state[0], u.state[1], u.numel, scalars);
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
