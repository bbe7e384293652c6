#include "gpu_replica.hpp"

#include "democratising/autograd/autograd.hpp"

namespace dm::cli {

GpuReplica::GpuReplica(Model& model, Device device) : model_(model) {
  if (device.is_cpu()) return;
  home_ = model.module().named_parameters();
  for (const auto& [name, home] : home_) placed_.emplace_back(name, home.detach().to(device).detach());
  for (const auto& [name, placed] : placed_) model.module().replace_parameter(name, placed);
  placed_ = model.module().named_parameters();  // the leaves the module now holds
  model.optimizer().bind(placed_);
}

GpuReplica::~GpuReplica() {
  if (placed_.empty()) return;
  try {
    swap_in(true);
    model_.optimizer().bind(home_, model_.parameter_layout());
  } catch (...) {
    // A destructor must not throw; the copies only fail when the device has failed.
  }
}

void GpuReplica::swap_in(bool host) {
  if (placed_.empty()) return;
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < home_.size(); ++i) {
    const auto& [name, home] = home_[i];
    if (host) {
      home.detach().copy_(placed_[i].second.detach().to(home.device()));
      model_.module().replace_parameter(name, home);
    } else {
      model_.module().replace_parameter(name, placed_[i].second);
    }
  }
}

}  // namespace dm::cli
