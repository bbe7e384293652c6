#pragma once
// Sequential: layers applied in order, built with
//   auto model = dm::nn::Sequential().add(dm::nn::Dense(784, 128)).add(dm::nn::ReLU())
//                    .add(dm::nn::Dense(128, 10)).build();
// build() returns a dm::Model (cross-entropy loss, SGD with momentum unless told otherwise)
// whose parameters live in one contiguous buffer.
#include <concepts>
#include <memory>
#include <string>
#include <vector>

#include "democratising/nn/module.hpp"

namespace dm {
class Model;
struct ModelOptions;
}  // namespace dm

namespace dm::nn {

/// Layers applied in order, built with add() and finished with build() (see the file comment).
class Sequential : public Module {
 public:
  Sequential() = default;

  /// @name Adding layers
  //@{
  /// Appends a copy of `layer` (a Module) and returns this Sequential, for chaining.
  template <std::derived_from<Module> M>
  Sequential& add(M layer) & {
    return add_shared(std::make_shared<M>(std::move(layer)));
  }
  template <std::derived_from<Module> M>
  Sequential&& add(M layer) && {
    add_shared(std::make_shared<M>(std::move(layer)));
    return std::move(*this);
  }
  //@}
  /// Appends a layer that others may share.
  Sequential& add_shared(std::shared_ptr<Module> layer);

  Tensor forward(const Tensor& x) const override;
  std::string name() const override;
  /// The number of layers.
  std::size_t size() const { return layers_.size(); }
  /// Layer i.
  const std::shared_ptr<Module>& operator[](std::size_t i) const { return layers_[i]; }

  /// @name Finishing
  //@{
  /// Finishes the network: flattens its parameters and wraps it in a Model (with `options`,
  /// or cross-entropy and SGD).
  Model build(const ModelOptions& options) &&;
  Model build() &&;
  //@}

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

/// Parses "mlp:784-128-10" (Dense layers with ReLU between them) into a Sequential.
Sequential mlp_from_spec(const std::string& spec);

}  // namespace dm::nn
