// The shared training step: forward, loss, checks, backward into the layout's gradient block.
#include "model/gradient_step.hpp"

#include <string>

#include "autograd/grad_into.hpp"
#include "democratising/base/error.hpp"
#include "democratising/ops/finite.hpp"
#include "democratising/optim/clip_grad_norm.hpp"

namespace dm::detail {

Gradients gradient_block(const std::shared_ptr<const nn::ParameterLayout>& layout, Device device) {
  Gradients grads;
  grads.layout = layout;
  // Uninitialised: grad_into writes every element (zeros where the loss does not reach).
  grads.flat = layout->allocate_for_overwrite(device);
  grads.tensors = layout->named_views(grads.flat);
  return grads;
}

void check_loss(const Tensor& loss, const char* op) {
  if (loss.numel() != 1)
    throw ShapeError(std::string("[") + op + "] the loss must be one value, got shape " + loss.shape().str());
  if (!loss.requires_grad())
    throw ValueError(std::string("[") + op + "] the loss " + loss.shape().str() + " does not depend on any parameter");
}

Tensor gradient_step(const nn::Module& module, const LossFn& loss_fn, const std::vector<Tensor>& parameters,
                     const Tensor& x, const Tensor& y, const std::vector<Tensor>& into, const char* op,
                     const StepHooks& hooks) {
  EnableGradGuard recording;
  const Tensor value = loss_fn(module.forward(x), y);
  check_loss(value, op);
  const Tensor loss = value.detach();
  if (hooks.after_loss) hooks.after_loss(loss);
  autograd::grad_into(hooks.loss_scale == 1.0 ? value : value * hooks.loss_scale, parameters, into, hooks.on_ready);
  return loss;
}

double shard_weight(std::int64_t n, std::int64_t batch, DType dtype) {
  const double w = static_cast<double>(n) / static_cast<double>(batch);
  return dtype == DType::f64 ? w : static_cast<double>(static_cast<float>(w));
}

void clip_for_update(const std::vector<Tensor>& gradients, double max_norm) {
  if (max_norm > 0.0) optim::clip_grad_norm(gradients, max_norm);
}


bool admit_step(const Tensor& loss, const std::vector<Tensor>& gradients, NonFinitePolicy policy, const char* op) {
  const bool loss_finite = all_finite(loss);
  bool finite = loss_finite;
  for (const Tensor& g : gradients) finite = finite && (!g.defined() || all_finite(g));
  if (finite) return true;
  if (policy == NonFinitePolicy::skip) return false;
  throw NonFiniteStepError(std::string("[") + op + "] " +
                           (loss_finite ? "a gradient is not finite (NaN or infinity)"
                                        : "the loss is " + std::to_string(loss.item<double>())) +
                           ": training diverged (a smaller learning rate may help); the step was not applied");
}

}  // namespace dm::detail
