// `mpirun -np 2 dm train --distributed` with --checkpoint, --stop-after and --resume: a run
// stopped after an epoch and resumed ends with the very checkpoint (every tensor, bit for bit,
// and the same record) of the run that went straight through, with and without bf16
// compression, whose error-feedback residuals are part of what the checkpoint carries; and the
// tcp ring trains to the same checkpoint as MPI.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "apps/cli_runner.hpp"
#include "democratising/io/safetensors.hpp"
#include "mpi_launch.hpp"

namespace {

using namespace std::chrono_literals;
using dm::dist::testing::MpiJob;

struct JobResult {
  int exit_code = -1;
  std::string log;
};

JobResult run_dm_ranks(int ranks, const std::vector<std::string>& args) {
  MpiJob job(ranks, cli_test::kDmPath, args);
  if (!job.started()) return {-2, job.start_error()};
  JobResult r;
  r.exit_code = job.wait(180s);
  r.log = job.output();
  return r;
}

// A small run: 640 samples in batches of 64, three epochs, one thread per rank.
std::vector<std::string> small_run(std::vector<std::string> extra) {
  std::vector<std::string> args{"train",   "--distributed", "--model", "mlp:784-32-10", "--limit", "640",
                                "--batch-size", "64",        "--epochs", "3",            "--seed",  "7",
                                "--threads", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

bool same_bits(const dm::Tensor& a, const dm::Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const dm::Tensor ca = a.contiguous(), cb = b.contiguous();
  const std::size_t bytes = static_cast<std::size_t>(ca.numel()) * dm::itemsize(ca.dtype());
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), bytes) == 0;
}

void expect_same_checkpoints(const std::string& straight, const std::string& resumed) {
  const dm::io::SafetensorsContents a = dm::io::load_safetensors_contents(straight);
  const dm::io::SafetensorsContents b = dm::io::load_safetensors_contents(resumed);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  std::map<std::string, dm::Tensor> by_name(b.tensors.begin(), b.tensors.end());
  for (const auto& [name, t] : a.tensors) {
    ASSERT_TRUE(by_name.count(name)) << name << " is missing from the resumed run's checkpoint";
    EXPECT_TRUE(same_bits(t, by_name.at(name))) << name << " differs";
  }
  // The record too: epochs done, the generator's state, the settings.
  EXPECT_EQ(a.metadata, b.metadata);
}

void stop_resume_and_compare(const std::vector<std::string>& compress) {
  cli_test::ScratchDir dir;
  const std::string straight = (dir / "straight.safetensors").string();
  const std::string stopped = (dir / "stopped.safetensors").string();
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), compress.begin(), compress.end());
    return small_run(extra);
  };
  const JobResult a = run_dm_ranks(2, with({"--checkpoint", straight}));
  ASSERT_EQ(a.exit_code, 0) << a.log;
  const JobResult b1 = run_dm_ranks(2, with({"--checkpoint", stopped, "--stop-after", "1"}));
  ASSERT_EQ(b1.exit_code, 0) << b1.log;
  EXPECT_NE(b1.log.find("epoch 1/3"), std::string::npos) << b1.log;
  EXPECT_EQ(b1.log.find("epoch 2/3"), std::string::npos) << b1.log;
  // Everything else (model, data, epochs, seed, compression) comes from the checkpoint.
  const JobResult b2 = run_dm_ranks(2, {"train", "--distributed", "--resume", stopped, "--checkpoint", stopped,
                                        "--threads", "1"});
  ASSERT_EQ(b2.exit_code, 0) << b2.log;
  EXPECT_EQ(b2.log.find("epoch 1/3"), std::string::npos) << b2.log;
  EXPECT_NE(b2.log.find("epoch 3/3"), std::string::npos) << b2.log;
  expect_same_checkpoints(straight, stopped);
}

TEST(MpiLaunch, DistributedRunStoppedAndResumedEqualsTheStraightRunBitwise) {
  DM_REQUIRE_CLI_AND_DATA();
  stop_resume_and_compare({});
}

TEST(MpiLaunch, CompressedDistributedRunStoppedAndResumedEqualsTheStraightRunBitwise) {
  DM_REQUIRE_CLI_AND_DATA();
  stop_resume_and_compare({"--compress", "bf16"});
}

TEST(MpiLaunch, CompressedCheckpointHoldsEveryRanksResidualsAndResumesOnlyWithAsManyRanks) {
  DM_REQUIRE_CLI_AND_DATA();
  cli_test::ScratchDir dir;
  const std::string path = (dir / "run.safetensors").string();
  const JobResult run =
      run_dm_ranks(2, small_run({"--compress", "bf16", "--stop-after", "1", "--checkpoint", path, "--ddp-verbose"}));
  ASSERT_EQ(run.exit_code, 0) << run.log;
  EXPECT_NE(run.log.find("compression bf16 with error feedback"), std::string::npos) << run.log;
  EXPECT_NE(run.log.find("bucket 1 (sent first)"), std::string::npos) << run.log;

  const dm::io::SafetensorsContents contents = dm::io::load_safetensors_contents(path);
  EXPECT_EQ(contents.metadata.at("ddp_compress"), "bf16");
  EXPECT_EQ(contents.metadata.at("ddp_ranks"), "2");
  const dm::Tensor* residuals = nullptr;
  std::int64_t parameters = 0;
  for (const auto& [name, t] : contents.tensors) {
    if (name == "extra.ddp.residuals") residuals = &t;
    if (name.rfind("param.", 0) == 0) parameters += t.numel();
  }
  ASSERT_NE(residuals, nullptr);
  ASSERT_EQ(residuals->shape(), dm::Shape({2, parameters}));
  EXPECT_GT(residuals->abs().sum().item<double>(), 0.0);
  EXPECT_NE(residuals->select(0, 0).to_vector<float>(), residuals->select(0, 1).to_vector<float>());

  // Three ranks cannot take two ranks' residuals: a usage error that says what to do.
  const JobResult three = run_dm_ranks(3, {"train", "--distributed", "--resume", path, "--threads", "1"});
  EXPECT_NE(three.exit_code, 0) << three.log;
  EXPECT_NE(three.log.find("compression residuals of 2 ranks, this job has 3"), std::string::npos) << three.log;
  // Without compression they are left unused, and dm eval reads the checkpoint as any other.
  const JobResult plain = run_dm_ranks(3, {"train", "--distributed", "--resume", path, "--compress", "none",
                                           "--stop-after", "1", "--threads", "1"});
  EXPECT_EQ(plain.exit_code, 0) << plain.log;
  const cli_test::Result eval = cli_test::run_dm({"eval", "--checkpoint", path}, dir);
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
}

// --all-reduce picks how the gradients are summed. On one host `automatic` takes MPI (shared
// memory); the tcp ring, asked for, trains to the very checkpoint MPI does: with two ranks each
// sum is one addition, whose result does not depend on its order.
TEST(MpiLaunch, DmTrainOverTheTcpRingEqualsMpiBitwise) {
  DM_REQUIRE_CLI_AND_DATA();
  cli_test::ScratchDir dir;
  const std::string by_mpi = (dir / "mpi.safetensors").string();
  const std::string by_ring = (dir / "ring.safetensors").string();
  const JobResult automatic = run_dm_ranks(2, small_run({"--stop-after", "1"}));
  ASSERT_EQ(automatic.exit_code, 0) << automatic.log;
  EXPECT_NE(automatic.log.find("all-reduces by mpi"), std::string::npos) << automatic.log;
  const JobResult mpi = run_dm_ranks(2, small_run({"--all-reduce", "mpi", "--checkpoint", by_mpi}));
  ASSERT_EQ(mpi.exit_code, 0) << mpi.log;
  const JobResult ring = run_dm_ranks(2, small_run({"--all-reduce", "tcp_ring", "--checkpoint", by_ring}));
  ASSERT_EQ(ring.exit_code, 0) << ring.log;
  EXPECT_NE(ring.log.find("all-reduces by tcp_ring"), std::string::npos) << ring.log;
  expect_same_checkpoints(by_mpi, by_ring);
}

TEST(DistributedFlags, AllReduceRouteWithoutDistributedOrUnknownIsAUsageError) {
  DM_REQUIRE_CLI_AND_DATA();
  cli_test::ScratchDir dir;
  const cli_test::Result alone = cli_test::run_dm(cli_test::tiny_train({"--all-reduce", "tcp_ring"}), dir);
  cli_test::expect_one_line_error(alone, 2);
  EXPECT_NE(alone.err.find("--all-reduce needs --distributed"), std::string::npos) << alone.err;
  const cli_test::Result unknown = cli_test::run_dm(cli_test::tiny_train({"--distributed", "--all-reduce", "carrier-pigeon"}), dir);
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("carrier-pigeon"), std::string::npos) << unknown.err;
}

TEST(DistributedFlags, CompressionWithoutDistributedIsAUsageError) {
  DM_REQUIRE_CLI_AND_DATA();
  cli_test::ScratchDir dir;
  const cli_test::Result r = cli_test::run_dm(cli_test::tiny_train({"--compress", "bf16"}), dir);
  cli_test::expect_one_line_error(r, 2);
  EXPECT_NE(r.err.find("--compress needs --distributed"), std::string::npos) << r.err;
}

}  // namespace
