// nn::Residual: x + body(x), with the shapes checked so that a body that changes them is named
// instead of being broadcast into a sum of the wrong shape.
#include "democratising/nn/residual.hpp"

#include "democratising/base/error.hpp"

namespace dm::nn {

Residual::Residual(std::shared_ptr<Module> body) : body_(std::move(body)) {
  if (!body_) throw ValueError("[Residual] the body is null");
  register_module("body", body_);
}

Tensor Residual::forward(const Tensor& x) const {
  const Tensor y = body_->forward(x);
  if (y.shape() != x.shape())
    throw ShapeError("[Residual] the body " + body_->name() + " maps an input of shape " + x.shape().str() +
                     " to " + y.shape().str() + ": x + body(x) needs the body to keep the shape");
  return x + y;
}

std::string Residual::name() const { return "Residual(" + body_->name() + ")"; }

}  // namespace dm::nn
