#pragma once
// autograd::grad that leaves every gradient in a buffer the caller owns (for Model, a view of
// one flat gradient vector), and the backward functions' side of it.
//
// Where a leaf is reached by a single edge, the node behind that edge may write the leaf's
// gradient straight into the buffer (gradient_destination) instead of into fresh memory that
// would then be copied: for a weight, that saves a pass over the largest tensors of the step.
#include <cstddef>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/core/tensor.hpp"

namespace dm::autograd {

/// Like grad(output, inputs, on_ready), but when it returns, and when on_ready(i, g) is
/// called, destinations[i] (contiguous, of inputs[i]'s shape and device; converted to its
/// dtype) holds input i's gradient, and g is destinations[i]. Inputs the output does not
/// reach get zeros.
void grad_into(const Tensor& output, const std::vector<Tensor>& inputs, const std::vector<Tensor>& destinations,
               const GradReadyFn& on_ready = GradReadyFn());

/// For a backward function, while it runs: where the gradient of its input `input` may be
/// written (a contiguous tensor of the input's shape, to be overwritten and then returned as
/// that gradient, if the node computes in its dtype), or an undefined tensor where it must
/// make its own.
Tensor gradient_destination(std::size_t input);

}  // namespace dm::autograd
