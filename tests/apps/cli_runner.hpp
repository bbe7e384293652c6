#pragma once
// Runs the built `dm` binary (path from DM_CLI_PATH, set by apps/dm/CMakeLists.txt) and
// captures its exit code, stdout and stderr; plus a scratch directory per test.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "democratising/data/fashion_mnist.hpp"

namespace cli_test {

namespace fs = std::filesystem;

#ifdef DM_CLI_PATH
inline constexpr const char* kDmPath = DM_CLI_PATH;
#else
inline constexpr const char* kDmPath = "";
#endif

/// Skips the current test when the binary or the dataset is not there.
#define DM_REQUIRE_CLI_AND_DATA()                                                                      \
  do {                                                                                                 \
    if (std::string(cli_test::kDmPath).empty() || !std::filesystem::exists(cli_test::kDmPath))         \
      GTEST_SKIP() << "the dm binary was not built (DM_BUILD_APPS=OFF?)";                              \
    if (!std::filesystem::exists(std::string(dm::data::kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) \
      GTEST_SKIP() << "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)";         \
  } while (0)

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
  /// The lines of a stream, without their newlines.
  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
};

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string shell_quote(const std::string& arg) {
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// A fresh directory under the system's temp dir, removed with the object.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "dm_cli_test_XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  fs::path operator/(const std::string& name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// Runs `dm args...` with stdout and stderr sent to files in `scratch`.
inline Result run_dm(const std::vector<std::string>& args, const ScratchDir& scratch) {
  static int counter = 0;
  // Appended rather than "literal" + string: GCC 12 -O3 warns falsely (-Wrestrict) on the latter.
  std::string out_name = "stdout_", err_name = "stderr_";
  out_name += std::to_string(counter);
  err_name += std::to_string(counter);
  ++counter;
  const fs::path out = scratch / out_name;
  const fs::path err = scratch / err_name;
  std::string command = shell_quote(kDmPath);
  for (const auto& a : args) {
    command += ' ';
    command += shell_quote(a);
  }
  command += " > ";
  command += shell_quote(out.string());
  command += " 2> ";
  command += shell_quote(err.string());
  command += " < /dev/null";
  const int status = std::system(command.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

/// The arguments of a tiny training run (2000 samples), followed by `extra`.
inline std::vector<std::string> tiny_train(std::vector<std::string> extra) {
  std::vector<std::string> args = {"train", "--limit", "2000", "--epochs", "2", "--seed", "7"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

/// Expects a failure reported the way dm reports every failure: one "dm: error: " line. Lines
/// a sanitizer runtime adds ("==<pid>==WARNING: ... failed to allocate") are not dm's and are
/// passed over.
inline void expect_one_line_error(const Result& r, int exit_code) {
  EXPECT_EQ(r.exit_code, exit_code) << "stderr: " << r.err;
  std::vector<std::string> lines;
  for (const std::string& line : Result::lines(r.err))
    if (line.rfind("==", 0) != 0) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("dm: error: ", 0), 0u) << lines[0];
  EXPECT_GT(lines[0].size(), std::string("dm: error: ").size()) << "empty message";
}

}  // namespace cli_test
