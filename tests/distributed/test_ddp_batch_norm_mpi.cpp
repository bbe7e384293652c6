// Synchronised batch norm across real processes: the launcher test starts `mpirun -np 2` on
// this binary; the MpiRankBatchNorm tests are what each rank runs (they skip elsewhere). And
// `mpirun -np 2 dm train --distributed --model cnn`, whose blocks hold batch norm.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "apps/cli_runner.hpp"
#include "batch_norm_models.hpp"
#include "ddp_fixture.hpp"
#include "democratising/distributed/distributed_trainer.hpp"
#include "democratising/distributed/world.hpp"
#include "democratising/io/safetensors.hpp"
#include "mpi_launch.hpp"

namespace dm::dist {
namespace {

using namespace testing;

TEST(MpiLaunch, SynchronisedBatchNormAcrossTwoProcesses) {
  const MpiRunResult run = mpi_run(2, "MpiRankBatchNorm.*");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::size_t passed = 0;
  for (std::size_t at = run.output.find("[  PASSED  ]"); at != std::string::npos; at = run.output.find("[  PASSED  ]", at + 1))
    ++passed;
  EXPECT_EQ(passed, 2u) << run.output;
  EXPECT_EQ(run.output.find("[  SKIPPED ]"), std::string::npos) << run.output;
}

// Batch 2 x 16, three steps of the Dense and the Conv model: each process trains on its half
// under MPI and, alone, on the whole batch; the two agree (tolerances as in
// batch_norm_models.hpp), and both ranks hold the same bits, running statistics included.
TEST(MpiRankBatchNorm, TrainingOnTwoProcessesIsTrainingOnTheWholeBatch) {
  if (!inside_mpi_run()) GTEST_SKIP() << "runs inside `mpirun`, started by the MpiLaunch tests";
  static World world = World::mpi();
  ASSERT_EQ(world.size(), 2);
  for (auto make : {&batch_norm_mlp, &batch_norm_cnn}) {
    for (DType dtype : {DType::f32, DType::f64}) {
      SCOPED_TRACE(std::string(make == &batch_norm_cnn ? "conv " : "dense ") + std::string(dtype_name(dtype)));
      manual_seed(31);
      std::vector<Tensor> xs, ys;
      for (int step = 0; step < 3; ++step) {
        xs.push_back((Tensor::randn(make == &batch_norm_cnn ? Shape{32, 1, 6, 6} : Shape{32, 5}) * 1.5 + 0.3).to(dtype));
        ys.push_back(Tensor::randint(0, 3, Shape{32}));
      }
      Model whole = make(1, dtype);
      for (int step = 0; step < 3; ++step) whole.train_step(xs[static_cast<std::size_t>(step)], ys[static_cast<std::size_t>(step)]);
      // Another seed on rank 1: the trainer's broadcast must even the parameters out.
      Model model = make(world.rank() == 0 ? 1 : 9, dtype);
      DistributedTrainer trainer(model, world, {.bucket_bytes = 256});
      for (int step = 0; step < 3; ++step)
        trainer.train_step(shard(xs[static_cast<std::size_t>(step)], world), shard(ys[static_cast<std::size_t>(step)], world));
      const std::vector<double> mine = model_state(model);
      expect_state_close(mine, model_state(whole), dtype, "rank " + std::to_string(world.rank()));
      const Tensor all = world.all_gather(Tensor::from_vector<double>(mine, Shape{static_cast<std::int64_t>(mine.size())}));
      EXPECT_EQ(all.select(0, 1).to_vector<double>(), all.select(0, 0).to_vector<double>())
          << "the ranks' parameters or running statistics differ";
    }
  }
}

TEST(MpiLaunch, DmTrainDistributedCnnAcrossTwoProcesses) {
  DM_REQUIRE_CLI_AND_DATA();
  cli_test::ScratchDir dir;
  const std::string checkpoint = (dir / "cnn.safetensors").string();
  MpiJob job(2, cli_test::kDmPath,
             {"train", "--distributed", "--model", "cnn:4-8-16", "--limit", "512", "--batch-size", "32", "--epochs", "1",
              "--lr", "0.1", "--schedule", "constant", "--threads", "1", "--seed", "3", "--checkpoint", checkpoint});
  ASSERT_TRUE(job.started()) << job.start_error();
  ASSERT_EQ(job.wait(std::chrono::seconds(180)), 0) << job.output();
  EXPECT_NE(job.output().find("test accuracy: 0."), std::string::npos) << job.output();
  // The running statistics moved away from where they start (means 0, variances 1).
  int moved = 0;
  for (const auto& [name, t] : io::load_safetensors_contents(checkpoint).tensors) {
    if (name.find("running_mean") == std::string::npos) continue;
    for (double v : t.to_vector<double>()) moved += v != 0.0;
  }
  EXPECT_GT(moved, 0) << "no running mean of the checkpoint moved";
}

}  // namespace
}  // namespace dm::dist
