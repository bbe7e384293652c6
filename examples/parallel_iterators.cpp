// Guide: "Parallel Iterators". loader.par_chunks(n) is a parallel range over the batches of an
// epoch: for_each trains Hogwild-style (every call of train_step runs at once on the pool),
// map computes per-batch results in batch order. DataParallel is the synchronous alternative
// whose result does not depend on the number of threads.
#include <cmath>
#include <iostream>
#include <random>
#include <vector>

#include <democratising/model/data_parallel.hpp>
#include <democratising/democratising.hpp>

#include "example_util.hpp"

namespace {

constexpr std::int64_t kDims = 16, kClasses = 4;

// Four Gaussian blobs, class c centred at 3 e_c.
dm::data::TensorDataset blobs(std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> noise(0.0f, 0.8f);
  std::vector<float> x(static_cast<std::size_t>(n * kDims));
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    y[static_cast<std::size_t>(i)] = i % kClasses;
    for (std::int64_t d = 0; d < kDims; ++d)
      x[static_cast<std::size_t>(i * kDims + d)] = (d == i % kClasses ? 3.0f : 0.0f) + noise(gen);
  }
  return dm::data::TensorDataset(dm::Tensor::from_vector(x, {n, kDims}), dm::Tensor::from_vector(y));
}

dm::Model make_model() {
  dm::manual_seed(1);
  return dm::nn::Sequential()
      .add(dm::nn::Dense(kDims, 32))
      .add(dm::nn::ReLU())
      .add(dm::nn::Dense(32, kClasses))
      .build({.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.02, .momentum = 0.9})});
}

// [docs:parallel-iterators]
void train_parallel(dm::Model& model, const dm::data::DataLoader& data, std::int64_t batch_size) {
  data.par_chunks(batch_size).for_each([&](dm::Batch batch) {
    model.train_step(batch.x, batch.y);
  });
}
// [/docs:parallel-iterators]

// [docs:par-chunks-map]
// Mean loss of every batch, computed in parallel, returned in batch order.
std::vector<float> batch_losses(const dm::Model& model, const dm::data::DataLoader& data) {
  return data.par_chunks(256).map([&](dm::Batch batch) {
    return model.loss_fn()(model.predict(batch.x), batch.y).item<float>();
  });
}
// [/docs:par-chunks-map]

// [docs:data-parallel]
// Synchronous data parallelism: each batch is cut into shards of 16 samples whose gradients
// are computed in parallel, averaged in a fixed order and applied in one step.
void train_synchronous(dm::Model& model, const dm::data::DataLoader& data) {
  dm::DataParallel trainer(model, {.shard_size = 16});
  for (const dm::Batch& batch : data) trainer.train_step(batch.x, batch.y);
}
// [/docs:data-parallel]

double mean(const std::vector<float>& v) {
  double s = 0.0;
  for (float x : v) s += x;
  return s / static_cast<double>(v.size());
}

std::vector<float> flat_parameters(const dm::Model& model) {
  std::vector<float> out;
  for (const auto& [_, p] : model.module().named_parameters()) {
    const auto v = p.to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const bool small = example::small_run(argc, argv);
  const std::int64_t samples = small ? 2048 : 32768;
  const int epochs = small ? 2 : 5;
  dm::data::DataLoader data(blobs(samples, 7), {.batch_size = 64, .shuffle = true, .seed = 3});

  // Hogwild: many train_step calls at once on one model.
  dm::Model model = make_model();
  const double before = mean(batch_losses(model, data));
  for (int epoch = 0; epoch < epochs; ++epoch) {
    data.set_epoch(static_cast<std::uint64_t>(epoch));
    train_parallel(model, data, 32);
  }
  const double after = mean(batch_losses(model, data));
  std::cout << "par_chunks for_each on " << dm::num_threads() << " threads: loss " << before << " -> " << after << '\n';
  example::check(std::isfinite(after) && after < 0.5 * before, "Hogwild training lowers the loss");

  // Synchronous data parallelism: the same parameters for 1 and 2 threads, bit for bit.
  std::vector<std::vector<float>> results;
  const int threads = dm::num_threads();
  for (int n : {1, 2}) {
    dm::set_num_threads(n);
    dm::Model m = make_model();
    for (int epoch = 0; epoch < epochs; ++epoch) {
      data.set_epoch(static_cast<std::uint64_t>(epoch));
      train_synchronous(m, data);
    }
    results.push_back(flat_parameters(m));
    if (n == 1) std::cout << "DataParallel: loss " << mean(batch_losses(m, data)) << '\n';
  }
  dm::set_num_threads(threads);
  example::check(results[0] == results[1], "DataParallel gives the same parameters for 1 and 2 threads");
  std::cout << "DataParallel: identical parameters for 1 and 2 threads\n";
  return 0;
}
