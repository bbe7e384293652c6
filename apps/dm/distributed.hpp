#pragma once
// `dm train --distributed`: data-parallel training across the ranks of an MPI job
// (`mpirun -np N dm train --distributed ...`).
#include <CLI/CLI.hpp>

#include "commands.hpp"

namespace dm::cli {

struct DistributedFlags {
  bool enabled = false;
  std::int64_t bucket_kb = 1024;
  std::int64_t timeout_ms = 60000;  // how long a collective waits for the other ranks
  std::string compress = "none";    // or "bf16": gradients sent as bf16 with error feedback
  bool verbose = false;             // print every gradient bucket at the start
  std::string all_reduce = "automatic";  // or "mpi", "tcp_ring" (WorldOptions::all_reduce_route)
};

/// Adds --distributed (with --bucket-kb, --collective-timeout-ms, --compress, --all-reduce and
/// --ddp-verbose) to the train command.
void add_distributed_flags(CLI::App& train_command, DistributedFlags& flags);
/// UsageError when the train command was given a flag that works with --distributed only.
void check_distributed_flags(const CLI::App& train_command, const DistributedFlags& flags);
/// Trains with dm::dist::DistributedTrainer: every rank takes its share of each batch; rank 0
/// alone prints, writes metrics and checkpoints, and every rank reads the checkpoint it resumes
/// from. `command` (the parsed train command) tells which options were given, for --resume.
/// Returns the exit code. A rank that fails while there are others (a collective timed out,
/// say) ends the whole MPI job with its error.
int run_distributed_train(const CLI::App& command, TrainOptions options, const DistributedFlags& flags);

}  // namespace dm::cli
