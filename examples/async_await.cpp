// The guide's "Async/Await": a training loop written as a coroutine. Batches arrive from an
// AsyncDataLoader, which loads the next ones while the current one trains; each training step
// is handed to the pool with on_pool, so the thread running the loop never blocks on compute.
// Sequential 784-128-10 on Fashion-MNIST; --small trains on a few hundred images.
#include <cstdio>

#include "democratising/async/task.hpp"
#include "democratising/async/dataloader.hpp"
#include "democratising/data/dataloader.hpp"
#include "democratising/data/fashion_mnist.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"
#include "example_util.hpp"

// [docs:async-training]
// One epoch; returns the mean training loss.
dm::Task<double> async_training(dm::Model& model, const dm::data::DataLoader& data) {
  dm::data::AsyncDataLoader batches(data, {.prefetch = 4});
  double loss_sum = 0.0;
  std::int64_t steps = 0;
  while (auto batch = co_await batches.next()) {
    // The step runs on the pool; meanwhile the loader keeps preparing the next batches.
    const dm::Tensor loss = co_await dm::on_pool([&] { return model.train_step(batch->x, batch->y); });
    loss_sum += loss.item<double>();
    ++steps;
  }
  co_return loss_sum / static_cast<double>(steps);
}
// [/docs:async-training]

int main(int argc, char** argv) {
  const bool small = example::small_run(argc, argv);
  const std::int64_t samples = small ? 512 : 60000;
  const int epochs = small ? 4 : 3;
  dm::manual_seed(0);
  const dm::data::FashionMNIST train(dm::data::Split::train);
  const dm::data::FashionMNIST test(dm::data::Split::test);
  const dm::data::TensorDataset subset(train.images().narrow(0, 0, samples), train.labels().narrow(0, 0, samples));
  const dm::data::TensorDataset test_subset(test.images().narrow(0, 0, small ? 1000 : 10000),
                                            test.labels().narrow(0, 0, small ? 1000 : 10000));

  // [docs:async-main]
  dm::Model model = dm::nn::Sequential()
                        .add(dm::nn::Dense(784, 128))
                        .add(dm::nn::ReLU())
                        .add(dm::nn::Dense(128, 10))
                        .build();
  dm::data::DataLoader data(subset, {.batch_size = 64, .shuffle = true, .seed = 1});
  std::vector<double> losses;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    data.set_epoch(static_cast<std::uint64_t>(epoch));
    losses.push_back(dm::block_on(async_training(model, data)));  // runs the coroutine on this thread
    std::printf("epoch %d: mean loss %.4f\n", epoch + 1, losses.back());
  }
  // [/docs:async-main]

  const dm::EvalResult eval = model.evaluate(dm::data::DataLoader(test_subset, {.batch_size = 256}));
  std::printf("test accuracy %.3f on %lld images\n", eval.accuracy, static_cast<long long>(eval.samples));
  example::check(losses.back() < 0.8 * losses.front(), "the training loss went down");
  example::check(eval.accuracy > (small ? 0.6 : 0.8), "the model learned to classify");
  return 0;
}
