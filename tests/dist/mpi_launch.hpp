#pragma once
// Runs this very test binary under `mpirun -np N`, restricted to the tests that only make
// sense inside an MPI job (they skip themselves elsewhere), and reports how it went. This keeps
// the MPI tests in the ordinary test binary: CTest needs no MPI-specific entries.
#include <algorithm>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace dm::dist::testing {

/// Set in the environment of the ranks that mpi_run starts.
inline constexpr const char* kMpiRankTestsVariable = "DM_MPI_RANK_TESTS";

inline bool inside_mpi_run() { return std::getenv(kMpiRankTestsVariable) != nullptr; }

struct MpiRunResult {
  int exit_code = -1;  // -1: killed after the time limit
  std::string output;
};

/// `mpirun -np ranks <this binary> --gtest_filter=<filter>`, killed after `limit`.
inline MpiRunResult mpi_run(int ranks, const std::string& filter, std::chrono::seconds limit = std::chrono::seconds(240)) {
  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) return {-2, "cannot find this binary through /proc/self/exe"};
  self[length] = '\0';
  const std::string log = "/tmp/dm_mpi_run_" + std::to_string(getpid()) + ".log";
  std::vector<std::string> args{"mpirun", "-np", std::to_string(ranks), "--oversubscribe",
                                // Shared memory and loopback TCP: what a single machine has.
                                "--mca", "btl", "self,vader,tcp", std::string(self), "--gtest_filter=" + filter};
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back(std::string(kMpiRankTestsVariable) + "=1");
  // OpenMPI refuses to run as root unless told it is meant (containers, CI).
  env.emplace_back("OMPI_ALLOW_RUN_AS_ROOT=1");
  env.emplace_back("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1");
  // The ranks run without LeakSanitizer: OpenMPI unloads its plugins at MPI_Finalize, before
  // LSan looks, so their process-lifetime allocations come from unknown modules and no
  // suppression can name them. Our own code in these ranks is leak-checked by the in-process
  // backend's tests, which run the same collectives and training. Other ASan checks stay on.
  for (auto& e : env)
    if (e.rfind("ASAN_OPTIONS=", 0) == 0) e += ":detect_leaks=0";
  if (std::none_of(env.begin(), env.end(), [](const std::string& e) { return e.rfind("ASAN_OPTIONS=", 0) == 0; }))
    env.emplace_back("ASAN_OPTIONS=detect_leaks=0");
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);  // its own group, to kill it whole
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "mpirun", &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) return {-2, "cannot start mpirun (is OpenMPI installed?): " + std::to_string(rc)};

  MpiRunResult result;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.exit_code = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  std::remove(log.c_str());
  return result;
}

}  // namespace dm::dist::testing
