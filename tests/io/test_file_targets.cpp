// What a read may open and a save may replace: only regular files. A FIFO, a directory or a
// device named where a file is expected is an IoError at once, never a hang or a replacement;
// and a save tidies the temporaries that killed writers of the same file left behind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/io/file.hpp"
#include "democratising/io/safetensors.hpp"
#include "io/temp_dir.hpp"
#include "support/within_deadline.hpp"

namespace {

namespace fs = std::filesystem;
using dm::IoError;
using dm::Tensor;

/// What `fn` threw ("IoError: ...", "other: ...", or empty for nothing), or a failure when it
/// has not returned after `seconds`: a call that blocks forever fails here instead of hanging.
std::optional<std::string> io_error_within(double seconds, std::function<void()> fn) {
  auto outcome = dm::testing::outcome_within(seconds, [fn = std::move(fn)]() -> std::string {
    try {
      fn();
      return "";
    } catch (const IoError& e) {
      return std::string("IoError: ") + e.what();
    } catch (const std::exception& e) {
      return std::string("other: ") + e.what();
    }
  });
  if (!outcome) ADD_FAILURE() << "the call did not return within " << seconds << " s";
  return outcome;
}

void make_fifo(const std::string& path) { ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << path; }

bool is_fifo(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

dm::io::NamedTensors small_tensors() { return {{"w", Tensor::full({2, 3}, 1.5)}}; }

TEST(ReadableFile, FifoIsAnIoErrorAtOnce) {
  dm::testing::TempDir dir;
  const std::string fifo = dir.file("fifo");
  make_fifo(fifo);
  const std::vector<std::pair<const char*, std::function<void()>>> readers = {
      {"read_file", [&] { dm::io::read_file(fifo, 1024); }},
      {"load_safetensors", [&] { dm::io::load_safetensors(fifo); }},
      {"load_safetensors_metadata", [&] { dm::io::load_safetensors_metadata(fifo); }},
      {"ReadableFile", [&] { dm::io::ReadableFile file(fifo, "test"); }},
  };
  for (const auto& [name, read] : readers) {
    SCOPED_TRACE(name);
    const auto thrown = io_error_within(5.0, read);
    ASSERT_TRUE(thrown.has_value());
    EXPECT_EQ(thrown->rfind("IoError: [", 0), 0u) << *thrown;
    EXPECT_NE(thrown->find("not a regular file"), std::string::npos) << *thrown;
    EXPECT_NE(thrown->find(fifo), std::string::npos) << *thrown;
  }
}

TEST(ReadableFile, DirectoryIsAnIoErrorAndARegularFileReads) {
  dm::testing::TempDir dir;
  EXPECT_THROW(dm::io::read_file(dir.path().string(), 1024), IoError);
  const std::string path = dir.file("plain");
  dm::testing::write_bytes(path, {std::byte{1}, std::byte{2}, std::byte{3}});
  const dm::io::ReadableFile file(path, "test");
  EXPECT_EQ(file.size(), 3u);
  std::byte tail[2];
  file.read_at(1, tail, 2);
  EXPECT_EQ(tail[0], std::byte{2});
  EXPECT_EQ(tail[1], std::byte{3});
  EXPECT_THROW(file.read_at(2, tail, 2), IoError);  // past the end
}

TEST(AtomicSave, RefusesEveryTargetThatIsNotARegularFile) {
  dm::testing::TempDir dir;
  const std::string fifo = dir.file("fifo");
  make_fifo(fifo);
  const std::string subdir = dir.file("subdir");
  fs::create_directory(subdir);
  const std::string link_to_fifo = dir.file("link_to_fifo");
  fs::create_symlink(fifo, link_to_fifo);
  const std::string link_to_dir = dir.file("link_to_dir");
  fs::create_directory_symlink(subdir, link_to_dir);

  for (const std::string& target : {fifo, subdir, link_to_fifo, link_to_dir}) {
    SCOPED_TRACE(target);
    const auto thrown = io_error_within(5.0, [&] { dm::io::save_safetensors(target, small_tensors()); });
    ASSERT_TRUE(thrown.has_value());
    EXPECT_EQ(thrown->rfind("IoError: [save] '" + target + "'", 0), 0u) << *thrown;
    EXPECT_NE(thrown->find("regular file"), std::string::npos) << *thrown;
  }
  // Each is what it was, and no temporary was left beside them.
  EXPECT_TRUE(is_fifo(fifo));
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(subdir)));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(link_to_fifo)));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(link_to_dir)));
  EXPECT_TRUE(fs::is_empty(subdir));
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
}

TEST(AtomicSave, ReplacesRegularFilesAndFillsDanglingLinks) {
  dm::testing::TempDir dir;
  const std::string plain = dir.file("plain.safetensors");
  dm::io::save_safetensors(plain, small_tensors());
  dm::io::save_safetensors(plain, {{"w", Tensor::full({1}, 7.0)}});
  EXPECT_EQ(dm::io::load_safetensors(plain).at("w").item<float>(), 7.0f);

  const std::string dangling = dir.file("dangling");
  fs::create_symlink(dir.file("nothing_here"), dangling);
  dm::io::save_safetensors(dangling, small_tensors());
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(dangling)));
  EXPECT_EQ(dm::io::load_safetensors(dangling).at("w").shape(), (std::vector<std::int64_t>{2, 3}));
}

// Only where the test runs as root could the old code replace /dev/null; elsewhere the
// permission check stops it before this code is reached, and the FIFO case above stands in.
TEST(AtomicSave, DevNullStaysACharacterDevice) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: only root can replace /dev/null";
  const auto thrown = io_error_within(5.0, [] { dm::io::save_safetensors("/dev/null", small_tensors()); });
  ASSERT_TRUE(thrown.has_value());
  EXPECT_NE(thrown->find("character device"), std::string::npos) << *thrown;
  struct stat st {};
  ASSERT_EQ(::lstat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  for (const auto& entry : fs::directory_iterator("/dev"))
    EXPECT_EQ(entry.path().filename().string().rfind("null.tmp.", 0), std::string::npos) << entry.path();
}

/// A pid that no process holds any more: a child that has exited and been reaped.
pid_t finished_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

TEST(AtomicSave, RemovesTheTemporariesOfWritersThatDied) {
  dm::testing::TempDir dir;
  const std::string target = dir.file("model.safetensors");
  const std::string dead = std::to_string(finished_pid());
  const std::string alive = std::to_string(::getppid());  // the test's parent: running
  auto touch = [&](const std::string& name) {
    dm::testing::write_bytes(dir.file(name), {std::byte{0}});
    return dir.file(name);
  };
  const std::string stale1 = touch("model.safetensors.tmp." + dead + ".0123456789ab");
  const std::string stale2 = touch("model.safetensors.tmp." + dead + ".ffffffffffff");
  // Not ours to remove: a live writer's, another file's, and names outside the pattern.
  const std::string live = touch("model.safetensors.tmp." + alive + ".0123456789ab");
  const std::string other_file = touch("other.safetensors.tmp." + dead + ".0123456789ab");
  const std::string short_random = touch("model.safetensors.tmp." + dead + ".0123");
  const std::string not_a_pid = touch("model.safetensors.tmp.x" + dead + ".0123456789ab");
  const std::string user_file = touch("model.safetensors.tmp.notes");

  dm::io::save_safetensors(target, small_tensors());

  EXPECT_FALSE(fs::exists(stale1));
  EXPECT_FALSE(fs::exists(stale2));
  for (const std::string& kept : {live, other_file, short_random, not_a_pid, user_file})
    EXPECT_TRUE(fs::exists(kept)) << kept;
  EXPECT_EQ(dm::io::load_safetensors(target).at("w").shape(), (std::vector<std::int64_t>{2, 3}));
}

}  // namespace
