// dm train --model cnn: the convolutional family's summary, a short run that trains, and
// malformed sizes refused as a bad command line.
#include "cli_runner.hpp"

namespace {

using namespace cli_test;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(CliCnn, SummaryListsTheConvolutionBlocksAndTheirSizes) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const Result r = run_dm({"train", "--model", "cnn", "--summary"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Conv2d 1->32 (288 + 32), BatchNorm2d 32 (64), 32->64 (18,432 + 64), BatchNorm2d 64 (128),
  // Dense 3136->128 and 128->10.
  for (const char* part : {"Unflatten(1 -> (1, 28, 28))", "(1, 1, 28, 28)", "Conv2d(1 -> 32, kernel (3, 3), padding (1, 1))",
                           "(1, 32, 28, 28)", "BatchNorm2d(32", "BatchNorm2d(64", "(1, 32, 14, 14)", "(1, 64, 14, 14)", "(1, 64, 7, 7)", "(1, 3136)",
                           "Dropout(p=0.25)", "Dense(3136 -> 128)", "(1, 10)", "320", "18,496", "401,536", "1,290",
                           "421,834"})
    EXPECT_TRUE(contains(r.out, part)) << part << "\n" << r.out;
  EXPECT_FALSE(contains(r.out, "test accuracy")) << r.out;
}

TEST(CliCnn, AShortRunTrains) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const Result r = run_dm({"train", "--model", "cnn:4-8-16", "--limit", "1024", "--epochs", "1", "--batch-size", "32",
                           "--lr", "0.1", "--schedule", "constant", "--threads", "2", "--seed", "3"},
                          dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = Result::lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  ASSERT_EQ(lines[1].rfind("test accuracy: 0.", 0), 0u) << lines[1];
  // Ten classes: chance is 0.1; 32 steps of a small CNN (measured: 0.50) get well past it.
  EXPECT_GT(std::stod(lines[1].substr(std::string("test accuracy: ").size())), 0.3) << r.out;
}

TEST(CliCnn, MalformedSizesAreABadCommandLine) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  for (const char* spec : {"cnn:4-8", "cnn:4-x-16", "cnn:0-8-16", "cnn:"}) {
    SCOPED_TRACE(spec);
    const Result r = run_dm({"train", "--model", spec, "--summary"}, dir);
    expect_one_line_error(r, 2);
    EXPECT_TRUE(contains(r.err, spec)) << r.err;
  }
}

}  // namespace
