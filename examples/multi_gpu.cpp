// Guide: "Multi-GPU Support". A model split into pipeline stages, one per device: every GPU
// when there are some, else two logical CPU devices (each stage on its own worker thread).
#include <iostream>
#include <vector>

#include <democratising/data/dataloader.hpp>
#include <democratising/data/dataset.hpp>
#include <democratising/democratising.hpp>
#include <democratising/model/model_parallel.hpp>

#include "example_util.hpp"

// [docs:multi-gpu]
void multi_gpu_training(dm::Model& model, const dm::data::DataLoader& data, const std::vector<dm::Device>& devices) {
  // Split the model across the devices.
  dm::ModelParallel model_parallel(model, devices);

  // Train on every device at once: micro-batches flow from stage to stage.
  for (const dm::data::Batch& batch : data) {
    model_parallel.forward(batch.x);
    model_parallel.backward(batch.y);
    model_parallel.step();
  }
}
// [/docs:multi-gpu]

namespace {

// Two classes: is the sum of the features positive?
dm::data::TensorDataset make_data(std::int64_t n) {
  dm::manual_seed(3);
  const dm::Tensor x = dm::Tensor::randn({n, 8});
  const std::vector<float> sums = x.sum({1}).to_vector<float>();
  std::vector<std::int64_t> labels;
  for (float s : sums) labels.push_back(s > 0.0f ? 1 : 0);
  return dm::data::TensorDataset(x, dm::Tensor::from_vector(labels));
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t samples = example::small_run(argc, argv) ? 512 : 8192;
  const int epochs = example::small_run(argc, argv) ? 4 : 10;
  const dm::data::DataLoader data(make_data(samples), {.batch_size = 64, .shuffle = true, .seed = 1});

  dm::manual_seed(5);
  dm::Model model = dm::nn::Sequential()
                        .add(dm::nn::Dense(8, 32))
                        .add(dm::nn::ReLU())
                        .add(dm::nn::Dense(32, 32))
                        .add(dm::nn::ReLU())
                        .add(dm::nn::Dense(32, 2))
                        .build();
  const double before = model.evaluate(data).loss;

  // [docs:multi-gpu-devices]
  std::vector<dm::Device> devices = dm::Device::cuda_all();
  if (devices.empty()) devices = {dm::Device::cpu(0), dm::Device::cpu(1)};
  // [/docs:multi-gpu-devices]
  int epoch = 0;
  if (devices.front().is_cuda()) {
    try {
      multi_gpu_training(model, data, devices);
      epoch = 1;
    } catch (const dm::DeviceError& e) {
      std::cout << "the GPUs cannot run this model yet (" << e.what() << "): using two CPU devices\n";
      devices = {dm::Device::cpu(0), dm::Device::cpu(1)};
    }
  }
  for (; epoch < epochs; ++epoch) multi_gpu_training(model, data, devices);

  // The pipeline hands the trained values back to the model when it ends.
  const dm::EvalResult after = model.evaluate(data);
  std::cout << "stages on";
  for (const dm::Device& d : devices) std::cout << ' ' << d;
  std::cout << ": loss " << before << " -> " << after.loss << ", accuracy " << after.accuracy << '\n';
  example::check(after.loss < before, "training lowered the loss");
  example::check(after.accuracy > 0.8, "the model learned the task");
  return 0;
}
