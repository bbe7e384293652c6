// Models written as classes: a residual CNN as a Module subclass, trained for a few steps on
// synthetic images with weight decay and gradient clipping; nn::Residual in a Sequential; the
// dm tool's cnn and vit families in C++. The blocks of docs/models.md come from here; the program fails
// unless the loss falls and each claim the page makes holds.
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <democratising/democratising.hpp>
#include <democratising/nn/summary.hpp>

#include "example_util.hpp"

namespace {

// [docs:models-class]
// stem conv -> x + conv(relu(conv(x))) -> 2x2 average pool -> Dense. Children are registered
// by name in the constructor and kept as typed members; forward() is const and keeps no state.
class ResidualCnn : public dm::nn::Module {
 public:
  ResidualCnn(std::int64_t channels, std::int64_t classes)
      : stem_(std::make_shared<dm::nn::Conv2d>(1, channels, 3, 1, 1)),
        block_(std::make_shared<dm::nn::Residual>(dm::nn::Sequential()
                                                      .add(dm::nn::Conv2d(channels, channels, 3, 1, 1))
                                                      .add(dm::nn::ReLU())
                                                      .add(dm::nn::Conv2d(channels, channels, 3, 1, 1)))),
        head_(std::make_shared<dm::nn::Dense>(4 * channels, classes)) {
    register_module("stem", stem_);
    register_module("block", block_);
    register_module("head", head_);
  }

  dm::Tensor forward(const dm::Tensor& x) const override {  // x: (N, 1, H, W)
    dm::Tensor h = stem_->forward(x).relu();
    h = block_->forward(h).relu();                               // (N, C, H, W)
    h = dm::nn::adaptive_avg_pool2d(h, 2).flatten(1);            // (N, 4C): one mean per quadrant
    return head_->forward(h);                                    // (N, classes)
  }
  std::string name() const override { return "ResidualCnn"; }

 private:
  std::shared_ptr<dm::nn::Conv2d> stem_;
  std::shared_ptr<dm::nn::Residual> block_;
  std::shared_ptr<dm::nn::Dense> head_;
};
// [/docs:models-class]

constexpr std::int64_t kSide = 10, kClasses = 4;

// Images of noise with one bright quadrant; the label is the quadrant.
dm::Batch synthetic_images(std::int64_t n) {
  dm::Tensor x = dm::Tensor::randn({n, 1, kSide, kSide}) * 0.5;
  std::vector<float> pixels = x.to_vector<float>();
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = i % kClasses;
    labels[static_cast<std::size_t>(i)] = c;
    const std::int64_t top = (c / 2) * kSide / 2, left = (c % 2) * kSide / 2;
    for (std::int64_t r = top; r < top + kSide / 2; ++r)
      for (std::int64_t col = left; col < left + kSide / 2; ++col)
        pixels[static_cast<std::size_t>((i * kSide + r) * kSide + col)] += 1.0f;
  }
  return {dm::Tensor::from_vector(pixels, {n, 1, kSide, kSide}), dm::Tensor::from_vector(labels)};
}

void train_a_class() {
  dm::manual_seed(0);
  const dm::Batch data = synthetic_images(64);
  // [docs:models-train]
  auto sgd = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4});
  dm::Model model(std::make_shared<ResidualCnn>(8, 4), {.optimizer = sgd, .clip_grad_norm = 1.0});

  for (const auto& [name, tensor] : model.module().named_parameters())
    std::cout << name << ' ' << tensor.shape() << '\n';  // stem.weight (8, 1, 3, 3), ..., block.body.0.weight, ...
  std::vector<double> losses;
  for (int step = 0; step < 40; ++step) losses.push_back(model.train_step(data.x, data.y).item<double>());
  // [/docs:models-train]
  const dm::nn::NamedTensors params = model.module().named_parameters();
  example::check(params.size() == 8 && params[0].first == "stem.weight" && params[2].first == "block.body.0.weight" &&
                     params[6].first == "head.weight",
                 "parameters are named after the registered children");
  example::check(model.clip_grad_norm() == 1.0, "the model clips to norm 1");
  std::cout << "loss " << losses.front() << " -> " << losses.back() << '\n';
  example::check(losses.back() < 0.5 * losses.front(), "the loss falls by half or more in 40 steps");
  const dm::EvalResult result = model.evaluate(std::vector<dm::Batch>{synthetic_images(64)});
  std::cout << "accuracy on fresh images " << result.accuracy << '\n';
  example::check(result.accuracy > 0.8, "the model tells the quadrants apart on fresh images");
}

void residual_in_a_sequential() {
  dm::manual_seed(1);
  // [docs:models-residual]
  dm::nn::Sequential net;
  net.add(dm::nn::Dense(16, 32))
      .add(dm::nn::Residual(dm::nn::Sequential().add(dm::nn::LayerNorm({32})).add(dm::nn::Dense(32, 32)).add(dm::nn::GELU())))
      .add(dm::nn::Dense(32, 4));  // parameters 0.weight, ..., 1.body.0.weight, 1.body.1.weight, ...
  // [/docs:models-residual]
  example::check(net.named_parameters()[2].first == "1.body.0.weight", "a Residual's body is named under body");
  example::check(net.forward(dm::Tensor::randn({3, 16})).shape() == std::vector<std::int64_t>{3, 4}, "(3, 4) out");
  bool refused = false;
  try {
    dm::nn::Residual(dm::nn::Dense(32, 8)).forward(dm::Tensor::zeros({2, 32}));
  } catch (const dm::ShapeError& e) {
    refused = std::string(e.what()).find("(2, 32) to (2, 8)") != std::string::npos;
  }
  example::check(refused, "a body that changes the shape is a ShapeError naming both shapes");
}

void clipping_by_hand() {
  dm::manual_seed(2);
  const dm::Batch data = synthetic_images(16);
  dm::Model model(std::make_shared<ResidualCnn>(4, 4));
  // [docs:models-clip]
  dm::Gradients grads = model.compute_gradients(data.x, data.y);
  double norm = dm::optim::clip_grad_norm(grads, 0.01);  // the norm before; grads scaled in place
  model.apply_gradients(grads);
  // [/docs:models-clip]
  double after = 0.0;
  for (float g : grads.flat.to_vector<float>()) after += static_cast<double>(g) * g;
  example::check(norm > 0.01 && std::sqrt(after) <= 0.01 * (1 + 1e-5), "clipped to the bound");
}

void the_cnn_family() {
  // [docs:models-cnn]
  dm::nn::Sequential cnn;
  cnn.add(dm::nn::Unflatten(1, {1, 28, 28}))  // flat (N, 784) images -> (N, 1, 28, 28)
      .add(dm::nn::Conv2d(1, 32, 3, 1, 1)).add(dm::nn::BatchNorm2d(32)).add(dm::nn::ReLU()).add(dm::nn::MaxPool2d(2))
      .add(dm::nn::Conv2d(32, 64, 3, 1, 1)).add(dm::nn::BatchNorm2d(64)).add(dm::nn::ReLU()).add(dm::nn::MaxPool2d(2))
      .add(dm::nn::Flatten()).add(dm::nn::Dropout(0.25))
      .add(dm::nn::Dense(64 * 7 * 7, 128)).add(dm::nn::ReLU()).add(dm::nn::Dense(128, 10));
  std::cout << dm::nn::summary_table(dm::nn::summary(cnn, {1, 784}));  // layers, shapes, 421,834 parameters
  // [/docs:models-cnn]
  example::check(cnn.num_parameters() == 421834, "the cnn family has 421,834 parameters");
}

void the_vit_family() {
  // [docs:models-vit]
  dm::nn::Sequential vit;
  vit.add(dm::nn::Patchify(28, 7))                // flat (N, 784) images -> (N, 16, 49): 16 patches of 7x7
      .add(dm::nn::Dense(49, 64))                 // each patch projected to a token of 64
      .add(dm::nn::PositionalEmbedding(16, 64));  // a learned vector per position
  for (int i = 0; i < 2; ++i) vit.add(dm::nn::TransformerEncoderLayer(64, 4, 128));  // pre-norm, GELU MLP
  vit.add(dm::nn::LayerNorm({64})).add(dm::nn::TokenMean()).add(dm::nn::Dense(64, 10));
  std::cout << dm::nn::summary_table(dm::nn::summary(vit, {1, 784}));  // layers, shapes, 71,946 parameters
  // [/docs:models-vit]
  example::check(vit.num_parameters() == 71946, "the vit family has 71,946 parameters");
  example::check(vit.forward(dm::Tensor::randn({3, 784})).shape() == std::vector<std::int64_t>{3, 10}, "(3, 10) out");
}

}  // namespace

int main() {
  train_a_class();
  residual_in_a_sequential();
  clipping_by_hand();
  the_cnn_family();
  the_vit_family();
  std::cout << "residual cnn: all checks passed\n";
  return 0;
}
