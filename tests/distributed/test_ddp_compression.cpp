// The data-parallel trainer with bf16 compression on the in-process transport: the ranks stay
// bitwise equal step after step, a compressed step is the uncompressed one up to bf16
// rounding, the residuals are each rank's own and can be put back, and ranks that disagree
// about compression are told so instead of exchanging mismatched collectives.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <mutex>

#include "ddp_fixture.hpp"
#include "democratising/base/error.hpp"
#include "democratising/distributed/distributed_trainer.hpp"

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

constexpr DistributedOptions kCompressed{.bucket_bytes = 256, .compression = Compression::bf16};

TEST(CompressedDistributedTrainer, RanksStayBitwiseEqualOverManySteps) {
  const Problem p = random_problem(50);  // unequal shards on 3 ranks: 16, 17, 17
  for (int ranks : {2, 3}) {
    SCOPED_TRACE(ranks);
    std::vector<Model> models;
    for (int r = 0; r < ranks; ++r) models.push_back(make_mlp(100 + static_cast<std::uint64_t>(r), 20, 16, 4));
    std::vector<double> first_loss(static_cast<std::size_t>(ranks)), last_loss(static_cast<std::size_t>(ranks));
    run_local(ranks, [&](World& world) {
      const auto r = static_cast<std::size_t>(world.rank());
      DistributedTrainer trainer(models[r], world, kCompressed);
      EXPECT_GT(trainer.bucket_count(), 1);
      for (int step = 0; step < 8; ++step) {
        const double loss = trainer.train_step(shard(p.x, world), shard(p.y, world)).item<double>();
        if (step == 0) first_loss[r] = loss;
        last_loss[r] = loss;
        ASSERT_EQ(first_rank_with_other_parameters(world, models[r]), -1) << "after step " << step;
      }
      // Each rank's residuals are its own rounding errors: they differ between ranks.
      const Tensor residuals = world.all_gather(trainer.compression_residual());
      EXPECT_NE(residuals.select(0, 0).to_vector<float>(), residuals.select(0, 1).to_vector<float>());
    });
    EXPECT_LT(last_loss[0], first_loss[0]) << "compressed training should still learn";
  }
}

// The first step has no residual yet: each rank sends bf16(g_r), so the reduced gradient differs
// from the uncompressed sum by at most half a bf16 ulp of each rank's |g_r|, over the batch (the
// ranks' sum in f32 adds a few f32 ulps, far below that).
TEST(CompressedDistributedTrainer, AStepIsTheUncompressedOneUpToBf16Rounding) {
  const Problem p = random_problem(48);
  std::vector<Model> plain_models, compressed_models;
  for (int r = 0; r < 3; ++r) {
    plain_models.push_back(make_mlp(9, 20, 16, 4));
    compressed_models.push_back(make_mlp(9, 20, 16, 4));
  }
  std::vector<Tensor> plain(3), compressed(3), bound(3);
  run_local(3, [&](World& world) {
    const auto r = static_cast<std::size_t>(world.rank());
    const Tensor x = shard(p.x, world), y = shard(p.y, world);
    // This rank's own contribution, the gradient of its shard's summed loss.
    const Tensor mine = plain_models[r].compute_gradients(x, y).flat * static_cast<double>(x.size(0));
    Tensor tolerance = mine.abs() * std::ldexp(1.0, -8);
    world.all_reduce(tolerance, Reduction::Sum);
    bound[r] = tolerance / static_cast<double>(p.x.size(0)) + 1e-7;
    DistributedTrainer plain_trainer(plain_models[r], world, DistributedOptions{.bucket_bytes = 256});
    plain[r] = plain_trainer.compute_gradients(x, y).flat.clone();
    DistributedTrainer compressed_trainer(compressed_models[r], world, kCompressed);
    compressed[r] = compressed_trainer.compute_gradients(x, y).flat.clone();
  });
  const std::vector<float> want = plain[0].to_vector<float>(), got = compressed[0].to_vector<float>();
  const std::vector<float> tol = bound[0].to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_LE(std::abs(got[i] - want[i]), tol[i]) << "element " << i;
    differing += got[i] != want[i];
  }
  EXPECT_GT(differing, 0u) << "the compressed step should show bf16 rounding somewhere";
  EXPECT_EQ(compressed[1].to_vector<float>(), got);
  EXPECT_EQ(compressed[2].to_vector<float>(), got);
}

TEST(CompressedDistributedTrainer, OverlappedAndSequentialCommunicationGiveTheSameBits) {
  const Problem p = random_problem(32);
  std::vector<std::vector<float>> results;
  for (bool overlap : {true, false}) {
    std::vector<Model> models;
    for (int r = 0; r < 2; ++r) models.push_back(make_mlp(7, 20, 16, 4));
    DistributedOptions options = kCompressed;
    options.overlap = overlap;
    run_local(2, [&](World& world) {
      DistributedTrainer trainer(models[static_cast<std::size_t>(world.rank())], world, options);
      for (int step = 0; step < 3; ++step) trainer.train_step(shard(p.x, world), shard(p.y, world));
    });
    results.push_back(models[0].module().flat_parameters().to_vector<float>());
  }
  EXPECT_EQ(results[0], results[1]);
}

// Putting back the residuals a trainer had (as a resumed run does) continues its steps exactly.
TEST(CompressedDistributedTrainer, ResidualsPutBackContinueTheRunExactly) {
  const Problem p = random_problem(40);
  std::vector<Model> straight, resumed;
  for (int r = 0; r < 2; ++r) {
    straight.push_back(make_mlp(13, 20, 16, 4));
    resumed.push_back(make_mlp(13, 20, 16, 4));
  }
  std::vector<Tensor> saved(2);
  std::vector<Tensor> saved_params(2);
  run_local(2, [&](World& world) {
    const auto r = static_cast<std::size_t>(world.rank());
    DistributedTrainer trainer(straight[r], world, kCompressed);
    for (int step = 0; step < 5; ++step) {
      if (step == 3) {
        saved[r] = trainer.compression_residual();
        saved_params[r] = straight[r].module().flat_parameters().clone();
      }
      trainer.train_step(shard(p.x, world), shard(p.y, world));
    }
  });
  // SGD with momentum keeps state too: the second run repeats steps 0-2 to rebuild it, then
  // starts a fresh trainer (zero residuals) and puts the saved residuals in before step 3.
  run_local(2, [&](World& world) {
    const auto r = static_cast<std::size_t>(world.rank());
    {
      DistributedTrainer first(resumed[r], world, kCompressed);
      for (int step = 0; step < 3; ++step) first.train_step(shard(p.x, world), shard(p.y, world));
    }
    ASSERT_EQ(resumed[r].module().flat_parameters().to_vector<float>(), saved_params[r].to_vector<float>());
    DistributedTrainer second(resumed[r], world, kCompressed);
    EXPECT_EQ(second.compression_residual().abs().sum().item<double>(), 0.0);
    second.set_compression_residual(saved[r]);
    for (int step = 3; step < 5; ++step) second.train_step(shard(p.x, world), shard(p.y, world));
  });
  EXPECT_EQ(resumed[0].module().flat_parameters().to_vector<float>(),
            straight[0].module().flat_parameters().to_vector<float>());
}

TEST(CompressedDistributedTrainer, ResidualAccessorsCheckWhatTheyAreGiven) {
  run_local(1, [&](World& world) {
    Model plain_model = make_mlp(1, 20, 16, 4);
    DistributedTrainer plain(plain_model, world);
    EXPECT_FALSE(plain.compression_residual().defined());
    EXPECT_THROW(plain.set_compression_residual(Tensor::zeros(Shape{4})), ValueError);

    Model model = make_mlp(1, 20, 16, 4);
    DistributedTrainer trainer(model, world, kCompressed);
    const std::int64_t n = model.parameter_layout()->numel();
    EXPECT_EQ(trainer.compression_residual().shape(), Shape({n}));
    EXPECT_THROW(trainer.set_compression_residual(Tensor::zeros(Shape{n + 1})), ShapeError);
    EXPECT_THROW(trainer.set_compression_residual(Tensor::zeros(Shape{n}, DType::f64)), DTypeError);
    EXPECT_THROW(trainer.set_compression_residual(Tensor()), ShapeError);
    std::int64_t elements = 0;
    for (const BucketInfo& b : trainer.buckets()) {
      EXPECT_EQ(b.bytes, 2 * b.elements);  // bf16 on the wire
      EXPECT_FALSE(b.parameters.empty());
      elements += b.elements;
    }
    EXPECT_EQ(elements, n);
    // The last layer's parameters go first: backward finishes them first.
    EXPECT_EQ(trainer.buckets().front().parameters.back(), model.parameter_layout()->entries().back().name);
  });
}

TEST(CompressedDistributedTrainer, AnF64ModelIsADTypeError) {
  run_local(2, [&](World& world) {
    manual_seed(1);
    Model model = nn::Sequential().add(nn::Dense(4, 2, true, DType::f64)).build();
    EXPECT_THROW({ DistributedTrainer trainer(model, world, kCompressed); }, DTypeError);
  });
}

TEST(CompressedDistributedTrainer, RanksThatDisagreeAboutCompressionAreADistributedError) {
  std::vector<Model> models;
  for (int r = 0; r < 2; ++r) models.push_back(make_mlp(1, 20, 16, 4));
  int errors = 0;
  std::mutex mutex;
  run_local(2, [&](World& world) {
    DistributedOptions options{.bucket_bytes = 256};
    if (world.rank() == 1) options.compression = Compression::bf16;
    try {
      DistributedTrainer trainer(models[static_cast<std::size_t>(world.rank())], world, options);
    } catch (const DistributedError& e) {
      EXPECT_NE(std::string(e.what()).find("compression"), std::string::npos) << e.what();
      std::lock_guard lock(mutex);
      ++errors;
    }
  });
  EXPECT_EQ(errors, 2);
}

TEST(CompressedDistributedTrainer, ASkippedNonFiniteStepClearsTheResiduals) {
  Problem p = random_problem(12);
  std::vector<float> x = p.x.to_vector<float>();
  x[0] = std::numeric_limits<float>::quiet_NaN();  // rank 0's shard only
  const Tensor poisoned = Tensor::from_vector(x, p.x.shape());
  std::vector<Model> models;
  for (int r = 0; r < 2; ++r) models.push_back(make_mlp(4, 20, 16, 4));
  run_local(2, [&](World& world) {
    DistributedOptions options = kCompressed;
    options.non_finite = NonFinitePolicy::skip;
    DistributedTrainer trainer(models[static_cast<std::size_t>(world.rank())], world, options);
    trainer.train_step(shard(p.x, world), shard(p.y, world));
    EXPECT_GT(trainer.compression_residual().abs().sum().item<double>(), 0.0);
    trainer.train_step(shard(poisoned, world), shard(p.y, world));
    EXPECT_EQ(trainer.skipped_steps(), 1);
    EXPECT_EQ(trainer.compression_residual().abs().sum().item<double>(), 0.0);
    // And training goes on with finite values.
    const double loss = trainer.train_step(shard(p.x, world), shard(p.y, world)).item<double>();
    EXPECT_TRUE(std::isfinite(loss));
    EXPECT_TRUE(std::isfinite(models[static_cast<std::size_t>(world.rank())].module().flat_parameters().sum().item<double>()));
  });
}

}  // namespace
}  // namespace dm::dist
