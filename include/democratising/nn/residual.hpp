#pragma once
// nn::Residual: a skip connection around a body of layers, y = x + body(x) (He et al., "Deep
// Residual Learning", 2016). The sum gives the gradient a path around the body, which is what
// lets deep stacks of such blocks train.
//
//   auto block = dm::nn::Residual(dm::nn::Sequential().add(dm::nn::Dense(64, 64)).add(dm::nn::ReLU()));
//   dm::nn::Sequential().add(dm::nn::Dense(784, 64)).add(block).add(dm::nn::Dense(64, 10));
#include <concepts>
#include <memory>
#include <string>
#include <utility>

#include "democratising/nn/module.hpp"

namespace dm::nn {

/// x + body(x), with the body registered as the child "body" (its parameters are named
/// "body.<name>"). The body must give an output of its input's shape: a ShapeError naming both
/// shapes otherwise (a projection on the skip path is a Module of one's own).
class Residual : public Module {
 public:
  /// A skip connection around `body` (ValueError for a null one). The body may be shared.
  explicit Residual(std::shared_ptr<Module> body);
  /// A skip connection around a copy of `body`, e.g. a Sequential built in place.
  template <std::derived_from<Module> M>
  explicit Residual(M body) : Residual(std::make_shared<M>(std::move(body))) {}

  Tensor forward(const Tensor& x) const override;
  /// "Residual(" + the body's name + ")".
  std::string name() const override;
  /// The body.
  const Module& body() const { return *body_; }

 private:
  std::shared_ptr<Module> body_;
};

}  // namespace dm::nn
