// The data-parallel trainer on the in-process transport: identical parameters on every rank
// after every step, and the same training as one process on the whole batch.
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>

#include "ddp_fixture.hpp"
#include "democratising/dist/distributed_trainer.hpp"
#include "democratising/error.hpp"

namespace dm::dist {
namespace {

using testing::first_rank_with_other_parameters;
using testing::make_mlp;
using testing::shard;

struct Problem {
  Tensor x, y;
};

Problem random_problem(std::int64_t n) {
  manual_seed(5);
  return {Tensor::randn(Shape{n, 20}), Tensor::randint(0, 4, Shape{n})};
}

void train_ranks(int ranks, DistributedOptions options, std::vector<Model>& models, const Problem& p, int steps,
                 std::vector<int>* buckets = nullptr) {
  run_local(ranks, [&](World& world) {
    Model& model = models[static_cast<std::size_t>(world.rank())];
    DistributedTrainer trainer(model, world, options);
    if (buckets) (*buckets)[static_cast<std::size_t>(world.rank())] = trainer.bucket_count();
    ASSERT_EQ(first_rank_with_other_parameters(world, model), -1) << "after the initial broadcast";
    for (int step = 0; step < steps; ++step) {
      trainer.train_step(shard(p.x, world), shard(p.y, world));
      ASSERT_EQ(first_rank_with_other_parameters(world, model), -1) << "after step " << step;
    }
  });
}

TEST(DistributedTrainer, RanksHoldBitwiseEqualParametersAndMatchOneProcessOnTheWholeBatch) {
  const Problem p = random_problem(48);
  for (int ranks : {2, 3}) {
    std::vector<Model> models;
    for (int r = 0; r < ranks; ++r) models.push_back(make_mlp(100 + static_cast<std::uint64_t>(r), 20, 16, 4));
    std::vector<int> buckets(static_cast<std::size_t>(ranks));
    // Small buckets, so that several of them are in flight during backward.
    train_ranks(ranks, DistributedOptions{.bucket_bytes = 128}, models, p, 5, &buckets);
    EXPECT_GT(buckets[0], 1);

    // One process, rank 0's initial parameters, the whole batch: the mean over equal shards of
    // a mean loss is the whole batch's mean loss, so the steps agree up to rounding.
    Model single = make_mlp(100, 20, 16, 4);
    for (int step = 0; step < 5; ++step) single.train_step(p.x, p.y);
    const std::vector<float> expected = single.module().flat_parameters().to_vector<float>();
    const std::vector<float> got = models[0].module().flat_parameters().to_vector<float>();
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-4) << "parameter " << i;
  }
}

TEST(DistributedTrainer, OverlappedAndSequentialCommunicationGiveTheSameBits) {
  const Problem p = random_problem(32);
  std::vector<Model> overlapped, sequential;
  for (int r = 0; r < 2; ++r) {
    overlapped.push_back(make_mlp(7, 20, 16, 4));
    sequential.push_back(make_mlp(7, 20, 16, 4));
  }
  train_ranks(2, DistributedOptions{.bucket_bytes = 256, .overlap = true}, overlapped, p, 3);
  train_ranks(2, DistributedOptions{.bucket_bytes = 256, .overlap = false}, sequential, p, 3);
  EXPECT_EQ(overlapped[0].module().flat_parameters().to_vector<float>(),
            sequential[0].module().flat_parameters().to_vector<float>());
}

TEST(DistributedTrainer, DifferentArchitecturesAreADistributedError) {
  std::vector<Model> models;
  models.push_back(make_mlp(1, 20, 16, 4));
  models.push_back(make_mlp(1, 20, 8, 4));
  int errors = 0;
  std::mutex mutex;
  run_local(2, [&](World& world) {
    try {
      DistributedTrainer trainer(models[static_cast<std::size_t>(world.rank())], world);
    } catch (const DistributedError& e) {
      EXPECT_NE(std::string(e.what()).find("DistributedTrainer"), std::string::npos);
      std::lock_guard lock(mutex);
      ++errors;
    }
  });
  EXPECT_EQ(errors, 2);
}

}  // namespace
}  // namespace dm::dist
