// A training run from data to checkpoint: a Dataset of one's own, a DataLoader, the training
// loop, evaluate/predict, saving and loading a checkpoint, and Fashion-MNIST when it is
// installed. The blocks of the second half of docs/training.md come from here.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

namespace {

// [docs:training-dataset]
// Three classes of points in 2-d, one around each corner of a triangle. A Dataset hands out
// whole batches; get_batch must be safe to call from several threads at once (the loaders call
// it from the pool), which a pure function of the indices is.
class Triangle : public dm::data::Dataset {
 public:
  explicit Triangle(std::int64_t samples) : samples_(samples) {}
  std::int64_t size() const override { return samples_; }
  dm::Batch get_batch(const std::vector<std::int64_t>& indices) const override {
    static constexpr float kCorner[3][2] = {{0, 2}, {-2, -1}, {2, -1}};
    std::vector<float> x;
    std::vector<std::int64_t> y;
    for (std::int64_t i : indices) {
      const std::int64_t label = i % 3;
      const float jitter = static_cast<float>((i * 7919) % 101) / 101.0f - 0.5f;  // deterministic noise
      x.push_back(kCorner[label][0] + jitter);
      x.push_back(kCorner[label][1] - jitter);
      y.push_back(label);
    }
    const auto n = static_cast<std::int64_t>(indices.size());
    return {dm::Tensor::from_vector(x, {n, 2}), dm::Tensor::from_vector(y)};
  }

 private:
  std::int64_t samples_;
};
// [/docs:training-dataset]

// [docs:training-make-model]
dm::Model make_model() {
  return dm::nn::Sequential()
      .add(dm::nn::Dense(2, 16))
      .add(dm::nn::ReLU())
      .add(dm::nn::Dense(16, 3))
      .build({.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.1, .momentum = 0.9})});
}
// [/docs:training-make-model]

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "." + std::to_string(::getpid()) + ".safetensors")).string();
}

// Fashion-MNIST is read only where Debian's dataset-fashion-mnist package installed it.
void fashion_mnist() {
  if (!std::filesystem::exists(dm::data::kFashionMnistDir)) {
    std::cout << "Fashion-MNIST is not installed here: skipping that part\n";
    return;
  }
  // [docs:training-fashion-mnist]
  dm::data::FashionMNIST test(dm::data::Split::test);  // /usr/share/datasets/fashion-mnist
  // images: (10000, 784) f32 in [0, 1]; labels: (10000) i64 in 0..9
  dm::data::DataLoader loader(test, {.batch_size = 1000, .normalize = dm::data::Normalize{.mean = 0.2860, .std = 0.3530}});
  dm::Batch first = *loader.begin();  // x normalised to mean 0, std 1 over the training images
  // [/docs:training-fashion-mnist]
  example::check(test.images().shape() == std::vector<std::int64_t>{10000, 784}, "10000 test images of 784 pixels");
  example::check(test.labels().max().item<std::int64_t>() == 9 && test.labels().min().item<std::int64_t>() == 0,
                 "labels 0..9");
  example::check(first.x.shape() == std::vector<std::int64_t>{1000, 784} && first.x.min().item<float>() < 0.0f,
                 "normalised batches");
}

}  // namespace

int main() {
  dm::manual_seed(0);
  // [docs:training-loop]
  Triangle train_set(600), test_set(300);
  dm::data::DataLoader train(train_set, {.batch_size = 32, .shuffle = true, .seed = 1});
  dm::data::DataLoader test(test_set, {.batch_size = 100});  // in order: no shuffle

  dm::Model model = make_model();
  for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
    train.set_epoch(epoch);  // a new shuffle each epoch, a pure function of (seed, epoch)
    double loss_sum = 0.0;
    for (const dm::Batch& batch : train) loss_sum += model.train_step(batch.x, batch.y).item<double>();
    dm::EvalResult eval = model.evaluate(test);  // mean loss and accuracy, evaluation mode, no graph
    std::printf("epoch %llu: train loss %.4f, test accuracy %.3f\n", static_cast<unsigned long long>(epoch + 1),
                loss_sum / static_cast<double>(train.size()), eval.accuracy);
  }
  dm::Tensor classes = model.predict(test_set.get_batch({0, 1, 2}).x).argmax(1);  // 0, 1, 2
  // [/docs:training-loop]
  example::check(train.size() == 19 && test.size() == 3, "600 samples in batches of 32: 19 batches");
  example::check(model.evaluate(test).accuracy > 0.95, "the classes are told apart");
  example::check(classes.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2}, "predict gives the classes");

  const std::string path = temp_path("training_loop");
  // [docs:training-checkpoint]
  model.save_checkpoint(path, {{"epochs", "3"}});  // parameters and optimizer state, crash-safe
  dm::Model restored = make_model();                // same architecture, fresh values
  std::map<std::string, std::string> metadata = restored.load_checkpoint(path);  // metadata["epochs"] == "3"
  // [/docs:training-checkpoint]
  example::check(metadata.at("epochs") == "3", "the metadata came back");
  const dm::Tensor probe = test_set.get_batch({3, 4, 5, 6}).x;
  example::check(restored.predict(probe).to_vector<float>() == model.predict(probe).to_vector<float>(),
                 "the restored model predicts bit for bit the same");
  // The optimizer state came back too: one more step is the same step on both.
  const dm::Batch batch = train.batch(0);
  model.train_step(batch.x, batch.y);
  restored.train_step(batch.x, batch.y);
  example::check(restored.predict(probe).to_vector<float>() == model.predict(probe).to_vector<float>(),
                 "training continues identically from the checkpoint");
  bool refused = false;
  try {
    dm::Model other = dm::nn::Sequential().add(dm::nn::Dense(2, 3)).build();
    other.load_checkpoint(path);
  } catch (const dm::FormatError& e) {
    refused = true;
    std::cout << e.what() << '\n';
  }
  std::filesystem::remove(path);
  example::check(refused, "a checkpoint of another architecture is a FormatError");

  fashion_mnist();
  std::cout << "training loop: all checks passed\n";
  return 0;
}
