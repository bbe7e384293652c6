#pragma once
// Reverse-mode automatic differentiation, define-by-run.
//
// Each differentiable op records a node that points at its inputs' nodes; the graph lives with
// the tensors that the forward pass made, on the thread that made them, so threads never share
// a graph and a graph is freed when its last tensor goes. Parameters are leaves:
// `w.set_requires_grad()`. `loss.backward()` accumulates into each leaf's `grad()`;
// `dm::autograd::grad(loss, params)` returns the gradients instead, touching no shared state,
// which is what several threads training one model at once use.
//
// In-place ops are not recorded. Instead every storage counts its in-place writes (its
// version(), shared by all views), each node notes the versions of what its backward will
// read, and a backward pass checks them before it starts: a value changed after the graph
// read it makes the pass throw a ValueError naming the op, the shape and both versions, and
// no grad() changes. While gradients are recorded, a leaf that requires grad (or a view of
// one) cannot be written in place at all: parameters are updated under NoGradGuard. The rule
// for an update between a graph's forward and its backward (Hogwild training) follows: each
// read is differentiated at the values it saw, so a backward that reads no updated value
// returns the stale gradient, and one that would read an updated value throws.
//
// backward() spends the graph it runs through (its saved values are freed as it goes); a
// second pass throws unless the first was `backward({.retain_graph = true})`.
#include <functional>
#include <string>
#include <vector>

#include "democratising/core/tensor.hpp"

namespace dm {

/// Whether ops on this thread record the graph (default true).
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

/// Sets recording on this thread for its lifetime, and restores the previous mode after.
class GradModeGuard {
 public:
  /// Sets recording to `enabled` until the guard ends.
  explicit GradModeGuard(bool enabled) : previous_(is_grad_enabled()) { set_grad_enabled(enabled); }
  ~GradModeGuard() { set_grad_enabled(previous_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

/// Turns recording off on this thread for its lifetime (evaluation, optimizer updates).
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

/// Turns recording on for its lifetime, whatever the caller's mode: computing gradients
/// inside a NoGradGuard (a trainer called from evaluation code, say) still needs the graph.
class EnableGradGuard : public GradModeGuard {
 public:
  EnableGradGuard() : GradModeGuard(true) {}
};

namespace autograd {

/// Gradients of `output` (a one-element tensor, or with `grad_output` of its shape) with respect
/// to `inputs` (tensors that require grad). An input the output does not depend on gets a zero
/// tensor. Nothing is written into any tensor's grad().
std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs, const Tensor& grad_output = Tensor());

/// Called with an input's index and its gradient as soon as that gradient is final.
using GradReadyFn = std::function<void(std::size_t input, const Tensor& gradient)>;

/// grad(), calling `on_ready` for each input the moment no part of the backward pass still to
/// run can add to its gradient (on the calling thread, while the rest of the pass goes on), so
/// that work on early gradients, such as sending them to other processes, overlaps the pass.
/// Every input is reported exactly once; those the output does not reach, at the end, with zeros.
std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs, const GradReadyFn& on_ready,
                         const Tensor& grad_output = Tensor());

/// What gradcheck found.
struct GradcheckResult {
  /// Whether every element agreed within the tolerances.
  bool ok = false;
  /// The largest difference between the analytic and the numeric gradient.
  double max_abs_error = 0.0;
  std::string message;  ///< which input and element disagreed, when !ok
};

/// Compares the analytic gradient of sum(f(inputs) * v) (v fixed and random) with central
/// differences, for every element of every input. Inputs must be f64 and require grad.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                          double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3);

}  // namespace autograd
}  // namespace dm
