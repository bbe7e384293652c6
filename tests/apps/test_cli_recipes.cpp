// dm train's per-family recipes: what a run of each --model family trains with when the command
// line says nothing, flags that override them, and a resumed run keeping its checkpoint's
// settings. The "config" record of the metrics file states what the run used.
#include <regex>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

namespace {

using namespace cli_test;
using nlohmann::json;

// The config record of a one-epoch run on 128 samples of `model`, with `extra` flags.
json config_of(const std::string& model, std::vector<std::string> extra, const ScratchDir& dir,
               const std::string& name = "m.jsonl") {
  const fs::path path = dir / name;
  std::vector<std::string> args{"train", "--model", model, "--limit", "128", "--batch-size", "64", "--stop-after", "1",
                                "--threads", "1", "--metrics", path.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const Result r = run_dm(args, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto lines = Result::lines(read_file(path));
  if (lines.empty()) return json::object();
  return json::parse(lines[0]);
}

void expect_recipe(const json& config, const char* optimizer, double lr, int epochs) {
  EXPECT_EQ(config.at("optimizer"), optimizer) << config.dump();
  EXPECT_EQ(config.at("lr").get<double>(), lr) << config.dump();
  EXPECT_EQ(config.at("epochs"), epochs) << config.dump();
}

TEST(CliRecipes, EachFamilyTrainsWithItsOwnOptimizerRateAndEpochs) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  expect_recipe(config_of("mlp:784-16-10", {}, dir, "mlp.jsonl"), "sgd", 0.02, 10);
  expect_recipe(config_of("cnn:4-8-16", {}, dir, "cnn.jsonl"), "adam", 0.002, 5);
  expect_recipe(config_of("vit:16-2-1-32", {}, dir, "vit.jsonl"), "adamw", 0.001, 10);
}

TEST(CliRecipes, FlagsOnTheCommandLineWin) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  expect_recipe(config_of("cnn:4-8-16", {"--lr", "0.01", "--epochs", "2"}, dir, "a.jsonl"), "adam", 0.01, 2);
  // The recipe's rate is Adam's: SGD chosen instead trains at dm train's general 0.02.
  expect_recipe(config_of("cnn:4-8-16", {"--optimizer", "sgd"}, dir, "b.jsonl"), "sgd", 0.02, 5);
  expect_recipe(config_of("vit:16-2-1-32", {"--optimizer", "adamw", "--epochs", "3"}, dir, "c.jsonl"), "adamw", 0.001,
                3);
  expect_recipe(config_of("mlp:784-16-10", {"--optimizer", "adam"}, dir, "d.jsonl"), "adam", 0.02, 10);
}

TEST(CliRecipes, AResumedRunKeepsItsCheckpointsSettings) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string ckpt = (dir / "c.safetensors").string();
  expect_recipe(config_of("cnn:4-8-16", {"--optimizer", "sgd", "--lr", "0.03", "--epochs", "2", "--checkpoint", ckpt},
                          dir, "first.jsonl"),
                "sgd", 0.03, 2);
  const fs::path path = dir / "resumed.jsonl";
  const Result r = run_dm({"train", "--resume", ckpt, "--threads", "1", "--metrics", path.string()}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json config = json::parse(Result::lines(read_file(path)).at(0));
  EXPECT_EQ(config.at("model"), "cnn:4-8-16");
  expect_recipe(config, "sgd", 0.03, 2);
}

TEST(CliRecipes, HelpStatesEveryRecipe) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const Result r = run_dm({"train", "--help"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string help = std::regex_replace(r.out, std::regex("\\s+"), " ");
  for (const char* part : {"mlp: sgd at 0.02 for 10 epochs", "cnn: adam at 0.002 for 5 epochs",
                           "vit: adamw at 0.001 for 10 epochs"})
    EXPECT_NE(help.find(part), std::string::npos) << part << "\n" << r.out;
}

}  // namespace
