#pragma once
// What the tests of dm train's model families (cnn, vit) check alike: the summary, a short run
// that must learn, and malformed sizes refused as a bad command line.
#include <string>
#include <vector>

#include "cli_runner.hpp"

namespace cli_test {

/// `dm train --model MODEL --summary` lists each of `parts` in its output and trains nothing.
inline void expect_summary_lists(const std::string& model, const std::vector<std::string>& parts) {
  ScratchDir dir;
  const Result r = run_dm({"train", "--model", model, "--summary"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& part : parts) EXPECT_NE(r.out.find(part), std::string::npos) << part << "\n" << r.out;
  EXPECT_EQ(r.out.find("test accuracy"), std::string::npos) << r.out;
}

/// `dm train` with `args` prints two lines, the last "test accuracy: A" with A above `at_least`.
inline void expect_short_run_learns(const std::vector<std::string>& args, double at_least) {
  ScratchDir dir;
  const Result r = run_dm(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = Result::lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  const std::string prefix = "test accuracy: ";
  ASSERT_EQ(lines[1].rfind(prefix + "0.", 0), 0u) << lines[1];
  EXPECT_GT(std::stod(lines[1].substr(prefix.size())), at_least) << r.out;
}

/// Each of `specs` as --model is a bad command line (exit 2) whose one error line names it.
inline void expect_bad_model_specs(const std::vector<std::string>& specs) {
  ScratchDir dir;
  for (const std::string& spec : specs) {
    SCOPED_TRACE(spec);
    const Result r = run_dm({"train", "--model", spec, "--summary"}, dir);
    expect_one_line_error(r, 2);
    EXPECT_NE(r.err.find(spec), std::string::npos) << r.err;
  }
}

}  // namespace cli_test
