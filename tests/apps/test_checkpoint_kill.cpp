// A process killed with SIGKILL in the middle of saving never leaves a broken checkpoint:
// the previous one stays loadable by `dm eval`.
//
// The saver is this test binary itself, re-executed in a helper mode (DM_SAVE_LOOP_PATH set)
// that saves the checkpoint of a dm-style model over and over, announcing each save on
// stdout; the test kills it at random moments during the loop.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "cli_runner.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"

extern char** environ;

namespace {

using namespace cli_test;

constexpr const char* kSpec = "mlp:784-256-10";  // ~0.8 MB per checkpoint: saving takes a while

// The helper: runs only when the parent test started it, and never returns.
TEST(CheckpointSaver, HelperLoop) {
  const char* path = std::getenv("DM_SAVE_LOOP_PATH");
  if (!path) GTEST_SKIP() << "helper mode of CheckpointKill.PreviousCheckpointSurvivesSigkill";
  dm::manual_seed(3);
  dm::Model model = dm::nn::mlp_from_spec(kSpec).build();
  const dm::Tensor x = dm::Tensor::randn({8, 784});
  const dm::Tensor y = dm::Tensor::randint(0, 10, {8});
  for (std::int64_t round = 1;; ++round) {
    model.train_step(x, y);  // new values each time, so a torn file could not pass for a whole one
    model.save_checkpoint(path, {{"run_format", "dm-train-1"}, {"model", kSpec}, {"optimizer", "sgd"},
                                 {"epoch", std::to_string(round)}});
    std::printf("saved %lld\n", static_cast<long long>(round));
    std::fflush(stdout);
  }
}

/// Starts this binary in helper mode; its stdout comes back through *read_fd.
pid_t start_saver(const std::string& path, int* read_fd) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::string filter = "--gtest_filter=CheckpointSaver.HelperLoop";
  std::vector<char*> argv = {const_cast<char*>(exe.c_str()), filter.data(), nullptr};
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
  env_storage.push_back("DM_SAVE_LOOP_PATH=" + path);
  env_storage.push_back("DM_NUM_THREADS=1");
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  *read_fd = fds[0];
  return pid;
}

/// Reads the helper's output until it reports `saves` completed saves (false if it died first).
bool wait_for_saves(int fd, int saves) {
  // Only the helper's own "saved N" lines count: gtest prints its banner on the same stdout.
  int seen = 0;
  std::string line;
  char c;
  while (seen < saves) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) return false;
    if (c != '\n') {
      line += c;
      continue;
    }
    if (line.rfind("saved ", 0) == 0) ++seen;
    line.clear();
  }
  return true;
}

TEST(CheckpointKill, PreviousCheckpointSurvivesSigkill) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string path = (dir / "loop.safetensors").string();
  std::mt19937 gen(12345);
  std::uniform_int_distribution<int> delay_us(0, 60000);
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int fd = -1;
    const pid_t pid = start_saver(path, &fd);
    // At least one whole save first: from then on there is a "previous checkpoint" to protect.
    const bool saved = wait_for_saves(fd, 1);
    if (saved) std::this_thread::sleep_for(std::chrono::microseconds(delay_us(gen)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(fd);
    ASSERT_TRUE(saved) << "the saver died before its first save";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;

    const Result r = run_dm({"eval", "--checkpoint", path}, dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("loss ", 0), 0u) << r.out;
  }
}

}  // namespace
