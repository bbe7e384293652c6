#include "democratising/optim/optimizer.hpp"

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "optim/update_plan.hpp"

namespace dm::optim {

void Optimizer::bind(const nn::NamedTensors& parameters, std::shared_ptr<const nn::ParameterLayout> layout) {
  detail::check_parameters(parameters, "optimizer");
  if (layout) {
    bool same = layout->size() == parameters.size();
    for (std::size_t i = 0; same && i < parameters.size(); ++i)
      same = (*layout)[i].name == parameters[i].first && (*layout)[i].shape == parameters[i].second.shape() &&
             parameters[i].second.dtype() == layout->dtype();
    if (!same) throw ValueError("[optimizer] the parameter layout does not describe the parameters being bound");
  }
  params_ = parameters;
  layout_ = std::move(layout);
  steps_ = 0;
  param_steps_.assign(params_.size(), 0);
}

void Optimizer::step() {
  std::vector<Tensor> grads;
  grads.reserve(params_.size());
  for (const auto& named : params_) grads.push_back(named.second.grad());
  step(grads);
}

void Optimizer::zero_grad() {
  for (const auto& named : params_) named.second.set_grad(Tensor());
}

std::shared_ptr<Optimizer> make_optimizer(const std::string& name, double lr, double momentum) {
  if (name == "sgd") return std::make_shared<SGD>(SGDOptions{.lr = lr, .momentum = momentum});
  if (name == "adam") return std::make_shared<Adam>(AdamOptions{.lr = lr});
  if (name == "adamw") {
    AdamOptions options;
    options.lr = lr;
    options.weight_decay = 0.01;  // torch.optim.AdamW's default
    return std::make_shared<AdamW>(options);
  }
  throw ValueError("[make_optimizer] unknown optimizer '" + name + "' (expected sgd, adam or adamw)");
}

}  // namespace dm::optim
