#pragma once
// What an op calls to make itself differentiable:
//
//   Tensor out = ...compute...;
//   if (autograd::needs_grad({&a, &b}))
//     autograd::record(out, "mul", {&a, &b}, [a, b](const Tensor& g) {
//       return std::vector<Tensor>{g * b, g * a};
//     });
//
// The backward function runs with recording off and returns one gradient per input, in the
// input's shape (use reduce_to_shape after broadcasting), or an undefined tensor for none.
#include <initializer_list>
#include <vector>

#include "node.hpp"

namespace dm::autograd {

/// Recording is on for this thread and some input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);

/// Attaches a new node to `out` (which must be fresh, not yet shared with another thread).
void record(Tensor& out, const char* name, std::initializer_list<const Tensor*> inputs, BackwardFn backward);
/// record() for ops with a variable number of inputs (cat, stack).
void record_many(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn backward);
/// needs_grad() for a list.
bool needs_grad_any(const std::vector<Tensor>& inputs);

/// Sums a broadcast gradient back down to `shape` (the inverse of broadcasting).
Tensor reduce_to_shape(const Tensor& grad, const Shape& shape);

}  // namespace dm::autograd
