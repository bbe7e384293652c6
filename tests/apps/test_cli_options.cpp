// dm's newer options and their errors: --device, models that do not fit the data, readable
// ranges, unknown commands, --summary and the help texts.
#include <regex>

#include "cli_runner.hpp"
#include "democratising/base/device.hpp"

namespace {

using namespace cli_test;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(CliDevice, MalformedDevicesAreUsageErrors) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  for (const std::string device : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:+1", "cuda0", "cuda:1x", "CPU", ""}) {
    SCOPED_TRACE("'" + device + "'");
    for (const char* command : {"train", "eval"}) {
      std::vector<std::string> args = {command, "--device", device};
      if (std::string(command) == "eval") args.insert(args.end(), {"--checkpoint", (dir / "none").string()});
      const Result r = run_dm(args, dir);
      expect_one_line_error(r, 2);
      EXPECT_TRUE(contains(r.err, "--device")) << r.err;
      EXPECT_TRUE(contains(r.err, "cuda:N")) << r.err;
    }
  }
}

TEST(CliDevice, AMissingGpuIsAnErrorBeforeAnythingStarts) {
  DM_REQUIRE_CLI_AND_DATA();
  if (dm::cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present: this checks the path without one";
  ScratchDir dir;
  // The data directory and the checkpoint do not exist either: the device is checked first.
  const std::string nowhere = (dir / "nowhere").string();
  const std::vector<std::vector<std::string>> cases = {
      {"train", "--device", "cuda", "--data", nowhere, "--epochs", "1"},
      {"train", "--device", "cuda:3", "--data", nowhere, "--metrics", (dir / "m.jsonl").string()},
      {"eval", "--device", "cuda:0", "--checkpoint", (dir / "missing.safetensors").string()},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(args[0] + " " + args[2]);
    const Result r = run_dm(args, dir);
    expect_one_line_error(r, 1);
    EXPECT_TRUE(contains(r.err, "--device " + args[2])) << r.err;
    EXPECT_TRUE(contains(r.err, dm::cuda::is_built() ? dm::cuda::unavailable_reason() : "without CUDA")) << r.err;
    EXPECT_TRUE(contains(r.err, "use --device cpu")) << r.err;
    EXPECT_FALSE(contains(r.err, "nowhere")) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(fs::exists(dir / "m.jsonl")) << "the metrics file was started before the device was checked";
  // --device cpu is what runs everywhere.
  const Result cpu = run_dm({"train", "--device", "cpu", "--limit", "200", "--epochs", "1", "--model", "mlp:784-8-10"}, dir);
  EXPECT_EQ(cpu.exit_code, 0) << cpu.err;
}

TEST(CliDevice, DistributedOnAMissingGpuIsAnErrorBeforeAnyCollective) {
  DM_REQUIRE_CLI_AND_DATA();
  if (dm::cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present: this checks the path without one";
  ScratchDir dir;
  const std::string nowhere = (dir / "nowhere").string();
  const Result r = run_dm({"train", "--distributed", "--device", "cuda", "--data", nowhere, "--epochs", "1"}, dir);
  expect_one_line_error(r, 1);
  EXPECT_TRUE(contains(r.err, "--device cuda")) << r.err;
  EXPECT_TRUE(contains(r.err, dm::cuda::is_built() ? dm::cuda::unavailable_reason() : "without CUDA")) << r.err;
  EXPECT_FALSE(contains(r.err, "nowhere")) << r.err;
  EXPECT_FALSE(contains(r.err, "MPI")) << r.err;
  EXPECT_EQ(r.out, "");
  // Each rank takes the GPU of its local rank: naming one is a usage error, said first.
  const Result named = run_dm({"train", "--distributed", "--device", "cuda:1", "--data", nowhere}, dir);
  expect_one_line_error(named, 2);
  EXPECT_TRUE(contains(named.err, "local rank")) << named.err;
}

TEST(CliModelFit, SizesThatDoNotMatchTheDataNameBoth) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const struct {
    std::vector<std::string> args;
    const char* model_size;
    const char* data_size;
  } cases[] = {
      {{"train", "--model", "mlp:100-10"}, "takes 100 inputs", "784"},
      {{"train", "--model", "mlp:100-32-10", "--summary"}, "takes 100 inputs", "784"},
      {{"train", "--model", "mlp:784-32-5"}, "gives 5 outputs", "10 classes"},
      {{"train", "--model", "mlp:784-12"}, "gives 12 outputs", "10 classes"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args[2]);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::string> args = c.args;
    if (args[0] == "train") args.insert(args.end(), {"--limit", "100", "--epochs", "1"});
    const Result r = run_dm(args, dir);
    expect_one_line_error(r, 2);
    EXPECT_TRUE(contains(r.err, c.model_size)) << r.err;
    EXPECT_TRUE(contains(r.err, c.data_size)) << r.err;
    EXPECT_TRUE(contains(r.err, c.args[2])) << r.err;
    EXPECT_EQ(r.out, "") << "training started";
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 60.0);
  }
}

TEST(CliModelFit, EvalOfACheckpointWithAnExplicitMismatchedModel) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string ckpt = (dir / "c.safetensors").string();
  ASSERT_EQ(run_dm({"train", "--limit", "200", "--epochs", "1", "--model", "mlp:784-8-10", "--checkpoint", ckpt}, dir)
                .exit_code,
            0);
  const Result r = run_dm({"eval", "--checkpoint", ckpt, "--model", "mlp:784-8-7"}, dir);
  expect_one_line_error(r, 2);
  EXPECT_TRUE(contains(r.err, "gives 7 outputs")) << r.err;
}

TEST(CliRanges, RangeErrorsAreShortAndReadable) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const struct {
    std::vector<std::string> args;
    const char* says;
  } cases[] = {
      {{"train", "--limit", "0"}, "--limit: must be > 0, got 0"},
      {{"train", "--limit", "-5"}, "must be > 0"},
      {{"train", "--stop-after", "0"}, "--stop-after: must be > 0, got 0"},
      {{"train", "--log-every", "0"}, "--log-every: must be > 0, got 0"},
      {{"train", "--limit", "99999999999999999999999"}, "must be > 0"},
      {{"train", "--threads", "0"}, "--threads: must lie in [1, 65536], got 0"},
      {{"train", "--threads", "70000"}, "must lie in [1, 65536], got 70000"},
      {{"train", "--bucket-kb", "0"}, "--bucket-kb: must be > 0"},
      {{"train", "--collective-timeout-ms", "-1"}, "must be > 0"},
      {{"eval", "--checkpoint", "x", "--batch-size", "0"}, "--batch-size: must be > 0, got 0"},
      {{"eval", "--checkpoint", "x", "--threads", "0"}, "must lie in [1, 65536]"},
  };
  const std::regex long_number("[0-9]{40}");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args[1] + " " + c.args.back());
    const Result r = run_dm(c.args, dir);
    expect_one_line_error(r, 2);
    EXPECT_TRUE(contains(r.err, c.says)) << r.err;
    EXPECT_FALSE(std::regex_search(r.err, long_number)) << r.err;
    EXPECT_LT(r.err.size(), 200u) << r.err;
  }
}

TEST(CliCommands, AnUnknownCommandIsNamedWithTheCommandsThereAre) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const Result r = run_dm({"frobnicate", "--epochs", "2"}, dir);
  expect_one_line_error(r, 2);
  EXPECT_TRUE(contains(r.err, "unknown command 'frobnicate'")) << r.err;
  for (const char* command : {"train", "eval", "ps", "report"}) EXPECT_TRUE(contains(r.err, command)) << r.err;
  // A mistyped name of a real one.
  const Result typo = run_dm({"trian"}, dir);
  expect_one_line_error(typo, 2);
  EXPECT_TRUE(contains(typo.err, "unknown command 'trian'")) << typo.err;
}

TEST(CliSummary, PrintsTheLayersAndExitsWithoutTraining) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  // No data is read, no metrics or checkpoint written.
  const Result r = run_dm({"train", "--summary", "--model", "mlp:784-32-16-10", "--data", (dir / "nowhere").string(),
                           "--metrics", (dir / "m.jsonl").string(), "--checkpoint", (dir / "c.safetensors").string()},
                          dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part : {"mlp:784-32-16-10", "Dense(784 -> 32)", "ReLU", "Dense(32 -> 16)", "Dense(16 -> 10)",
                           "(1, 32)", "(1, 16)", "(1, 10)", "25,120", "528", "170", "total", "25,818"})
    EXPECT_TRUE(contains(r.out, part)) << part << "\n" << r.out;
  EXPECT_FALSE(contains(r.out, "epoch")) << r.out;
  EXPECT_FALSE(contains(r.out, "test accuracy")) << r.out;
  EXPECT_FALSE(fs::exists(dir / "m.jsonl"));
  EXPECT_FALSE(fs::exists(dir / "c.safetensors"));
  // Five layers: three Dense, two ReLU.
  int rows = 0;
  for (const auto& line : Result::lines(r.out)) rows += contains(line, "Dense(") || contains(line, "ReLU");
  EXPECT_EQ(rows, 5);
}

TEST(CliHelp, NewOptionsAndTheDefaultsAreExplained) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const Result train = run_dm({"train", "--help"}, dir);
  ASSERT_EQ(train.exit_code, 0);
  for (const char* part : {"--device", "--log-every", "--summary", "cuda:N", "library", "lr 0.05", "lr 0.001"})
    EXPECT_TRUE(contains(train.out, part)) << part;
  const Result top = run_dm({"--help"}, dir);
  ASSERT_EQ(top.exit_code, 0);
  EXPECT_TRUE(contains(top.out, "report")) << top.out;
  const Result report = run_dm({"report", "--help"}, dir);
  ASSERT_EQ(report.exit_code, 0);
  EXPECT_TRUE(contains(report.out, "--output")) << report.out;
  const Result eval = run_dm({"eval", "--help"}, dir);
  EXPECT_TRUE(contains(eval.out, "--device")) << eval.out;
}

}  // namespace
