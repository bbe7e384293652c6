// dm train --model cnn: the convolutional family's summary, a short run that trains, the same
// checkpoint for one thread and two, and malformed sizes refused as a bad command line.
#include <cstring>

#include "checkpoint_compare.hpp"
#include "cli_runner.hpp"
#include "democratising/io/safetensors.hpp"
#include "model_family_checks.hpp"

namespace {

using namespace cli_test;

TEST(CliCnn, SummaryListsTheConvolutionBlocksAndTheirSizes) {
  DM_REQUIRE_CLI_AND_DATA();
  // Conv2d 1->32 (288 + 32), BatchNorm2d 32 (64), 32->64 (18,432 + 64), BatchNorm2d 64 (128),
  // Dense 3136->128 and 128->10.
  expect_summary_lists("cnn", {"Unflatten(1 -> (1, 28, 28))", "(1, 1, 28, 28)", "Conv2d(1 -> 32, kernel (3, 3), padding (1, 1))",
                               "(1, 32, 28, 28)", "BatchNorm2d(32", "BatchNorm2d(64", "(1, 32, 14, 14)", "(1, 64, 14, 14)",
                               "(1, 64, 7, 7)", "(1, 3136)", "Dropout(p=0.25)", "Dense(3136 -> 128)", "(1, 10)", "320",
                               "18,496", "401,536", "1,290", "421,834"});
}

TEST(CliCnn, AShortRunTrains) {
  DM_REQUIRE_CLI_AND_DATA();
  // Ten classes: chance is 0.1; 32 steps of a small CNN (measured: 0.50) get well past it.
  expect_short_run_learns({"train", "--model", "cnn:4-8-16", "--limit", "1024", "--epochs", "1", "--batch-size", "32",
                           "--optimizer", "sgd", "--lr", "0.1", "--schedule", "constant", "--threads", "2", "--seed", "3"},
                          0.3);
}

// Batch norm (statistics over the whole batch, running statistics updated in place) and dropout
// (its masks drawn by the counter-based generator) are on: the parameters, the buffers and the
// optimizer state after 12 steps must not depend on the pool's size.
TEST(CliCnn, OneThreadAndTwoWriteTheSameCheckpoint) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  auto train = [&](const char* threads, const char* seed) {
    const std::string ckpt = (dir / (std::string("t") + threads + "_s" + seed + ".safetensors")).string();
    const Result r = run_dm({"train", "--model", "cnn:4-8-16", "--limit", "384", "--epochs", "1", "--batch-size", "32",
                             "--optimizer", "sgd", "--lr", "0.05", "--threads", threads, "--seed", seed, "--checkpoint", ckpt},
                            dir);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ckpt;
  };
  const std::string one = train("1", "5"), two = train("2", "5");
  const auto tensors = dm::io::load_safetensors(one);
  for (const char* name : {"buffer.2.running_mean", "buffer.6.running_var", "optim.momentum_buffer.11.weight"})
    EXPECT_TRUE(tensors.count(name)) << "the checkpoint holds " << name;
  expect_same_tensors(one, two);
  // Another seed trains another model, so the comparison above can tell runs apart.
  const dm::Tensor other = dm::io::load_safetensors(train("2", "6")).at("param.1.weight");
  const dm::Tensor& first = tensors.at("param.1.weight");
  EXPECT_NE(std::memcmp(first.data_ptr(), other.data_ptr(), static_cast<std::size_t>(first.numel()) * sizeof(float)), 0);
}

TEST(CliCnn, MalformedSizesAreABadCommandLine) {
  DM_REQUIRE_CLI_AND_DATA();
  expect_bad_model_specs({"cnn:4-8", "cnn:4-x-16", "cnn:0-8-16", "cnn:"});
}

}  // namespace
