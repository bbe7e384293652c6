#pragma once
// The subcommands of `dm`: their options, how they register with CLI11, and how they run.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "democratising/data/fashion_mnist.hpp"

namespace dm::cli {

/// A command line that parsed but makes no sense (e.g. a malformed --model): exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TrainOptions {
  std::string model = "mlp:784-256-128-10";
  int epochs = 10;
  int stop_after = 0;  // 0: run to --epochs; otherwise end the process after this many epochs
  std::int64_t batch_size = 64;
  double lr = 0.02;
  std::string optimizer = "sgd";
  double momentum = 0.9;
  std::string schedule = "cosine";  // or "constant"
  int threads = 0;  // 0: the pool's default (all cores, or DM_NUM_THREADS)
  std::int64_t shard_size = 0;  // 0: max(32, half the batch), a function of the batch size only
  std::uint64_t seed = 0;
  std::string checkpoint;
  std::string resume;
  std::string data = data::kFashionMnistDir;
  std::int64_t limit = 0;  // 0: every training sample
  std::string metrics;
  std::string on_non_finite = "stop";  // or "skip": what a step with a NaN/inf loss or gradient does
  std::string device = "cpu";         // "cpu", "cuda" or "cuda:N"
  std::int64_t log_every = 0;         // 0: no per-step records in the metrics file
  bool summary = false;               // print the model's layers and exit
};

struct EvalOptions {
  std::string checkpoint;
  std::string model;  // empty: the one recorded in the checkpoint
  std::string data = data::kFashionMnistDir;
  std::int64_t batch_size = 1000;
  int threads = 0;
  bool allow_non_finite = false;  // load a checkpoint holding NaN or infinity
  std::string device = "cpu";
};

struct ReportOptions {
  std::vector<std::string> inputs;  // metrics files of dm train or dm ps serve
  std::string output;
  std::string title = "dm training report";
};

/// Registers `train` on `app`; the options are written into `options` by parsing.
CLI::App* add_train_command(CLI::App& app, TrainOptions& options);
/// Runs a parsed `train`; `command` tells which options were given explicitly. Returns the exit code.
int run_train(const CLI::App& command, TrainOptions options);

CLI::App* add_eval_command(CLI::App& app, EvalOptions& options);
int run_eval(const EvalOptions& options);

CLI::App* add_report_command(CLI::App& app, ReportOptions& options);
int run_report(const ReportOptions& options);

}  // namespace dm::cli
