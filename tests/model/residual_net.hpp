#pragma once
// Models written as classes, the libtorch way (derive from nn::Module, register children and
// parameters in the constructor, write forward), shared by the tests of every trainer.
#include <cstdint>
#include <memory>
#include <string>

#include "democratising/core/random.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/module.hpp"
#include "democratising/nn/residual.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/optim/optimizer.hpp"

namespace model_test {

/// stem -> relu -> x + body(x) -> dropout -> head, times a learnt per-class scale: children
/// kept as typed members, one parameter of its own (read back by index, see Module).
class ResidualNet : public dm::nn::Module {
 public:
  ResidualNet(std::int64_t in, std::int64_t hidden, std::int64_t classes, double dropout = 0.0)
      : stem_(std::make_shared<dm::nn::Dense>(in, hidden)),
        block_(std::make_shared<dm::nn::Residual>(
            dm::nn::Sequential().add(dm::nn::Dense(hidden, hidden)).add(dm::nn::Tanh()))),
        drop_(std::make_shared<dm::nn::Dropout>(dropout)),
        head_(std::make_shared<dm::nn::Dense>(hidden, classes)) {
    register_parameter("scale", dm::Tensor::ones({classes}));
    register_module("stem", stem_);
    register_module("block", block_);
    register_module("drop", drop_);
    register_module("head", head_);
  }
  dm::Tensor forward(const dm::Tensor& x) const override {
    const dm::Tensor h = drop_->forward(block_->forward(stem_->forward(x).relu()));
    return head_->forward(h) * parameter(0);
  }
  std::string name() const override { return "ResidualNet"; }
  const dm::nn::Dropout& dropout() const { return *drop_; }

 private:
  std::shared_ptr<dm::nn::Dense> stem_;
  std::shared_ptr<dm::nn::Residual> block_;
  std::shared_ptr<dm::nn::Dropout> drop_;
  std::shared_ptr<dm::nn::Dense> head_;
};

/// x + W2 tanh(W1 x + b1): a block with parameters of its own and none in children.
class TanhBlock : public dm::nn::Module {
 public:
  explicit TanhBlock(std::int64_t features) {
    register_parameter("w1", dm::Tensor::randn({features, features}) * 0.3);
    register_parameter("b1", dm::Tensor::zeros({features}));
    register_parameter("w2", dm::Tensor::randn({features, features}) * 0.3);
  }
  dm::Tensor forward(const dm::Tensor& x) const override {
    const dm::Tensor h = (x.matmul(parameter(0).transpose(0, 1)) + parameter(1)).tanh();
    return x + h.matmul(parameter(2).transpose(0, 1));
  }
  std::string name() const override { return "TanhBlock"; }
};

/// SGD with momentum, so that a step depends on the state as well as the gradient.
inline dm::ModelOptions sgd_options(double clip = 0.0) {
  dm::ModelOptions options;
  options.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
  options.clip_grad_norm = clip;
  return options;
}

/// A ResidualNet model whose initial parameters depend on `seed` only.
inline dm::Model residual_net_model(std::uint64_t seed, std::int64_t in, std::int64_t hidden, std::int64_t classes,
                                    double clip = 0.0, double dropout = 0.0) {
  dm::manual_seed(seed);
  return dm::Model(std::make_shared<ResidualNet>(in, hidden, classes, dropout), sgd_options(clip));
}

}  // namespace model_test
