#pragma once
// In-place writes and autograd. Every write into existing memory goes through one of these,
// so that the storage's version counter counts it and the engine can refuse a backward pass
// whose saved values changed under it (see node.hpp for what a node records).
//
// The rule, which also governs concurrent (Hogwild) training: backward differentiates each
// read of a tensor at the values that read saw, and throws rather than use values that
// changed after the forward pass read them. A parameter update under the model's write lock
// bumps the parameters' version like any in-place op; for a graph whose forward finished
// before the update and whose backward runs after it:
//   - if its backward reads a parameter that changed (a weight that multiplies an input
//     requiring grad, say), the pass throws: it would mix the forward's old values with the
//     new ones and return the gradient of neither;
//   - if its backward reads only values the update left alone (the first layer's weight
//     gradient needs the input, not the weight), the pass runs and returns the gradient at the
//     values the forward saw: the stale gradient asynchronous SGD expects, not a wrong one.
// A graph recorded after the update saved the new versions and is not affected. Model holds
// the read lock from forward to the end of backward, so its own steps never meet either case.
// What backward reads is what each op's gradient rule declares (BackwardFn in node.hpp); a
// node recorded with a bare function, as the fused nn layers are, counts as reading all its
// inputs, so an update of its weight refuses the pass even where the rule would not need it.
#include "democratising/core/tensor.hpp"

namespace dm::autograd {

/// Called by every in-place op on `self` before it writes. While grad mode is on, throws
/// ValueError naming `op` when `self` is a leaf that requires grad, or a recorded view of one
/// (an update must be made under NoGradGuard), or when `source` (the other operand, if any)
/// requires grad: in-place ops are not recorded, so its gradient would silently go missing.
/// Then bumps the version of self's storage.
void prepare_inplace(const Tensor& self, const char* op, const Tensor* source = nullptr);

/// Bumps the version of t's storage: for writes that bypass the in-place ops (optimizer
/// kernels and parameter updates writing through raw pointers).
void bump_version(const Tensor& t);

}  // namespace dm::autograd
