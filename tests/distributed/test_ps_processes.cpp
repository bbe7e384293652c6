// `dm ps serve` and `dm ps work` as real processes on loopback: three workers train Fashion-MNIST
// (a subset) while one of them is killed with SIGKILL; and a server killed with SIGKILL and
// restarted from its checkpoint carries on with the same workers; the server's per-worker report
// counts a worker killed and restarted under its name as one reconnect.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "apps/cli_runner.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using cli_test::ScratchDir;
namespace fs = std::filesystem;

/// A child process with stdout and stderr in one file.
class Process {
 public:
  Process(std::vector<std::string> args, const fs::path& log) : log_(log) {
    args.insert(args.begin(), cli_test::kDmPath);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, cli_test::kDmPath, &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  void kill9() { ::kill(pid_, SIGKILL); }
  /// The exit code, or -1 when it did not exit by itself within `limit` (it is then killed).
  int wait(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }
  std::string output() const { return cli_test::read_file(log_); }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  fs::path log_;
};

// The last "version N" the server has reported, or -1.
long long reported_version(const std::string& log) {
  static const std::regex line(R"(version (\d+) loss ([0-9.]+))");
  long long v = -1;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it)
    v = std::stoll((*it)[1]);
  return v;
}

std::vector<double> reported_losses(const std::string& log) {
  static const std::regex line(R"(version \d+ loss ([0-9.]+))");
  std::vector<double> out;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it)
    out.push_back(std::stod((*it)[1]));
  return out;
}

bool wait_until(const std::function<bool()>& ready, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::string read_port(const fs::path& port_file) {
  if (!wait_until([&] { return fs::exists(port_file); }, 30s)) return "";
  std::string p = cli_test::read_file(port_file);
  while (!p.empty() && (p.back() == '\n')) p.pop_back();
  return p;
}

std::vector<std::string> worker_args(const std::string& port, const fs::path& secret, int seed) {
  return {"ps", "work", "--port", port, "--secret-file", secret.string(), "--limit", "3000", "--batch-size", "64",
          "--seed", std::to_string(seed), "--step-delay-ms", "5"};
}

TEST(PsProcesses, ThreeWorkersConvergeWhileOneIsKilled) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path secret = dir / "secret";
  { std::ofstream(secret) << "a shared secret\n"; }
  const fs::path checkpoint = dir / "server.safetensors";
  Process server({"ps", "serve", "--port", "0", "--port-file", (dir / "port").string(), "--secret-file", secret.string(),
                  "--steps", "300", "--workers", "3", "--checkpoint", checkpoint.string(), "--worker-timeout-ms", "3000"},
                 dir / "server.log");
  ASSERT_TRUE(server.started());
  const std::string port = read_port(dir / "port");
  ASSERT_FALSE(port.empty()) << server.output();
  Process w1(worker_args(port, secret, 1), dir / "w1.log");
  Process w2(worker_args(port, secret, 2), dir / "w2.log");
  Process victim(worker_args(port, secret, 3), dir / "w3.log");
  ASSERT_TRUE(wait_until([&] { return reported_version(server.output()) >= 60; }, 60s)) << server.output();
  victim.kill9();
  EXPECT_EQ(victim.wait(10s), 128 + SIGKILL);
  EXPECT_EQ(server.wait(120s), 0) << server.output();
  EXPECT_EQ(w1.wait(30s), 0) << w1.output();
  EXPECT_EQ(w2.wait(30s), 0) << w2.output();
  const std::string log = server.output();
  EXPECT_NE(log.find("finished at version 300 (dropped 1 workers"), std::string::npos) << log;
  const auto losses = reported_losses(log);
  ASSERT_GE(losses.size(), 10u) << log;
  EXPECT_LT(losses.back(), 0.7 * losses.front()) << log;
  // The checkpoint, judged by `dm eval` on the test split: far above chance (10%).
  const cli_test::Result eval = cli_test::run_dm({"eval", "--checkpoint", checkpoint.string()}, dir);
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(eval.out, m, std::regex(R"(accuracy ([0-9.]+))"))) << eval.out;
  EXPECT_GT(std::stod(m[1]), 0.6) << eval.out;
}

TEST(PsProcesses, KilledServerRestartsFromItsCheckpointAndWorkersReconnect) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path secret = dir / "secret";
  { std::ofstream(secret) << "another secret\n"; }
  const fs::path checkpoint = dir / "server.safetensors";
  auto serve_args = [&](const std::string& port, const std::string& port_file, bool resume) {
    std::vector<std::string> a{"ps", "serve", "--port", port, "--port-file", port_file, "--secret-file",
                               secret.string(), "--steps", "240", "--workers", "2", "--checkpoint",
                               checkpoint.string(), "--checkpoint-every", "20"};
    if (resume) a.push_back("--resume");
    return a;
  };
  auto first = std::make_unique<Process>(serve_args("0", (dir / "port").string(), false), dir / "first.log");
  const std::string port = read_port(dir / "port");
  ASSERT_FALSE(port.empty()) << first->output();
  Process w1(worker_args(port, secret, 1), dir / "w1.log");
  Process w2(worker_args(port, secret, 2), dir / "w2.log");
  ASSERT_TRUE(wait_until([&] { return reported_version(first->output()) >= 80; }, 60s)) << first->output();
  first->kill9();
  EXPECT_EQ(first->wait(10s), 128 + SIGKILL);
  Process second(serve_args(port, (dir / "port2").string(), true), dir / "second.log");
  EXPECT_EQ(second.wait(120s), 0) << second.output();
  EXPECT_EQ(w1.wait(30s), 0) << w1.output();
  EXPECT_EQ(w2.wait(30s), 0) << w2.output();
  const std::string log = second.output();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(listening on [^ ]+ \(async, version (\d+)\))"))) << log;
  const long long resumed = std::stoll(m[1]);
  EXPECT_GE(resumed, 80);  // the checkpoint written at or before the kill
  EXPECT_EQ(resumed % 20, 0);
  EXPECT_LT(resumed, 240);
  EXPECT_NE(log.find("finished at version 240"), std::string::npos) << log;
  for (const Process* w : {&w1, &w2}) {
    const std::string out = w->output();
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(\((\d+) connections\))"))) << out;
    EXPECT_GE(std::stoi(m[1]), 2) << "the worker reconnected to the restarted server";
  }
}

TEST(PsProcesses, ServerReportsEachWorkerAndAWorkerRestartedUnderItsNameAsAReconnect) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path secret = dir / "secret";
  { std::ofstream(secret) << "reporting secret\n"; }
  const fs::path metrics = dir / "ps.jsonl";
  Process server({"ps", "serve", "--port", "0", "--port-file", (dir / "port").string(), "--secret-file", secret.string(),
                  "--steps", "600", "--workers", "2", "--metrics", metrics.string(), "--eval-every", "300"},
                 dir / "server.log");
  ASSERT_TRUE(server.started());
  const std::string port = read_port(dir / "port");
  ASSERT_FALSE(port.empty()) << server.output();
  auto named = [&](const std::string& name, int seed, const std::string& delay_ms) {
    auto a = worker_args(port, secret, seed);
    *(std::find(a.begin(), a.end(), "--step-delay-ms") + 1) = delay_ms;
    a.insert(a.end(), {"--name", name, "--compress", "bf16"});
    return a;
  };
  // Slow enough that the run outlasts the restarted worker's start (it loads its data first).
  Process steady(named("steady", 1, "20"), dir / "steady.log");
  auto victim = std::make_unique<Process>(named("phoenix", 2, "5"), dir / "phoenix1.log");
  ASSERT_TRUE(wait_until([&] { return reported_version(server.output()) >= 40; }, 60s)) << server.output();
  victim->kill9();
  EXPECT_EQ(victim->wait(10s), 128 + SIGKILL);
  Process back(named("phoenix", 3, "5"), dir / "phoenix2.log");
  EXPECT_EQ(server.wait(120s), 0) << server.output();
  EXPECT_EQ(steady.wait(30s), 0) << steady.output();
  EXPECT_EQ(back.wait(30s), 0) << back.output();
  const std::string log = server.output();
  std::smatch m;
  const std::regex final_line(R"(dm ps: final worker (\S+) pushes (\d+) samples/s ([0-9.]+) staleness mean ([0-9.]+) max (\d+) stale-dropped (\d+) reconnects (\d+))");
  std::map<std::string, long long> reconnects;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), final_line); it != std::sregex_iterator(); ++it) {
    EXPECT_GT(std::stoll((*it)[2]), 0) << it->str();
    EXPECT_GT(std::stod((*it)[3]), 0.0) << it->str();
    reconnects[(*it)[1]] = std::stoll((*it)[7]);
  }
  EXPECT_EQ(reconnects, (std::map<std::string, long long>{{"phoenix", 1}, {"steady", 0}})) << log;
  EXPECT_TRUE(std::regex_search(log, m, std::regex(R"(version 600 test_accuracy ([0-9.]+))"))) << log;
  EXPECT_TRUE(std::regex_search(log, m, std::regex(R"(dm ps: (\d+) samples in [0-9.]+ s: ([0-9.]+) samples/s)"))) << log;
  // The metrics file holds the same: interval and final per-worker records, evaluations, the summary.
  const std::string records = cli_test::read_file(metrics);
  for (const char* needle : {R"("format":"dm-ps-metrics-1")", R"("type":"workers")", R"("final":true)",
                             R"("name":"phoenix")", R"("reconnects":1)", R"("type":"eval")", R"("type":"summary")"})
    EXPECT_NE(records.find(needle), std::string::npos) << needle << "\n" << records;
}

TEST(PsProcesses, AServerAndAWorkerTrainOverAuthenticatedFrames) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path secret = dir / "secret";
  { std::ofstream(secret) << "integrity secret\n"; }
  Process server({"ps", "serve", "--port", "0", "--port-file", (dir / "port").string(), "--secret-file", secret.string(),
                  "--steps", "60", "--wire", "authenticated"},
                 dir / "server.log");
  ASSERT_TRUE(server.started());
  const std::string port = read_port(dir / "port");
  ASSERT_FALSE(port.empty()) << server.output();
  auto args = worker_args(port, secret, 1);
  args.insert(args.end(), {"--wire", "authenticated"});
  Process worker(args, dir / "worker.log");
  EXPECT_EQ(server.wait(60s), 0) << server.output();
  EXPECT_EQ(worker.wait(30s), 0) << worker.output();
  std::smatch m;
  const std::string log = server.output();
  EXPECT_TRUE(std::regex_search(log, m, std::regex(R"(dm ps: (\d+) samples in)"))) << log;
  EXPECT_EQ(log.find("failed authentication"), std::string::npos) << log;
}

TEST(PsProcesses, ServerIdlePastItsTimeoutExitsWithAnErrorInsteadOfLingering) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path secret = dir / "secret";
  { std::ofstream(secret) << "idle secret\n"; }
  const fs::path checkpoint = dir / "server.safetensors";
  Process server({"ps", "serve", "--port", "0", "--port-file", (dir / "port").string(), "--secret-file", secret.string(),
                  "--steps", "100", "--checkpoint", checkpoint.string(), "--idle-timeout-ms", "1500"},
                 dir / "server.log");
  ASSERT_TRUE(server.started());
  ASSERT_FALSE(read_port(dir / "port").empty()) << server.output();
  // No worker ever sends an update: the server must end, with an error, not linger.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.wait(15s), 1) << server.output();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  const std::string log = server.output();
  EXPECT_NE(log.find("no update for 1500 ms"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(checkpoint)) << "what the server holds is saved for a restart with --resume";
}

}  // namespace
