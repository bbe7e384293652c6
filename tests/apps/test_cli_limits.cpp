// dm at the edges of its inputs: sizes that overflow, settings a checkpoint smuggles past the
// flags' rules, FIFOs and devices named as files, empty splits, and runs that diverge. Each is
// one "dm: error:" line and a non-zero exit, promptly; none is a crash, a hang, or a file
// replaced that should not be.
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "cli_runner.hpp"
#include "democratising/io/safetensors.hpp"
#include "io/idx_fixtures.hpp"

namespace {

using namespace cli_test;

constexpr int kSeconds = 120;

/// run_dm under a deadline: a command that hangs or loops is killed and reported as exit 137.
Result run_dm_within(const std::vector<std::string>& args, const ScratchDir& scratch) {
  static int counter = 0;
  std::string out_name = "limits_out_", err_name = "limits_err_";
  out_name += std::to_string(counter);
  err_name += std::to_string(counter);
  ++counter;
  std::string command = "timeout -s KILL " + std::to_string(kSeconds) + " " + shell_quote(kDmPath);
  for (const auto& a : args) {
    command += ' ';
    command += shell_quote(a);
  }
  command += " > " + shell_quote((scratch / out_name).string()) + " 2> " + shell_quote((scratch / err_name).string()) +
             " < /dev/null";
  const int status = std::system(command.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = read_file(scratch / out_name);
  r.err = read_file(scratch / err_name);
  return r;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool still_a_fifo(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

/// A finished one-epoch run's checkpoint of a small model.
std::string small_checkpoint(const ScratchDir& dir, const std::string& name) {
  const std::string path = (dir / name).string();
  const Result r = run_dm_within(
      {"train", "--limit", "300", "--epochs", "2", "--stop-after", "1", "--model", "mlp:784-8-10", "--checkpoint", path},
      dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

/// A copy of checkpoint `from` at `to` whose metadata has key = value.
void copy_with_metadata(const std::string& from, const std::string& to, const std::string& key, const std::string& value) {
  dm::io::SafetensorsContents contents = dm::io::load_safetensors_contents(from);
  contents.metadata[key] = value;
  dm::io::save_safetensors(to, contents.tensors, contents.metadata);
}

TEST(CliLimits, ModelSizesThatOverflowAreOneLineErrorsNamingTheSize) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const struct {
    const char* spec;
    const char* named;  // the size the message must name
  } cases[] = {
      {"mlp:784-4611686018427387904-10", "4611686018427387904"},  // 784 * 2^62 wraps to 0
      {"mlp:784-9223372036854775807-10", "9223372036854775807"},
      // Elements that fit an int64, bytes (2.8 PiB) that no address space holds.
      {"mlp:784-1000000000000-10", "3136000000000000"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.spec);
    const Result r = run_dm_within({"train", "--limit", "100", "--epochs", "1", "--model", c.spec}, dir);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_LT(r.exit_code, 3) << "killed or crashed: " << r.err;
    expect_one_line_error(r, r.exit_code);
    EXPECT_TRUE(contains(r.err, c.named)) << r.err;
  }
}

TEST(CliLimits, HugeBatchAndShardSizesAreRefusedByTheFlagRules) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string huge = std::to_string(std::numeric_limits<std::int64_t>::max());
  for (const char* flag : {"--batch-size", "--shard-size"}) {
    SCOPED_TRACE(flag);
    const Result r = run_dm_within({"train", "--limit", "100", "--epochs", "1", flag, huge}, dir);
    expect_one_line_error(r, 2);
    EXPECT_TRUE(contains(r.err, flag)) << r.err;
    EXPECT_TRUE(contains(r.err, huge)) << r.err;
    EXPECT_FALSE(contains(r.err, "-4611686018427387904")) << r.err;  // the wrapped half of INT64_MAX + 1
  }
  // The largest accepted batch is more than the dataset: one batch per epoch, and it trains.
  const Result whole = run_dm_within({"train", "--limit", "100", "--epochs", "1", "--model", "mlp:784-8-10",
                                      "--batch-size", "4294967295", "--shard-size", "4294967295"},
                                     dir);
  EXPECT_EQ(whole.exit_code, 0) << whole.err;
  // Values the old CLI11 checks refused stay refused.
  for (const auto& args : std::vector<std::vector<std::string>>{{"--lr", "inf"}, {"--lr", "nan"}, {"--momentum", "-0.5"},
                                                                 {"--schedule", "step"}, {"--shard-size", "-1"}}) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    const Result r = run_dm_within({"train", "--epochs", "1", args[0], args[1]}, dir);
    expect_one_line_error(r, 2);
    EXPECT_TRUE(contains(r.err, args[0])) << r.err;
  }
}

TEST(CliLimits, ResumedMetadataObeysTheFlagRules) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string good = small_checkpoint(dir, "good.safetensors");
  const std::string huge = std::to_string(std::numeric_limits<std::int64_t>::max());
  const struct {
    const char* key;
    std::string value;
    const char* named;
  } cases[] = {
      {"momentum", "2.5", "--momentum"},
      {"batch_size", huge, "--batch-size"},
      {"shard_size", huge, "--shard-size"},
      {"lr", "-1", "--lr"},
      {"optimizer", "rmsprop", "--optimizer"},
      {"epochs", "4294967296", "--epochs"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.key) + "=" + c.value);
    const std::string tampered = (dir / (std::string("bad_") + c.key + ".safetensors")).string();
    copy_with_metadata(good, tampered, c.key, c.value);
    const Result r = run_dm_within({"train", "--resume", tampered}, dir);
    expect_one_line_error(r, 1);
    EXPECT_TRUE(contains(r.err, tampered)) << r.err;
    EXPECT_TRUE(contains(r.err, c.named)) << r.err;
    EXPECT_TRUE(contains(r.err, c.value)) << r.err;
  }
  // A model of impossible size recorded in the file: an error naming the size, not a crash.
  const std::string big_model = (dir / "bad_model.safetensors").string();
  copy_with_metadata(good, big_model, "model", "mlp:784-4611686018427387904-10");
  const Result r = run_dm_within({"train", "--resume", big_model}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 3) << "killed or crashed: " << r.err;
  expect_one_line_error(r, r.exit_code);
  EXPECT_TRUE(contains(r.err, "4611686018427387904")) << r.err;
  // The untouched file still resumes.
  EXPECT_EQ(run_dm_within({"train", "--resume", good}, dir).exit_code, 0);
}

TEST(CliLimits, FifosAreRefusedPromptlyAndLeftAsTheyWere) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::vector<std::vector<std::string>> cases = {
      {"train", "--limit", "100", "--epochs", "1", "--model", "mlp:784-8-10", "--checkpoint", fifo.string()},
      {"train", "--resume", fifo.string()},
      {"eval", "--checkpoint", fifo.string()},
      {"ps", "serve", "--port", "0", "--secret-file", fifo.string()},
      {"ps", "work", "--port", "1", "--secret-file", fifo.string()},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    const auto start = std::chrono::steady_clock::now();
    const Result r = run_dm_within(args, dir);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    expect_one_line_error(r, 1);
    EXPECT_TRUE(contains(r.err, "not a regular file")) << r.err;
    EXPECT_LT(seconds, 60.0);
    EXPECT_TRUE(still_a_fifo(fifo)) << "the FIFO was replaced";
  }
}

TEST(CliLimits, DevNullAsACheckpointStaysADevice) {
  DM_REQUIRE_CLI_AND_DATA();
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: only root can replace /dev/null";
  ScratchDir dir;
  const Result r = run_dm_within(
      {"train", "--limit", "100", "--epochs", "1", "--model", "mlp:784-8-10", "--checkpoint", "/dev/null"}, dir);
  expect_one_line_error(r, 1);
  EXPECT_TRUE(contains(r.err, "character device")) << r.err;
  struct stat st {};
  ASSERT_EQ(::lstat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST(CliLimits, AnEmptyTrainingSplitIsAnError) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path data = dir / "data";
  fs::create_directory(data);
  auto write = [&](const std::string& name, const dm::testing::Bytes& bytes) {
    std::ofstream out(data / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  };
  write("train-images-idx3-ubyte", dm::testing::idx_bytes(0x08, {0, 28, 28}, {}));
  write("train-labels-idx1-ubyte", dm::testing::idx_bytes(0x08, {0}, {}));
  write("t10k-images-idx3-ubyte", dm::testing::idx_bytes(0x08, {1, 28, 28}, dm::testing::Bytes(784, std::byte{0})));
  write("t10k-labels-idx1-ubyte", dm::testing::idx_bytes(0x08, {1}, {std::byte{0}}));
  const Result r = run_dm_within({"train", "--data", data.string(), "--epochs", "1", "--model", "mlp:784-8-10"}, dir);
  expect_one_line_error(r, 1);
  EXPECT_TRUE(contains(r.err, "train-images-idx3-ubyte")) << r.err;
  EXPECT_EQ(r.out, "");  // no epoch line claiming 0 samples/s
}

TEST(CliLimits, ADivergedRunStopsAndKeepsTheLastGoodCheckpoint) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string checkpoint = small_checkpoint(dir, "run.safetensors");
  const std::string before = read_file(checkpoint);
  // The same run's second epoch at a rate that diverges (within 16 steps at a constant 100).
  const std::vector<std::string> diverging = {"--lr", "100", "--schedule", "constant", "--limit", "1000"};
  std::vector<std::string> args = {"train", "--resume", checkpoint, "--checkpoint", checkpoint};
  args.insert(args.end(), diverging.begin(), diverging.end());
  const Result r = run_dm_within(args, dir);
  expect_one_line_error(r, 1);
  EXPECT_TRUE(contains(r.err, "[dm train] epoch 2 step ")) << r.err;
  EXPECT_TRUE(contains(r.err, "diverged")) << r.err;
  EXPECT_FALSE(contains(r.out, "nan")) << r.out;
  EXPECT_EQ(read_file(checkpoint), before) << "the finite checkpoint was overwritten";

  // Skipping instead: the run ends, says how many steps it skipped, and what it saves is finite.
  const std::string skipped = (dir / "skipped.safetensors").string();
  args = {"train", "--resume", checkpoint, "--on-non-finite", "skip", "--checkpoint", skipped};
  args.insert(args.end(), diverging.begin(), diverging.end());
  const Result s = run_dm_within(args, dir);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_TRUE(contains(s.err, "skipped")) << s.err;
  for (const auto& [name, t] : dm::io::load_safetensors(skipped))
    for (float v : t.contiguous().to(dm::DType::f32).to_vector<float>()) ASSERT_TRUE(std::isfinite(v)) << name;
}

TEST(CliLimits, EvalRefusesANonFiniteCheckpointUnlessAsked) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string good = small_checkpoint(dir, "good.safetensors");
  dm::io::SafetensorsContents contents = dm::io::load_safetensors_contents(good);
  for (auto& [name, t] : contents.tensors)
    if (name == "param.0.weight") t.view({-1}).narrow(0, 5, 1).fill_(std::numeric_limits<double>::quiet_NaN());
  const std::string bad = (dir / "nan.safetensors").string();
  dm::io::save_safetensors(bad, contents.tensors, contents.metadata);

  const Result refused = run_dm_within({"eval", "--checkpoint", bad}, dir);
  expect_one_line_error(refused, 1);
  EXPECT_TRUE(contains(refused.err, "param.0.weight")) << refused.err;
  const Result allowed = run_dm_within({"eval", "--checkpoint", bad, "--allow-non-finite"}, dir);
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  const Result resumed = run_dm_within({"train", "--resume", bad}, dir);
  expect_one_line_error(resumed, 1);
}

}  // namespace
