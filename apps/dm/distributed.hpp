#pragma once
// `dm train --distributed`: data-parallel training across the ranks of an MPI job
// (`mpirun -np N dm train --distributed ...`).
#include <CLI/CLI.hpp>

#include "commands.hpp"

namespace dm::cli {

struct DistributedFlags {
  bool enabled = false;
  std::int64_t bucket_kb = 4096;
};

/// Adds --distributed (and --bucket-kb) to the train command.
void add_distributed_flags(CLI::App& train_command, DistributedFlags& flags);
/// Trains with dm::dist::DistributedTrainer: every rank takes its share of each batch; rank 0
/// alone prints, writes metrics and checkpoints. Returns the exit code.
int run_distributed_train(const TrainOptions& options, const DistributedFlags& flags);

}  // namespace dm::cli
