// Bad command lines exit 2 with one line on stderr; a failed run exits 1 the same way.
#include "cli_runner.hpp"

namespace {

using namespace cli_test;

TEST(CliArguments, BadArgumentsExitTwo) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::vector<std::vector<std::string>> cases = {
      {},                                            // no subcommand
      {"fly"},                                       // unknown subcommand
      {"train", "--no-such-option"},
      {"train", "--epochs", "abc"},
      {"train", "--epochs", "-1"},
      {"train", "--batch-size", "0"},
      {"train", "--lr", "-0.1"},
      {"train", "--optimizer", "rmsprop"},
      {"train", "--momentum", "1.5"},
      {"train", "--threads", "0"},
      {"train", "--limit", "0"},
      {"train", "--model", "mlp:784-abc-10"},        // refused by the spec parser
      {"train", "--model", "resnet50"},
      {"eval"},                                      // --checkpoint is required
      {"eval", "--checkpoint"},                      // ... and needs a value
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    SCOPED_TRACE("dm " + joined);
    const Result r = run_dm(args, dir);
    expect_one_line_error(r, 2);
    EXPECT_EQ(r.out, "");
  }
}

TEST(CliArguments, HelpExitsZero) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  for (const auto& args : std::vector<std::vector<std::string>>{{"--help"}, {"train", "--help"}, {"eval", "--help"}}) {
    const Result r = run_dm(args, dir);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("--"), std::string::npos) << r.out;
  }
  const Result train_help = run_dm({"train", "--help"}, dir);
  for (const char* option : {"--model", "--epochs", "--batch-size", "--lr", "--optimizer", "--momentum", "--threads",
                             "--seed", "--checkpoint", "--resume", "--data", "--limit", "--metrics"})
    EXPECT_NE(train_help.out.find(option), std::string::npos) << option;
}

TEST(CliArguments, RunFailuresExitOne) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  // A data directory that is not there: the library's IoError, reported on one line.
  const Result no_data = run_dm({"train", "--data", (dir / "nowhere").string(), "--epochs", "1"}, dir);
  expect_one_line_error(no_data, 1);
  EXPECT_NE(no_data.err.find("nowhere"), std::string::npos) << no_data.err;
  const Result no_checkpoint = run_dm({"eval", "--checkpoint", (dir / "missing.safetensors").string()}, dir);
  expect_one_line_error(no_checkpoint, 1);
  const Result no_resume = run_dm(tiny_train({"--resume", (dir / "missing.safetensors").string()}), dir);
  expect_one_line_error(no_resume, 1);
  // A metrics file in a directory that does not exist.
  const Result bad_metrics = run_dm(tiny_train({"--metrics", (dir / "no" / "such" / "m.jsonl").string()}), dir);
  expect_one_line_error(bad_metrics, 1);
}

}  // namespace
