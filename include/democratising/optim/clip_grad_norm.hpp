#pragma once
// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2) does it:
// the gradients, taken together as one vector, are scaled by max_norm / (norm + 1e-6) when
// their L2 norm exceeds max_norm. The step keeps its direction and only its length is bounded,
// which keeps one outlier batch from throwing a run off course.
//
//   dm::Gradients grads = model.compute_gradients(x, y);
//   double norm = dm::optim::clip_grad_norm(grads, 1.0);  // the norm before clipping
//   model.apply_gradients(grads);
//
// A Model does this itself before every update when ModelOptions::clip_grad_norm is set.
#include <concepts>
#include <vector>

#include "democratising/core/tensor.hpp"

namespace dm::optim {

/// Scales the gradient block `flat` (f32 or f64, contiguous or not, on any device) in place so
/// that its L2 norm is at most `max_norm`, and returns its norm before clipping. The norm is
/// one pass over the block, summed in f64. ValueError for a max_norm that is not positive and
/// finite, and for a norm that is NaN or infinite (the gradients are then left untouched: a
/// diverged step must be noticed, never scaled into a plausible one).
double clip_grad_norm(const Tensor& flat, double max_norm);

/// The same over several tensors taken together as one vector (e.g. a pipeline's stages, each
/// on its own device); undefined entries (parameters without a gradient) are skipped.
double clip_grad_norm(const std::vector<Tensor>& grads, double max_norm);

/// The same on a dm::Gradients (or anything with its `flat` block and `tensors` views): one pass
/// over `flat` when it is defined, else over the named tensors. A template so that optim, a
/// layer below the one that defines Gradients, needs nothing from it.
template <class Grads>
  requires requires(const Grads& g) {
    { g.flat } -> std::convertible_to<const Tensor&>;
    g.tensors.begin()->second;
  }
double clip_grad_norm(const Grads& grads, double max_norm) {
  if (grads.flat.defined()) return clip_grad_norm(grads.flat, max_norm);
  std::vector<Tensor> views;
  views.reserve(grads.tensors.size());
  for (const auto& named : grads.tensors) views.push_back(named.second);
  return clip_grad_norm(views, max_norm);
}

}  // namespace dm::optim
