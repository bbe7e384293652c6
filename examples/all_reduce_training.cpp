// Guide: "All-Reduce Training". Each rank computes gradients on its shard of the batch, the
// ranks average them with an all-reduce, and every rank applies the same update.
//
//   mpirun -np 2 example_all_reduce_training     # two processes, MPI
//   example_all_reduce_training --small          # two threads, in-process backend
//
// Under mpirun the ranks are processes; started on its own, the program runs two ranks as
// threads of one process, through the same World interface.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <vector>

#include <democratising/data/fashion_mnist.hpp>
#include <democratising/democratising.hpp>
#include <democratising/distributed/distributed_trainer.hpp>
#include <democratising/distributed/world.hpp>

#include "example_util.hpp"

// [docs:all-reduce-training]
void distributed_training(dm::dist::World& world, dm::Model& model, const dm::Tensor& x, const dm::Tensor& y) {
  // Compute local gradients
  dm::Gradients grads = model.compute_gradients(x, y);

  // All-reduce across ranks
  world.all_reduce(grads, dm::dist::Reduction::Mean);

  // Apply gradients locally
  model.apply_gradients(grads);
}
// [/docs:all-reduce-training]

namespace {

dm::Model make_model(std::uint64_t seed) {
  dm::manual_seed(seed);
  return dm::nn::Sequential().add(dm::nn::Dense(784, 64)).add(dm::nn::ReLU()).add(dm::nn::Dense(64, 10)).build();
}

// This rank's rows of a batch.
dm::Tensor shard(const dm::Tensor& batch, const dm::dist::World& world) {
  const std::int64_t n = batch.size(0);
  return batch.narrow(0, n * world.rank() / world.size(), n / world.size()).contiguous();
}

// Batch norm under the trainer: one step on a batch of 64, split between the ranks.
void train_with_batch_norm(dm::dist::World& world, const dm::data::FashionMNIST& data) {
  const dm::Tensor x = data.images().narrow(0, 0, 64);
  const dm::Tensor y = data.labels().narrow(0, 0, 64);
  dm::manual_seed(7);
  // [docs:ddp-batch-norm]
  // Each BatchNorm1d normalises with the statistics of the whole batch, every rank's shard.
  dm::Model model = dm::nn::Sequential()
                        .add(dm::nn::Dense(784, 64))
                        .add(dm::nn::BatchNorm1d(64))
                        .add(dm::nn::ReLU())
                        .add(dm::nn::Dense(64, 10))
                        .build();
  dm::dist::DistributedTrainer trainer(model, world);
  trainer.train_step(shard(x, world), shard(y, world));
  // [/docs:ddp-batch-norm]
  const dm::Tensor running_mean = model.module().named_buffers()[0].second;
  const dm::Tensor all = world.all_gather(running_mean);
  example::check(all.select(0, 0).eq(all.select(0, world.size() - 1)).min().item<float>() == 1.0f,
                 "ranks hold identical running statistics");
}

// Trains on the first `samples` images, rank 0 printing the mean loss of each epoch.
void train(dm::dist::World& world, dm::Model& model, const dm::data::FashionMNIST& data, std::int64_t samples, int epochs) {
  const std::int64_t batch = 64;
  // The hand-written loop of the guide first: the ranks start from rank 0's parameters.
  dm::Tensor flat = model.module().flat_parameters();
  world.broadcast(flat, 0);
  distributed_training(world, model, shard(data.images().narrow(0, 0, batch), world),
                       shard(data.labels().narrow(0, 0, batch), world));

  // [docs:ddp-trainer]
  // Buckets of gradients are all-reduced while backward is still running.
  dm::dist::DistributedTrainer trainer(model, world, {.bucket_bytes = 64 << 10});
  for (int epoch = 0; epoch < epochs; ++epoch) {
    double loss_sum = 0.0;
    for (std::int64_t start = 0; start + batch <= samples; start += batch) {
      const dm::Tensor x = data.images().narrow(0, start, batch);
      const dm::Tensor y = data.labels().narrow(0, start, batch);
      loss_sum += trainer.train_step(shard(x, world), shard(y, world)).item<double>();
    }
    if (world.rank() == 0) std::printf("epoch %d: mean loss %.4f\n", epoch + 1, loss_sum / static_cast<double>(samples / batch));
  }
  // [/docs:ddp-trainer]

  // Every rank holds the very same parameters.
  const dm::Tensor all = world.all_gather(model.module().flat_parameters());
  example::check(all.select(0, 0).eq(all.select(0, world.size() - 1)).min().item<float>() == 1.0f,
                 "ranks hold identical parameters");
  train_with_batch_norm(world, data);
}

}  // namespace

int main(int argc, char** argv) {
  const bool small = example::small_run(argc, argv);
  const std::int64_t samples = small ? 512 : 8192;
  const int epochs = small ? 2 : 5;
  const dm::data::FashionMNIST data(dm::data::Split::train);
  if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) {
    // [docs:mpi-world]
    dm::dist::World world = dm::dist::World::mpi();
    std::printf("rank %d of %d\n", world.rank(), world.size());
    // [/docs:mpi-world]
    dm::Model model = make_model(static_cast<std::uint64_t>(world.rank()));
    train(world, model, data, samples, epochs);
    return 0;
  }
  std::vector<dm::Model> models;
  for (int r = 0; r < 2; ++r) models.push_back(make_model(static_cast<std::uint64_t>(r)));
  // [docs:local-world]
  dm::dist::run_local(2, [&](dm::dist::World& world) {
    train(world, models[static_cast<std::size_t>(world.rank())], data, samples, epochs);
  });
  // [/docs:local-world]
  std::cout << "two in-process ranks trained to identical parameters\n";
  return 0;
}
