// dm train: output format, determinism across thread counts, and bitwise resume.
#include <nlohmann/json.hpp>

#include <cmath>

#include "checkpoint_compare.hpp"
#include "cli_runner.hpp"
#include "democratising/io/safetensors.hpp"

namespace {

using namespace cli_test;
using nlohmann::json;

/// The records of a metrics file of one type ("epoch", "step" or "config"), in file order.
std::vector<json> records_of(const fs::path& path, const std::string& type) {
  std::vector<json> out;
  for (const auto& line : Result::lines(read_file(path))) {
    json record = json::parse(line);
    if (record.at("type") == type) out.push_back(std::move(record));
  }
  return out;
}

std::vector<json> metrics_of(const fs::path& path) { return records_of(path, "epoch"); }

/// The fields that depend only on the computation (not on timing), as the exact text written.
std::string deterministic_fields(const json& m) {
  return m.at("epoch").dump() + " " + m.at("train_loss").dump() + " " + m.at("test_loss").dump() + " " +
         m.at("test_accuracy").dump();
}

TEST(CliTrain, PrintsSummariesMetricsAndAccuracy) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const Result r = run_dm(tiny_train({"--metrics", (dir / "m.jsonl").string(), "--threads", "2"}), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = Result::lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0].rfind("epoch 1/2", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("train_loss"), std::string::npos);
  EXPECT_EQ(lines[1].rfind("epoch 2/2", 0), 0u) << lines[1];
  ASSERT_EQ(lines[2].rfind("test accuracy: 0.", 0), 0u) << lines[2];
  EXPECT_EQ(lines[2].size(), std::string("test accuracy: 0.xxxx").size());
  // stderr is not a terminal here: no progress line.
  EXPECT_EQ(r.err, "");

  const auto metrics = metrics_of(dir / "m.jsonl");
  ASSERT_EQ(metrics.size(), 2u);
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const json& m = metrics[i];
    EXPECT_EQ(m.at("epoch").get<int>(), static_cast<int>(i) + 1);
    for (const char* key : {"lr", "train_loss", "samples_per_s", "test_loss", "test_accuracy", "seconds"})
      EXPECT_TRUE(m.at(key).is_number()) << key;
    EXPECT_GT(m.at("samples_per_s").get<double>(), 0.0);
    EXPECT_GT(m.at("train_loss").get<double>(), 0.0);
  }
  // 2000 samples and two epochs already beat chance (10%) by far, and learning goes downhill.
  EXPECT_GT(metrics[1].at("test_accuracy").get<double>(), 0.6);
  EXPECT_LT(metrics[1].at("train_loss").get<double>(), metrics[0].at("train_loss").get<double>());
  char expected[64];
  std::snprintf(expected, sizeof expected, "test accuracy: %.4f", metrics[1].at("test_accuracy").get<double>());
  EXPECT_EQ(lines[2], expected);
}

TEST(CliTrain, SameSeedSameLossesForOneAndTwoThreads) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const Result one = run_dm(tiny_train({"--threads", "1", "--metrics", (dir / "t1.jsonl").string()}), dir);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const Result two = run_dm(tiny_train({"--threads", "2", "--metrics", (dir / "t2.jsonl").string()}), dir);
  ASSERT_EQ(two.exit_code, 0) << two.err;
  const auto m1 = metrics_of(dir / "t1.jsonl");
  const auto m2 = metrics_of(dir / "t2.jsonl");
  ASSERT_EQ(m1.size(), 2u);
  ASSERT_EQ(m2.size(), 2u);
  for (std::size_t i = 0; i < m1.size(); ++i) EXPECT_EQ(deterministic_fields(m1[i]), deterministic_fields(m2[i]));
  // A different seed gives a different run (so the comparison above can fail).
  const Result other = run_dm({"train", "--limit", "2000", "--epochs", "1", "--seed", "8", "--metrics",
                               (dir / "t3.jsonl").string()},
                              dir);
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(metrics_of(dir / "t3.jsonl")[0].at("train_loss").dump(), m1[0].at("train_loss").dump());
}

TEST(CliTrain, DefaultShardSizeFollowsTheModelNotTheThreads) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  // 784-1300-10 has 1,033,510 parameters: one shard per batch. 784-16-10: shards of max(32, 64/2).
  const struct {
    const char* model;
    const char* shard_size;
  } cases[] = {{"mlp:784-1300-10", "64"}, {"mlp:784-16-10", "32"}};
  for (const auto& c : cases) {
    std::vector<std::string> checkpoints;
    for (const char* threads : {"1", "2"}) {
      const std::string ckpt = (dir / (std::string("shard") + threads + ".safetensors")).string();
      const Result r = run_dm({"train", "--model", c.model, "--limit", "256", "--epochs", "1", "--batch-size", "64",
                               "--threads", threads, "--checkpoint", ckpt},
                              dir);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(dm::io::load_safetensors_metadata(ckpt).at("shard_size"), c.shard_size) << c.model;
      checkpoints.push_back(ckpt);
    }
    expect_same_tensors(checkpoints[0], checkpoints[1]);
  }
}

TEST(CliTrain, ResumeContinuesBitwise) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string whole = (dir / "whole.safetensors").string();
  const std::string half = (dir / "half.safetensors").string();
  const std::string resumed = (dir / "resumed.safetensors").string();

  const Result a = run_dm(tiny_train({"--checkpoint", whole, "--metrics", (dir / "a.jsonl").string()}), dir);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  // The same run stopped after its first epoch...
  const Result b1 = run_dm(
      {"train", "--limit", "2000", "--epochs", "2", "--stop-after", "1", "--seed", "7", "--checkpoint", half}, dir);
  ASSERT_EQ(b1.exit_code, 0) << b1.err;
  // ...then resumed without repeating its options: they come from the checkpoint.
  const Result b2 = run_dm({"train", "--resume", half, "--checkpoint", resumed, "--metrics",
                            (dir / "b.jsonl").string()},
                           dir);
  ASSERT_EQ(b2.exit_code, 0) << b2.err;
  const auto lines = Result::lines(b2.out);
  ASSERT_EQ(lines.size(), 2u) << b2.out;  // only epoch 2 ran
  EXPECT_EQ(lines[0].rfind("epoch 2/2", 0), 0u) << lines[0];

  const auto ma = metrics_of(dir / "a.jsonl");
  const auto mb = metrics_of(dir / "b.jsonl");
  ASSERT_EQ(ma.size(), 2u);
  ASSERT_EQ(mb.size(), 1u);
  EXPECT_EQ(deterministic_fields(ma[1]), deterministic_fields(mb[0]));
  expect_same_tensors(whole, resumed);
  EXPECT_EQ(Result::lines(a.out).back(), lines.back());  // the same final test accuracy

  const auto md = dm::io::load_safetensors_metadata(resumed);
  EXPECT_EQ(md.at("epoch"), "2");
  EXPECT_EQ(md.at("model"), "mlp:784-256-128-10");  // the default
  EXPECT_EQ(md.at("schedule"), "cosine");
  EXPECT_EQ(md.at("epochs"), "2");

  // Resuming a finished run trains nothing and reports the model as it is.
  const Result done = run_dm({"train", "--resume", whole, "--epochs", "2"}, dir);
  ASSERT_EQ(done.exit_code, 0) << done.err;
  ASSERT_EQ(Result::lines(done.out).size(), 1u) << done.out;
  EXPECT_EQ(Result::lines(done.out)[0], lines.back());
}

TEST(CliTrain, AdamRunsAndResumes) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string ckpt = (dir / "adam.safetensors").string();
  const Result a = run_dm({"train", "--limit", "1000", "--epochs", "1", "--optimizer", "adamw", "--lr", "0.001",
                           "--model", "mlp:784-32-10", "--checkpoint", ckpt},
                          dir);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(dm::io::load_safetensors_metadata(ckpt).at("optimizer"), "adamw");
  const Result b = run_dm({"train", "--resume", ckpt, "--epochs", "2"}, dir);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const Result e = run_dm({"eval", "--checkpoint", ckpt}, dir);
  ASSERT_EQ(e.exit_code, 0) << e.err;
}

}  // namespace

namespace {

TEST(CliTrain, MetricsStartWithTheConfigurationAndRecordTheRate) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path path = dir / "m.jsonl";
  // 2000 samples in batches of 64: 32 steps per epoch, 64 in the run; a record every 5 steps.
  const Result r = run_dm(tiny_train({"--model", "mlp:784-16-10", "--lr", "0.05", "--metrics", path.string(),
                                      "--log-every", "5", "--threads", "2"}),
                          dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = Result::lines(read_file(path));
  ASSERT_FALSE(lines.empty());
  const json config = json::parse(lines[0]);
  EXPECT_EQ(config.at("type"), "config");
  EXPECT_EQ(config.at("format"), "dm-metrics-1");
  EXPECT_EQ(config.at("model"), "mlp:784-16-10");
  EXPECT_EQ(config.at("lr").get<double>(), 0.05);
  EXPECT_EQ(config.at("epochs"), 2);
  EXPECT_EQ(config.at("batch_size"), 64);
  EXPECT_EQ(config.at("steps_per_epoch"), 32);
  EXPECT_EQ(config.at("parameters"), 784 * 16 + 16 + 16 * 10 + 10);
  EXPECT_EQ(config.at("seed"), 7);
  EXPECT_EQ(config.at("device"), "cpu");
  EXPECT_EQ(config.at("log_every"), 5);
  EXPECT_EQ(records_of(path, "config").size(), 1u);

  const auto epochs = metrics_of(path);
  ASSERT_EQ(epochs.size(), 2u);
  // Cosine over 64 steps: the first epoch starts at the peak, the second at the half-way
  // point, lr * (1 + cos(pi * 32 / 64)) / 2 = lr / 2.
  EXPECT_EQ(epochs[0].at("lr").get<double>(), 0.05);
  EXPECT_NEAR(epochs[1].at("lr").get<double>(), 0.025, 1e-12);

  const auto steps = records_of(path, "step");
  ASSERT_EQ(steps.size(), 12u);  // steps 5, 10, ..., 60
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const json& s = steps[i];
    const int step = static_cast<int>(5 * (i + 1));
    EXPECT_EQ(s.at("step"), step);
    EXPECT_EQ(s.at("epoch"), step <= 32 ? 1 : 2);
    EXPECT_GT(s.at("loss").get<double>(), 0.0);
    // The rate of step s (1-based) is the schedule at global step s - 1.
    const double expected = 0.05 * (1 + std::cos(3.141592653589793 * (step - 1) / 64.0)) / 2;
    EXPECT_NEAR(s.at("lr").get<double>(), expected, 1e-12) << step;
  }
  // The lines come in the order things happened: config, steps of epoch 1, epoch 1, ...
  EXPECT_EQ(json::parse(lines[1]).at("type"), "step");
  EXPECT_EQ(json::parse(lines.back()).at("type"), "epoch");
}

TEST(CliTrain, AResumedRunAddsAConfigRecordForItsPart) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string ckpt = (dir / "c.safetensors").string();
  const fs::path path = dir / "m.jsonl";
  ASSERT_EQ(run_dm({"train", "--limit", "500", "--epochs", "2", "--stop-after", "1", "--model", "mlp:784-8-10",
                    "--checkpoint", ckpt, "--metrics", path.string()},
                   dir)
                .exit_code,
            0);
  const Result r = run_dm({"train", "--resume", ckpt, "--metrics", path.string()}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto configs = records_of(path, "config");
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(configs[0].at("first_epoch"), 1);
  EXPECT_EQ(configs[1].at("first_epoch"), 2);
  EXPECT_EQ(configs[1].at("resumed_from"), ckpt);
  EXPECT_EQ(metrics_of(path).size(), 2u);
}

}  // namespace
