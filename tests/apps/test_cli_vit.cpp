// dm train --model vit: the vision transformer's summary, a short run that trains, the same
// weights for one and two threads (and dm eval reading them back), and malformed sizes refused
// as a bad command line.
#include <cstdio>

#include "checkpoint_compare.hpp"
#include "cli_runner.hpp"
#include "democratising/io/safetensors.hpp"
#include "model_family_checks.hpp"

namespace {

using namespace cli_test;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(CliVit, SummaryListsTheLayersAndTheirSizes) {
  DM_REQUIRE_CLI_AND_DATA();
  // Dense 49->64 (3,136 + 64); positions 16 x 64; each encoder layer: in_proj 3*64*64 + 192,
  // out_proj 64*64 + 64, MLP 64*128 + 128 + 128*64 + 64, two LayerNorms 4*64 = 33,472;
  // final LayerNorm 128; head 64*10 + 10.
  expect_summary_lists("vit", {"Patchify((28, 28) -> 16 patches of (7, 7))", "(1, 16, 49)", "Dense(49 -> 64)",
                               "(1, 16, 64)", "3,200", "PositionalEmbedding(16, 64)", "1,024",
                               "TransformerEncoderLayer(64, 4 heads, mlp 128)", "33,472", "LayerNorm((64,)", "TokenMean",
                               "(1, 64)", "Dense(64 -> 10)", "(1, 10)", "650", "71,946"});

  ScratchDir dir;
  const Result small = run_dm({"train", "--model", "vit:32-2-3-48", "--summary"}, dir);
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_TRUE(contains(small.out, "TransformerEncoderLayer(32, 2 heads, mlp 48)")) << small.out;
  EXPECT_TRUE(contains(small.out, "\n5  TransformerEncoderLayer")) << "three encoder layers, at 3, 4 and 5\n" << small.out;
}

TEST(CliVit, AShortRunTrains) {
  DM_REQUIRE_CLI_AND_DATA();
  // Ten classes: chance is 0.1; 32 steps of a small vit get well past it.
  expect_short_run_learns({"train", "--model", "vit:32-2-1-64", "--limit", "1024", "--epochs", "1", "--batch-size",
                           "32", "--optimizer", "adamw", "--lr", "0.003", "--schedule", "constant", "--threads", "2",
                           "--seed", "3"},
                          0.3);
}

TEST(CliVit, OneAndTwoThreadsGiveTheSameWeights) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  std::vector<std::string> checkpoints;
  std::vector<std::string> outputs;
  for (const char* threads : {"1", "2"}) {
    const std::string ckpt = (dir / (std::string("vit") + threads + ".safetensors")).string();
    const Result r = run_dm({"train", "--model", "vit", "--limit", "256", "--epochs", "1", "--batch-size", "64",
                             "--threads", threads, "--seed", "5", "--checkpoint", ckpt},
                            dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    checkpoints.push_back(ckpt);
    outputs.push_back(Result::lines(r.out).back());
  }
  ASSERT_TRUE(dm::io::load_safetensors(checkpoints[0]).count("param.3.self_attn.in_proj_weight"))
      << "the checkpoint holds the encoder's weights";
  expect_same_tensors(checkpoints[0], checkpoints[1]);
  EXPECT_EQ(outputs[0], outputs[1]);
  // dm eval rebuilds the network from the model the checkpoint records.
  const Result e = run_dm({"eval", "--checkpoint", checkpoints[0]}, dir);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  double loss = 0, accuracy = 0;
  ASSERT_EQ(std::sscanf(e.out.c_str(), "loss %lf accuracy %lf", &loss, &accuracy), 2) << e.out;
  char expected[64];
  std::snprintf(expected, sizeof expected, "test accuracy: %.4f", accuracy);
  EXPECT_EQ(outputs[0], expected);
}

TEST(CliVit, MalformedSizesAreABadCommandLine) {
  DM_REQUIRE_CLI_AND_DATA();
  expect_bad_model_specs({"vit:64-4-2", "vit:64-3-2-128", "vit:0-4-2-128", "vit:64-x-2-128", "vit:"});
}

}  // namespace
