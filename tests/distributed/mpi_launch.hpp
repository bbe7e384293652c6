#pragma once
// Runs this very test binary under `mpirun -np N`, restricted to the tests that only make
// sense inside an MPI job (they skip themselves elsewhere), and reports how it went. This keeps
// the MPI tests in the ordinary test binary: CTest needs no MPI-specific entries. MpiJob runs
// any program so, and finds its ranks' processes (to stop one, say).
#include <algorithm>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
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

/// `mpirun -np ranks <program> <args...>` in a process group of its own, stdout and stderr in
/// one log. The destructor kills whatever is left of the job, stopped ranks included.
class MpiJob {
 public:
  MpiJob(int ranks, const std::string& program, const std::vector<std::string>& program_args)
      : log_("/tmp/dm_mpi_run_" + std::to_string(getpid()) + "_" + std::to_string(next_id()) + ".log") {
    std::vector<std::string> args{"mpirun", "-np", std::to_string(ranks), "--oversubscribe",
                                  // Shared memory and loopback TCP: what a single machine has.
                                  "--mca", "btl", "self,vader,tcp", program};
    args.insert(args.end(), program_args.begin(), program_args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    env.push_back(std::string(kMpiRankTestsVariable) + "=1");
    // OpenMPI refuses to run as root unless told it is meant (containers, CI).
    env.emplace_back("OMPI_ALLOW_RUN_AS_ROOT=1");
    env.emplace_back("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1");
    // The ranks run without LeakSanitizer: OpenMPI unloads its plugins at MPI_Finalize, before
    // LSan looks, so their process-lifetime allocations come from unknown modules and no
    // suppression can name them. Our own code in these ranks is leak-checked by the in-process
    // transport's tests, which run the same collectives and training. Other ASan checks stay on.
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
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);  // its own group, to kill it whole
    posix_spawnattr_setpgroup(&attributes, 0);
    const int rc = posix_spawnp(&pid_, "mpirun", &actions, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) {
      pid_ = -1;
      start_error_ = "cannot start mpirun (is OpenMPI installed?): " + std::to_string(rc);
    }
  }
  ~MpiJob() {
    if (pid_ > 0 && !reaped_) {
      // A stopped rank takes no signal but SIGKILL; SIGCONT first, in case it is waited for.
      for (pid_t rank : rank_pids()) {
        kill(rank, SIGCONT);
        kill(rank, SIGKILL);
      }
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::remove(log_.c_str());
  }
  MpiJob(const MpiJob&) = delete;
  MpiJob& operator=(const MpiJob&) = delete;

  bool started() const { return pid_ > 0; }
  const std::string& start_error() const { return start_error_; }
  /// The exit code once mpirun has ended by itself within `limit`; -1 after killing it then.
  int wait(std::chrono::milliseconds limit) {
    if (pid_ <= 0) return -2;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    for (;;) {
      const pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        append_stacks();
        for (pid_t rank : rank_pids()) kill(rank, SIGCONT);
        kill(-pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        reaped_ = true;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string output() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  /// The pid of each rank mpirun started (its children), in rank order where known.
  std::vector<pid_t> rank_pids() const {
    std::vector<std::pair<int, pid_t>> ranks;
    if (pid_ <= 0) return {};
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(entry.path() / "stat");
      std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
      // pid (comm) state ppid ...: the command may hold spaces, so read after the last ')'.
      const auto close = text.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(text.substr(close + 1));
      std::string state;
      pid_t parent = 0;
      rest >> state >> parent;
      if (parent != pid_) continue;
      const pid_t child = static_cast<pid_t>(std::stol(name));
      ranks.emplace_back(rank_of(child), child);
    }
    std::sort(ranks.begin(), ranks.end());
    std::vector<pid_t> out;
    for (const auto& [rank, pid] : ranks) out.push_back(pid);
    return out;
  }

 private:
  // What every rank's threads were doing when the limit passed, appended to the log: a job that
  // hangs in CI otherwise says only that it was killed. Needs gdb (scripts/setup --with-tests).
  void append_stacks() const {
    if (access("/usr/bin/gdb", X_OK) != 0) return;
    for (pid_t rank : rank_pids()) {
      const std::string command = "{ echo '== stacks of rank process " + std::to_string(rank) +
                                  " at the time limit'; timeout 60 /usr/bin/gdb -p " + std::to_string(rank) +
                                  " -batch -ex 'thread apply all bt' 2>&1 | grep -E '^(#|Thread)' | cut -c1-220; } >> " +
                                  log_ + " 2>&1";
      if (std::system(command.c_str()) != 0) continue;  // best effort: the kill follows anyway
    }
  }

  static int next_id() {
    static int id = 0;
    return id++;
  }
  // OMPI_COMM_WORLD_RANK from the process's environment; INT_MAX when unreadable.
  static int rank_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string entry;
    while (std::getline(in, entry, '\0'))
      if (entry.rfind("OMPI_COMM_WORLD_RANK=", 0) == 0) return std::stoi(entry.substr(21));
    return INT_MAX;
  }

  std::string log_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string start_error_;
};

/// `mpirun -np ranks <this binary> --gtest_filter=<filter>`, killed after `limit`.
inline MpiRunResult mpi_run(int ranks, const std::string& filter, std::chrono::seconds limit = std::chrono::seconds(240)) {
  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) return {-2, "cannot find this binary through /proc/self/exe"};
  self[length] = '\0';
  MpiJob job(ranks, self, {"--gtest_filter=" + filter});
  if (!job.started()) return {-2, job.start_error()};
  MpiRunResult result;
  result.exit_code = job.wait(limit);
  result.output = job.output();
  return result;
}

}  // namespace dm::dist::testing
