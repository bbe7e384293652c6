// The checks every in-place write makes, and the version bump it owes the engine.
#include "version.hpp"

#include <string>

#include "core/tensor_impl.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"

namespace dm::autograd {

void prepare_inplace(const Tensor& self, const char* op, const Tensor* source) {
  const TensorImpl& im = impl_of(self, op);
  if (is_grad_enabled()) {
    // A recorded view of a leaf shares its memory: writing it changes the parameter too.
    if (self.requires_grad() && (self.is_leaf() || im.storage->holds_grad_leaf()))
      throw ValueError(std::string("[") + op + "] " + (self.is_leaf() ? "a leaf" : "a view of a leaf") + " of shape " +
                       im.shape.str() + " that requires grad cannot be changed in place while gradients are recorded; "
                       "update it under dm::NoGradGuard (as optimizers do), or work on a clone()");
    if (source && source->defined() && source->requires_grad())
      throw ValueError(std::string("[") + op + "] the operand of shape " + source->shape().str() +
                       " requires grad, but in-place ops are not recorded and its gradient would be lost; "
                       "use the out-of-place form");
  }
  im.storage->bump_version();
}

void bump_version(const Tensor& t) { impl_of(t, "bump_version").storage->bump_version(); }

}  // namespace dm::autograd
