// Building models: layers, Sequential, a Module of one's own, losses, optimizers and
// learning-rate schedules. The blocks of the first half of docs/training.md come from here;
// each claim the page makes is checked.
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

namespace {

bool near(double got, double want, double tol = 1e-6) { return std::abs(got - want) <= tol * (1.0 + std::abs(want)); }

// [docs:training-custom-module]
// x + W2 relu(W1 x): a residual block. Parameters are registered by name in the constructor;
// forward() is const and keeps no per-call state, so many threads may run it at once.
class Residual : public dm::nn::Module {
 public:
  explicit Residual(std::int64_t features) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(features));
    register_parameter("w1", (dm::Tensor::rand({features, features}) * 2.0 - 1.0) * bound);
    register_parameter("w2", dm::Tensor::zeros({features, features}));  // starts as the identity map
  }
  dm::Tensor forward(const dm::Tensor& x) const override {
    return x + dm::nn::linear(dm::nn::linear(x, parameter(0)).relu(), parameter(1));
  }
  std::string name() const override { return "Residual"; }
};
// [/docs:training-custom-module]

void layers_and_sequential() {
  dm::manual_seed(0);
  // [docs:training-sequential]
  dm::Model model = dm::nn::Sequential()
                        .add(dm::nn::Dense(8, 16))  // y = x W^T + b, initialised like torch.nn.Linear
                        .add(dm::nn::ReLU())
                        .add(Residual(16))          // a Module of one's own fits in like any layer
                        .add(dm::nn::Dropout(0.1))  // active in training mode only
                        .add(dm::nn::Dense(16, 3))
                        .build();                   // cross-entropy and SGD unless told otherwise

  for (const auto& [name, tensor] : model.module().named_parameters())
    std::cout << name << ' ' << tensor.shape() << '\n';  // 0.weight (16, 8), 0.bias (16,), 2.w1 (16, 16), ...
  dm::Tensor logits = model.predict(dm::Tensor::randn({5, 8}));  // evaluation mode, no graph: (5, 3)
  // [/docs:training-sequential]
  const dm::nn::NamedTensors params = model.module().named_parameters();
  example::check(params.size() == 6 && params[2].first == "2.w1" && params[3].first == "2.w2",
                 "parameters are named by position and registration");
  example::check(model.module().num_parameters() == 8 * 16 + 16 + 2 * 16 * 16 + 16 * 3 + 3, "the parameter count");
  example::check(logits.shape() == std::vector<std::int64_t>{5, 3} && !logits.requires_grad(), "predict gives (5, 3)");
  example::check(model.optimizer().name() == "sgd", "the default optimizer is SGD");
  example::check(model.module().flat_parameters().numel() == model.module().num_parameters(),
                 "build() put every parameter into one flat buffer");
  const dm::Tensor x = dm::Tensor::randn({5, 16});
  example::check(Residual(16).forward(x).to_vector<float>() == x.to_vector<float>(), "a fresh Residual is the identity");
}

void losses() {
  // [docs:training-losses]
  dm::Tensor logits = dm::Tensor::from_vector(std::vector<float>{2, 0, 0, 0, 0, 2}, {2, 3});
  dm::Tensor labels = dm::Tensor::from_vector(std::vector<std::int64_t>{0, 2});
  dm::Tensor ce = dm::nn::cross_entropy(logits, labels);  // mean over the batch, fused log-softmax + NLL
  dm::Tensor same = dm::nn::nll_loss(logits.log_softmax(1), labels);
  dm::Tensor mse = dm::nn::mse_loss(dm::Tensor::ones({4}), dm::Tensor::zeros({4}));  // 1
  // [/docs:training-losses]
  const double expected = -std::log(std::exp(2.0) / (std::exp(2.0) + 2.0));
  example::check(near(ce.item<double>(), expected), "cross-entropy against the formula");
  example::check(near(same.item<double>(), expected), "nll_loss of log_softmax is cross-entropy");
  example::check(mse.item<float>() == 1.0f, "mse of ones against zeros");
  bool refused = false;
  try {
    dm::nn::cross_entropy(logits, dm::Tensor::from_vector(std::vector<std::int64_t>{0, 3}));
  } catch (const dm::ValueError&) {
    refused = true;
  }
  example::check(refused, "a label out of range is a ValueError");
}

void optimizers() {
  // [docs:training-optimizer]
  dm::Tensor w = dm::Tensor::from_vector(std::vector<float>{1.0f, -2.0f}).set_requires_grad();
  dm::optim::SGD sgd({.lr = 0.1, .momentum = 0.9, .nesterov = true});
  sgd.bind({{"w", w}});                 // the parameters it updates, by name
  for (int step = 0; step < 3; ++step) {
    sgd.zero_grad();
    (w * w).sum().backward();           // gradient 2w into w.grad()
    sgd.step();                         // w -= lr * (g + momentum * buf), in place
  }
  // [/docs:training-optimizer]
  // The same three steps by hand, as torch.optim.SGD defines them.
  for (int i = 0; i < 2; ++i) {
    double p = i == 0 ? 1.0 : -2.0, buf = 0.0;
    for (int step = 0; step < 3; ++step) {
      const double g = 2.0 * p;
      buf = step == 0 ? g : 0.9 * buf + g;
      p -= 0.1 * (g + 0.9 * buf);
    }
    example::check(near(w.to_vector<float>()[static_cast<std::size_t>(i)], p, 1e-5), "Nesterov SGD by hand");
  }

  // [docs:training-adam]
  auto adam = std::make_shared<dm::optim::Adam>(dm::optim::AdamOptions{.lr = 1e-3});  // betas 0.9, 0.999
  auto adamw = std::make_shared<dm::optim::AdamW>();  // decoupled weight decay 0.01
  dm::Model model = dm::nn::Sequential().add(dm::nn::Dense(4, 2)).build({.optimizer = adam});
  model.set_optimizer(adamw);                          // rebinds; the new optimizer starts afresh
  // [/docs:training-adam]
  example::check(model.optimizer().name() == "adamw", "set_optimizer swapped in AdamW");
  // Adam's first step moves every parameter by lr (up to eps), whatever its gradient's scale.
  dm::manual_seed(1);
  dm::Model probe = dm::nn::Sequential().add(dm::nn::Dense(4, 2)).build({.optimizer = std::make_shared<dm::optim::Adam>()});
  const std::vector<float> before = probe.module().flat_parameters().to_vector<float>();
  probe.train_step(dm::Tensor::randn({8, 4}), dm::Tensor::from_vector(std::vector<std::int64_t>{0, 1, 0, 1, 0, 1, 0, 1}));
  const std::vector<float> after = probe.module().flat_parameters().to_vector<float>();
  for (std::size_t i = 0; i < before.size(); ++i)
    example::check(std::abs(std::abs(after[i] - before[i]) - 1e-3) < 1e-5, "Adam's first step is lr per parameter");
}

void schedules() {
  // [docs:training-schedule]
  auto cosine = std::make_shared<dm::optim::CosineLR>(0.1, 90);  // 0.1 down to 0 over 90 steps
  dm::optim::LinearWarmup schedule(10, cosine);                  // ...after 10 steps rising to 0.1
  dm::optim::StepLR steps(0.1, 30);                              // 0.1, divided by 10 every 30 steps
  dm::optim::SGD sgd;
  for (std::int64_t step = 0; step < 100; ++step) {
    sgd.set_lr(schedule.lr_at(step));  // a pure function of the step: a resumed run continues exactly
    // ... one training step ...
  }
  // [/docs:training-schedule]
  example::check(near(schedule.lr_at(0), 0.01) && near(schedule.lr_at(9), 0.1), "warm-up from 0.01 to 0.1");
  example::check(near(schedule.lr_at(10), 0.1) && near(schedule.lr_at(55), 0.05), "cosine after the warm-up");
  example::check(schedule.lr_at(100) == 0.0 && sgd.lr() == schedule.lr_at(99), "the last rate was set");
  example::check(near(steps.lr_at(29), 0.1) && near(steps.lr_at(30), 0.01) && near(steps.lr_at(60), 0.001), "StepLR");
}

}  // namespace

int main() {
  layers_and_sequential();
  losses();
  optimizers();
  schedules();
  std::cout << "training models: all checks passed\n";
  return 0;
}
