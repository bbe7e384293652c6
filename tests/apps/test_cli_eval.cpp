// dm eval: a good checkpoint gives its loss and accuracy; a damaged one a one-line error.
#include <cstring>

#include "cli_runner.hpp"

namespace {

using namespace cli_test;

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class CliEval : public ::testing::Test {
 protected:
  void SetUp() override {
    DM_REQUIRE_CLI_AND_DATA();
    checkpoint_ = (dir_ / "model.safetensors").string();
    const Result r = run_dm({"train", "--limit", "1000", "--epochs", "1", "--model", "mlp:784-16-10", "--checkpoint",
                             checkpoint_},
                            dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    train_accuracy_line_ = Result::lines(r.out).back();
  }

  ScratchDir dir_;
  std::string checkpoint_;
  std::string train_accuracy_line_;
};

TEST_F(CliEval, ReportsLossAndAccuracy) {
  const Result r = run_dm({"eval", "--checkpoint", checkpoint_}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = Result::lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  double loss = 0, accuracy = 0;
  ASSERT_EQ(std::sscanf(lines[0].c_str(), "loss %lf accuracy %lf", &loss, &accuracy), 2) << lines[0];
  EXPECT_GT(loss, 0.0);
  // The same figure dm train printed at the end of the run that wrote the checkpoint.
  char expected[64];
  std::snprintf(expected, sizeof expected, "test accuracy: %.4f", accuracy);
  EXPECT_EQ(train_accuracy_line_, expected);
  // An explicit --model that matches works too; one that does not is a run failure.
  EXPECT_EQ(run_dm({"eval", "--checkpoint", checkpoint_, "--model", "mlp:784-16-10"}, dir_).exit_code, 0);
  expect_one_line_error(run_dm({"eval", "--checkpoint", checkpoint_, "--model", "mlp:784-32-10"}, dir_), 1);
}

TEST(CliEvalOptimizerState, ACheckpointWithoutMomentumBuffersLoads) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  // Plain SGD keeps no momentum buffers; eval must not expect any.
  const std::string checkpoint = (dir.path() / "plain.safetensors").string();
  const Result t = run_dm({"train", "--limit", "500", "--epochs", "1", "--model", "mlp:784-8-10", "--momentum", "0",
                           "--checkpoint", checkpoint},
                          dir);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const Result e = run_dm({"eval", "--checkpoint", checkpoint}, dir);
  EXPECT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(Result::lines(e.out).size(), 1u) << e.out;
}

TEST_F(CliEval, CorruptFilesFailWithOneLine) {
  const std::string good = read_file(checkpoint_);
  ASSERT_GT(good.size(), 64u);
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, good.data(), 8);

  std::vector<std::pair<std::string, std::string>> damaged;
  damaged.emplace_back("empty", "");
  damaged.emplace_back("short length", good.substr(0, 5));
  damaged.emplace_back("truncated header", good.substr(0, 8 + header_len / 2));
  damaged.emplace_back("truncated data", good.substr(0, good.size() - 100));
  damaged.emplace_back("garbage", std::string(4096, '\x5a'));
  std::string huge = good;
  const std::uint64_t absurd = std::uint64_t{1} << 60;
  std::memcpy(huge.data(), &absurd, 8);
  damaged.emplace_back("absurd header length", huge);
  std::string bad_json = good;
  bad_json[8] = '[';
  damaged.emplace_back("header not an object", bad_json);
  std::string extra = good + "trailing bytes";
  damaged.emplace_back("trailing bytes", extra);
  std::string renamed = good;
  const auto pos = renamed.find("weight");
  ASSERT_NE(pos, std::string::npos);
  renamed.replace(pos, 6, "wEIGHT");
  damaged.emplace_back("unknown tensor names", renamed);

  for (const auto& [what, bytes] : damaged) {
    SCOPED_TRACE(what);
    const fs::path path = dir_ / "damaged.safetensors";
    write_file(path, bytes);
    const Result r = run_dm({"eval", "--checkpoint", path.string()}, dir_);
    expect_one_line_error(r, 1);
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
