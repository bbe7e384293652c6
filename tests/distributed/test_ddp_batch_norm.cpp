// The DDP trainer refuses a model with batch norm on every rank, before any collective: each
// rank would otherwise normalise with its own shard's statistics, unlike one process on the
// whole batch.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/distributed/distributed_trainer.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/normalization.hpp"
#include "democratising/nn/sequential.hpp"
#include "ddp_fixture.hpp"

namespace dm::dist {
namespace {

Model batch_norm_model() {
  nn::Sequential layers;
  layers.add(nn::Dense(4, 6)).add(nn::BatchNorm1d(6)).add(nn::ReLU()).add(nn::Dense(6, 2));
  return std::move(layers).build();
}

TEST(DistributedTrainer, RefusesBatchNormOnEveryRank) {
  std::vector<Model> models;
  for (int r = 0; r < 2; ++r) models.push_back(batch_norm_model());
  std::atomic<int> refused{0};
  run_local(2, [&](World& world) {
    try {
      DistributedTrainer trainer(models[static_cast<std::size_t>(world.rank())], world);
      ADD_FAILURE() << "rank " << world.rank() << " accepted a model with batch norm";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("batch norm across ranks is not supported yet"), std::string::npos)
          << e.what();
      ++refused;
    }
  });
  EXPECT_EQ(refused.load(), 2);
}

TEST(DistributedTrainer, AcceptsGroupNorm) {
  std::vector<Model> models;
  for (int r = 0; r < 2; ++r) {
    nn::Sequential layers;
    layers.add(nn::Dense(4, 6)).add(nn::GroupNorm(3, 6)).add(nn::Dense(6, 2));
    models.push_back(std::move(layers).build());
  }
  manual_seed(2);
  const Tensor x = Tensor::randn({4, 4}), y = Tensor::randint(0, 2, Shape{4});
  run_local(2, [&](World& world) {
    DistributedTrainer trainer(models[static_cast<std::size_t>(world.rank())], world);
    trainer.train_step(x.narrow(0, 2 * world.rank(), 2), y.narrow(0, 2 * world.rank(), 2));
  });
}

}  // namespace
}  // namespace dm::dist
