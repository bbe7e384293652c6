#pragma once
// The one training step every trainer shares (Model, DataParallel, the DDP trainer and,
// for its loss, ModelParallel): forward, loss, the checks, backward into a gradient block laid
// out by the model's ParameterLayout; the weight of a shard in its batch; what to do with a
// step whose loss or gradient is not finite; and the gradient clipping before an update.
//
// Shards are weighted by their size: a shard of n samples out of a batch of N contributes
// (n / N) * its mean-loss gradient, so any split of a batch, over threads or ranks, equal or
// not, sums to the full batch's mean-loss gradient (up to rounding), for any loss that is a
// mean over the samples, such as cross_entropy and mse_loss. That holds only while each
// sample's loss depends on that sample alone: a module that uses_batch_statistics() (batch norm
// in training mode) must see its batch in one call, so DataParallel runs it as one shard, and
// the DDP trainer shares its statistics between the ranks (nn/batch_statistics.hpp).
#include <cstdint>
#include <functional>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/model/model.hpp"

namespace dm::detail {

/// A fresh gradient block in `layout` (left for backward to fill) and its views by name.
Gradients gradient_block(const std::shared_ptr<const nn::ParameterLayout>& layout, Device device = Device::cpu());

/// What a trainer adds to the plain step.
struct StepHooks {
  /// Backward runs on loss * loss_scale (the DDP trainer's shard size: the gradient of the
  /// shard's summed loss, which the ranks add up and divide by the global batch).
  double loss_scale = 1.0;
  /// Called with the (unscaled, detached) loss after the checks, before backward.
  std::function<void(const Tensor& loss)> after_loss;
  /// Passed to backward: called as each parameter's gradient becomes final.
  autograd::GradReadyFn on_ready;
};

/// Forward of `module` on x (recording the graph whatever the thread's grad mode), the loss
/// against y, then backward into `into` (views of one block, in `parameters`' order): when it
/// returns, and when hooks.on_ready(i, g) is called, into[i] holds parameter i's gradient.
/// Returns the loss, detached. ShapeError when the loss is not one value, ValueError when it
/// does not depend on any parameter; `op` names the caller in both.
Tensor gradient_step(const nn::Module& module, const LossFn& loss_fn, const std::vector<Tensor>& parameters,
                     const Tensor& x, const Tensor& y, const std::vector<Tensor>& into, const char* op,
                     const StepHooks& hooks = {});

/// The loss checks alone, for a trainer that runs its own backward (the pipeline's last stage).
void check_loss(const Tensor& loss, const char* op);

/// n / batch: the weight of a shard of n samples, rounded to `dtype` (the gradients') once,
/// here, so the gradients and the loss of every trainer are weighted by the very same number.
double shard_weight(std::int64_t n, std::int64_t batch, DType dtype);

/// The clipping every trainer applies before its update (ModelOptions::clip_grad_norm): scales
/// `gradients` in place so that their global L2 norm is at most max_norm; 0 turns it off. It
/// runs on the gradient the optimizer steps with (after any reduction over shards or ranks, and
/// after admit_step), as torch.nn.utils.clip_grad_norm_ runs between backward and step.
void clip_for_update(const std::vector<Tensor>& gradients, double max_norm);

/// Whether a step with this loss and these gradients may be applied: true when all are finite;
/// otherwise NonFiniteStepError naming `op` (policy raise) or false (skip). One NaN applied to
/// the parameters spreads to every parameter it reaches at the next step and stays there, so
/// the check runs before the update, while the parameters are still as good as they were.
bool admit_step(const Tensor& loss, const std::vector<Tensor>& gradients, NonFinitePolicy policy, const char* op);

}  // namespace dm::detail
