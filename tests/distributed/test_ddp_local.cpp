// The data-parallel trainer on the in-process transport: identical parameters on every rank
// after every step, and the same training as one process on the whole batch.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <mutex>

#include "ddp_fixture.hpp"
#include "democratising/distributed/distributed_trainer.hpp"
#include "democratising/base/error.hpp"

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

// An MLP of `dtype` parameters whose initial values depend on `seed` only.
Model make_typed_mlp(std::uint64_t seed, DType dtype) {
  manual_seed(seed);
  return nn::Sequential()
      .add(nn::Dense(20, 16, true, dtype))
      .add(nn::ReLU())
      .add(nn::Dense(16, 4, true, dtype))
      .build(ModelOptions{.optimizer = std::make_shared<optim::SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.9})});
}

// Tolerances of a gradient that is the same sum of per-sample terms added in another order
// (three shards of 16, 17 and 17 rows added over the ranks, against one pass over 50 rows): in
// f32 up to ~50 ulp of the largest partial sum, well inside PyTorch's atol of 1e-5 for these
// O(0.1) gradients; in f64 ~1e-14, so there the split is exact up to rounding, which also pins
// the shard weights (weighting each rank by 1/3 instead of 16/50 or 17/50 is off by percent).
void expect_gradients_close(const Tensor& got, const Tensor& want, DType dtype, const std::string& what) {
  const double atol = dtype == DType::f32 ? 1e-5 : 1e-12;
  const double rtol = dtype == DType::f32 ? 1.3e-6 : 1e-10;
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  ASSERT_EQ(g.size(), w.size()) << what;
  for (std::size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::abs(g[i] - w[i]), atol + rtol * std::abs(w[i])) << what << " element " << i << ": " << g[i] << " vs " << w[i];
}

TEST(DistributedTrainer, UnequalShardsOnThreeRanksGiveTheFullBatchGradient) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    Problem p = random_problem(50);  // 16, 17 and 17 rows
    p.x = p.x.to(dtype);
    Model single = make_typed_mlp(21, dtype);
    Tensor full_loss;
    const Gradients full = single.compute_gradients(p.x, p.y, &full_loss);

    std::vector<Model> models;
    for (int r = 0; r < 3; ++r) models.push_back(make_typed_mlp(21, dtype));
    std::vector<Tensor> flats(3), losses(3);
    run_local(3, [&](World& world) {
      const auto r = static_cast<std::size_t>(world.rank());
      DistributedTrainer trainer(models[r], world, DistributedOptions{.bucket_bytes = 256});
      Tensor loss;
      flats[r] = trainer.compute_gradients(shard(p.x, world), shard(p.y, world), &loss).flat.clone();
      losses[r] = loss;
    });
    for (std::size_t r = 0; r < 3; ++r) {
      EXPECT_EQ(flats[r].dtype(), dtype);
      expect_gradients_close(flats[r], full.flat, dtype, "rank " + std::to_string(r));
      EXPECT_NEAR(losses[r].item<double>(), full_loss.item<double>(), dtype == DType::f32 ? 1e-6 : 1e-13);
    }
    EXPECT_EQ(flats[1].to_vector<double>(), flats[0].to_vector<double>());
    EXPECT_EQ(flats[2].to_vector<double>(), flats[0].to_vector<double>());
  }
}

TEST(DistributedTrainer, ARankWithoutRowsTakesPartAndAddsNothing) {
  // A batch of 2 on 3 ranks: rank 0 gets no row. The step is still the batch's.
  const Problem p = random_problem(2);
  Model single = make_typed_mlp(3, DType::f64);
  const Gradients full = single.compute_gradients(p.x.to(DType::f64), p.y);
  std::vector<Model> models;
  for (int r = 0; r < 3; ++r) models.push_back(make_typed_mlp(3, DType::f64));
  std::vector<Tensor> flats(3);
  run_local(3, [&](World& world) {
    const auto r = static_cast<std::size_t>(world.rank());
    DistributedTrainer trainer(models[r], world);
    const Tensor x = shard(p.x.to(DType::f64), world);
    if (r == 0) {
      EXPECT_EQ(x.size(0), 0);
    }
    flats[r] = trainer.compute_gradients(x, shard(p.y, world)).flat.clone();
    trainer.train_step(x, shard(p.y, world));
  });
  for (std::size_t r = 0; r < 3; ++r) expect_gradients_close(flats[r], full.flat, DType::f64, "rank " + std::to_string(r));
}

TEST(DistributedTrainer, NonFiniteStepsAreRefusedOnEveryRankAlike) {
  Problem p = random_problem(12);
  std::vector<float> x = p.x.to_vector<float>();
  x[0] = std::numeric_limits<float>::quiet_NaN();  // rank 0's shard only
  p.x = Tensor::from_vector(x, p.x.shape());
  std::vector<Model> models;
  for (int r = 0; r < 3; ++r) models.push_back(make_mlp(4, 20, 16, 4));
  const std::vector<float> before = models[0].module().flat_parameters().to_vector<float>();
  std::vector<std::int64_t> skipped(3);
  run_local(3, [&](World& world) {
    const auto r = static_cast<std::size_t>(world.rank());
    DistributedTrainer trainer(models[r], world, DistributedOptions{.non_finite = NonFinitePolicy::skip});
    trainer.train_step(shard(p.x, world), shard(p.y, world));
    skipped[r] = trainer.skipped_steps();
  });
  for (std::size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(skipped[r], 1) << "rank " << r;
    EXPECT_EQ(models[r].module().flat_parameters().to_vector<float>(), before) << "rank " << r;
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
