// torch.optim.SGD (PyTorch 1.13, single-tensor form), element by element:
//   d = g + weight_decay * p
//   buf = d on a parameter's first step, else buf * momentum + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf
//   p = p + (-lr) * d
// Scalars are rounded to the parameter's dtype first, as torch does for a float tensor; the
// element loop is the backend's sgd_step.
#include <algorithm>
#include <string>

#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/optim/optimizer.hpp"
#include "optim/update_plan.hpp"

namespace dm::optim {
namespace {

backend::SgdStep sgd_step_of(const SGDOptions& o, double lr, bool first) {
  return {lr, o.momentum, o.dampening, o.weight_decay, o.nesterov, first};
}

}  // namespace

SGD::SGD(SGDOptions options) : Optimizer(options.lr), options_(options) {
  if (!(options.lr >= 0.0)) throw ValueError("[sgd] invalid learning rate " + std::to_string(options.lr));
  if (!(options.momentum >= 0.0)) throw ValueError("[sgd] invalid momentum " + std::to_string(options.momentum));
  if (!(options.weight_decay >= 0.0))
    throw ValueError("[sgd] invalid weight decay " + std::to_string(options.weight_decay));
  if (options.nesterov && (options.momentum <= 0.0 || options.dampening != 0.0))
    throw ValueError("[sgd] Nesterov momentum requires a momentum > 0 and zero dampening (momentum " +
                     std::to_string(options.momentum) + ", dampening " + std::to_string(options.dampening) + ")");
}

void SGD::bind(const nn::NamedTensors& parameters, std::shared_ptr<const nn::ParameterLayout> layout) {
  Optimizer::bind(parameters, std::move(layout));
  momentum_ = options_.momentum != 0.0 ? detail::make_state_like(params_, layout_.get()) : std::vector<Tensor>{};
}

void SGD::step(const std::vector<Tensor>& grads) {
  detail::check_gradients(params_, grads, "sgd");
  NoGradGuard no_grad;
  const double lr = lr_;
  if (options_.momentum == 0.0) {
    detail::run_update<0>(params_, grads, {}, param_steps_, [&](std::int64_t, const detail::UpdateView<0>& v) {
      backend::backend_for(v.device).sgd_step(v.dtype, v.param, v.grad, nullptr, v.numel, sgd_step_of(options_, lr, false));
    });
  } else {
    detail::run_update<1>(params_, grads, {&momentum_}, param_steps_,
                          [&](std::int64_t step, const detail::UpdateView<1>& v) {
                            backend::backend_for(v.device)
                                .sgd_step(v.dtype, v.param, v.grad, v.state[0], v.numel,
                                          sgd_step_of(options_, lr, step == 0));
                          });
  }
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (grads[i].defined()) ++param_steps_[i];
  ++steps_;
}

nn::NamedTensors SGD::state() const {
  nn::NamedTensors out{{"step", detail::steps_to_tensor(param_steps_)}};
  for (std::size_t i = 0; i < momentum_.size(); ++i)
    out.emplace_back("momentum_buffer." + params_[i].first, momentum_[i].clone());
  return out;
}

void SGD::load_state(const nn::NamedTensors& state) {
  const auto by_name = detail::index_by_name(state);
  std::vector<std::int64_t> steps = detail::load_steps(by_name, params_.size(), "sgd");
  // Everything is checked before anything changes, so a bad state leaves this one intact.
  std::vector<Tensor> buffers;
  for (std::size_t i = 0; i < momentum_.size(); ++i)
    buffers.push_back(detail::require_state(by_name, "momentum_buffer." + params_[i].first, params_[i].second.shape(), "sgd"));
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < buffers.size(); ++i) momentum_[i].copy_(buffers[i]);
  param_steps_ = std::move(steps);
  steps_ = param_steps_.empty() ? 0 : *std::max_element(param_steps_.begin(), param_steps_.end());
}

}  // namespace dm::optim
