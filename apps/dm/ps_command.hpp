#pragma once
// `dm ps serve` and `dm ps work`: a parameter server and its workers as separate processes,
// training an MLP on Fashion-MNIST over TCP.
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "democratising/data/fashion_mnist.hpp"

namespace dm::cli {

struct PsOptions {
  // shared
  std::string host = "127.0.0.1";
  int port = 5555;
  std::string secret_file;  // else the environment's DM_PS_SECRET; else no secret (loopback only)
  std::string wire = "sealed";  // with a secret: sealed or authenticated frames (both ends alike)
  std::string model = "mlp:784-128-10";
  // serve
  std::string mode = "async";
  std::int64_t max_staleness = 4;
  std::int64_t steps = 1000;
  std::int64_t workers = 1;
  std::string optimizer = "sgd";
  // Asynchronous updates arrive a few versions stale: a milder momentum than dm train's
  // keeps them from compounding (measured: 79% test accuracy after 300 versions, 3 workers).
  double lr = 0.05;
  double momentum = 0.5;
  std::string checkpoint;
  std::int64_t checkpoint_every = 50;
  bool resume = false;
  std::string port_file;  // serve: the bound port is written here once listening
  std::string metrics;    // serve: JSON-lines file of per-worker figures and evaluations (ps_report.hpp)
  std::int64_t eval_every = 0;  // serve: evaluate on the test split every this many versions; 0: never
  double target_accuracy = 0.0;  // serve: end training once the test accuracy reaches this; 0: never
  int worker_timeout_ms = 10000;
  int idle_timeout_ms = 0;  // serve: exit with an error after this long without an update; 0: max(60 s, 3 x worker timeout)
  // work
  std::string data = data::kFashionMnistDir;
  std::int64_t limit = 0;
  std::int64_t batch_size = 64;
  std::uint64_t seed = 0;
  std::int64_t max_steps = 0;  // 0: until the server finishes
  int step_delay_ms = 0;       // slows a worker down (tests and demonstrations)
  std::string name;            // the server's per-worker figures go by it; empty: host name and pid
  std::string compress = "none";  // or "bf16": updates as bf16 with error feedback
};

/// Registers `ps` with its `serve` and `work` subcommands.
CLI::App* add_ps_command(CLI::App& app, PsOptions& options);
/// Runs whichever of them was parsed; returns the exit code.
int run_ps(const CLI::App& ps, const PsOptions& options);

}  // namespace dm::cli
