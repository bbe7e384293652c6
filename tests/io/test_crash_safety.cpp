// Crash safety of checkpoint writes: a writer killed at a random moment, a writer that runs
// out of file size, and a writer abandoned before commit all leave the previous file intact.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "democratising/base/error.hpp"
#include "democratising/io/file.hpp"
#include "democratising/io/safetensors.hpp"
#include "io/temp_dir.hpp"

namespace {

using dm::Tensor;

int count_temporaries(const std::filesystem::path& dir) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) ++n;
  return n;
}

void remove_temporaries(const std::filesystem::path& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) std::filesystem::remove(entry.path());
}

// Each version is distinguishable everywhere in the file: a mix of two versions, or a
// truncated one, cannot pass for either.
Tensor version_tensor(int version) { return Tensor::full({std::int64_t{4} << 20}, static_cast<double>(version)); }  // 16 MiB

// True once some file in `dir` has a size other than `complete_size`: a write is under way
// (a temporary being filled, or, for a writer that is not crash-safe, the target itself).
bool wait_for_partial_file(const std::filesystem::path& dir, std::uintmax_t complete_size,
                           std::chrono::steady_clock::time_point deadline) {
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      std::error_code size_ec;  // the file may be renamed away between listing and stat
      const auto size = std::filesystem::file_size(entry.path(), size_ec);
      if (!size_ec && size != complete_size) return true;
    }
  }
  return false;
}

TEST(CrashSafety, WriterKilledMidSaveLeavesACompleteCheckpoint) {
  dm::testing::TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  const Tensor versions[2] = {version_tensor(1), version_tensor(2)};
  dm::io::save_safetensors(path, {{"w", versions[0]}}, {{"version", "1"}});
  const auto complete_size = std::filesystem::file_size(path);  // the same for both versions

  // The kill lands while a file is partly written, then later and later into the save.
  for (const int delay_ms : {0, 1, 3, 6, 10, 20}) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0) << "fork failed";
    if (child == 0) {
      // Child: save the two versions alternately until killed. Only _exit leaves it.
      try {
        for (int k = 1;; ++k)
          dm::io::save_safetensors(path, {{"w", versions[k % 2]}}, {{"version", std::to_string(k % 2 + 1)}});
      } catch (...) {
        ::_exit(3);
      }
    }
    const bool caught_mid_write =
        wait_for_partial_file(dir.path(), complete_size, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(caught_mid_write) << "never saw a save in progress";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer ended by itself (status " << status << ") instead of being killed";

    // Whatever moment the kill hit, the target is one complete version.
    const auto contents = dm::io::load_safetensors_contents(path);
    ASSERT_EQ(contents.tensors.size(), 1u);
    const std::string version = contents.metadata.at("version");
    ASSERT_TRUE(version == "1" || version == "2") << version;
    const float expected = version == "1" ? 1.0f : 2.0f;
    const Tensor& w = contents.tensors[0].second;
    ASSERT_EQ(w.numel(), versions[0].numel());
    const float* p = w.data<float>();
    for (std::int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(p[i], expected) << "element " << i << " of version " << version;
    remove_temporaries(dir.path());  // what a killed writer leaves behind; the next trial must see none
  }
}

TEST(CrashSafety, WriteFailureLeavesOldFileAndNoTemporary) {
  dm::testing::TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  dm::io::save_safetensors(path, {{"w", Tensor::full({8}, 5.0)}});
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A 1 MiB file size limit makes the 16 MiB write fail with EFBIG, like a full disk.
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      dm::io::save_safetensors(path, {{"w", version_tensor(3)}});
    } catch (const dm::IoError& e) {
      const std::string what = e.what();
      ::_exit(what.find(path) != std::string::npos && what.find("too large") != std::string::npos ? 0 : 4);
    } catch (...) {
      ::_exit(5);
    }
    ::_exit(6);  // the save succeeded despite the limit
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "4: message lacks the path or errno text, 5: wrong exception, 6: no error";
  EXPECT_EQ(count_temporaries(dir.path()), 0);
  EXPECT_EQ(dm::io::load_safetensors(path).at("w").to_vector<float>(), std::vector<float>(8, 5.0f));
}

TEST(AtomicFileWriter, AbandonedWriterRemovesItsTemporary) {
  dm::testing::TempDir dir;
  const std::string path = dir.file("data.bin");
  dm::io::write_file_atomic(path, "old", 3);
  {
    dm::io::AtomicFileWriter writer(path);
    writer.write("new content", 11);
    EXPECT_TRUE(std::filesystem::exists(writer.temp_path()));
  }
  EXPECT_EQ(count_temporaries(dir.path()), 0);
  const auto bytes = dm::testing::read_bytes(path);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), "old");
}

TEST(AtomicFileWriter, CommitPublishesLargeAndSmallWrites) {
  dm::testing::TempDir dir;
  const std::string path = dir.file("data.bin");
  std::string expected;
  {
    dm::io::AtomicFileWriter writer(path);
    // Small writes gather in the buffer; the 3 MiB one goes straight through.
    for (int i = 0; i < 1000; ++i) {
      const std::string piece = std::to_string(i) + ",";
      writer.write(piece.data(), piece.size());
      expected += piece;
    }
    const std::string big(3 << 20, 'x');
    writer.write(big.data(), big.size());
    expected += big;
    writer.write("end", 3);
    expected += "end";
    EXPECT_FALSE(std::filesystem::exists(path)) << "visible before commit";
    writer.commit();
  }
  const auto bytes = dm::testing::read_bytes(path);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), expected);
  EXPECT_EQ(count_temporaries(dir.path()), 0);
}

TEST(ReadFile, EnforcesTheSizeLimit) {
  dm::testing::TempDir dir;
  const std::string path = dir.file("f");
  dm::io::write_file_atomic(path, "0123456789", 10);
  EXPECT_EQ(dm::io::read_file(path, 10).size(), 10u);
  EXPECT_THROW(dm::io::read_file(path, 9), dm::FormatError);
  EXPECT_THROW(dm::io::read_file(dir.file("missing"), 9), dm::IoError);
  EXPECT_THROW(dm::io::read_file(dir.path().string(), 9), dm::IoError);  // a directory
}

}  // namespace
