#pragma once
// Sequential: layers applied in order, built with
//   auto model = dm::nn::Sequential().add(dm::nn::Dense(784, 128)).add(dm::nn::ReLU())
//                    .add(dm::nn::Dense(128, 10)).build();
// build() returns a dm::Model (cross-entropy loss, SGD with momentum unless told otherwise)
// whose parameters live in one contiguous buffer. Models belong to the model layer above this
// one, so build() is a template that nn::Finish, specialised there (democratising/model/model.hpp),
// completes: include that header, or democratising/democratising.hpp, before calling it.
#include <concepts>
#include <memory>
#include <string>
#include <vector>

#include "democratising/nn/module.hpp"

namespace dm::nn {

/// What build() makes of a finished network: `Options` and `static make(Network&&, const
/// Options&)`. The layer that makes models specialises it; nn itself knows no model.
template <class Network>
struct Finish;

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

  /// Finishes the network: flattens its parameters and wraps it in a Model with `options`.
  template <class Network = Sequential>
  auto build(const typename Finish<Network>::Options& options) && {
    return Finish<Network>::make(std::move(*this), options);
  }
  /// Finishes the network with the default options (cross-entropy and SGD).
  template <class Network = Sequential>
  auto build() && {
    return Finish<Network>::make(std::move(*this), typename Finish<Network>::Options{});
  }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

/// Parses "mlp:784-128-10" (Dense layers with ReLU between them) into a Sequential.
Sequential mlp_from_spec(const std::string& spec);

}  // namespace dm::nn
