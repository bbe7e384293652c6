#include "democratising/optim/optimizer.hpp"

#include "democratising/autograd.hpp"
#include "democratising/error.hpp"
#include "optim/update_plan.hpp"

namespace dm::optim {

void Optimizer::bind(const nn::NamedTensors& parameters) {
  detail::check_parameters(parameters, "optimizer");
  params_ = parameters;
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
