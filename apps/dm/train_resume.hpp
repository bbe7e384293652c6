#pragma once
// What `dm train` and `dm train --distributed` share to continue a run exactly: the options a
// resumed run takes from its checkpoint, and the learning rate of every step.
#include <cstdint>
#include <memory>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "democratising/optim/schedule.hpp"
#include "setup.hpp"

namespace dm::cli {

/// Options not given on the command line of a resumed run (`command` tells which were) come
/// from its checkpoint's record.
void fill_from_checkpoint(const CLI::App& command, const RunRecord& record, TrainOptions& options);

/// The rate of every step of the run: a pure function of the global step, so a resumed run
/// picks up the curve where it stopped.
std::shared_ptr<const optim::Schedule> make_schedule(const TrainOptions& options, std::int64_t steps_per_epoch);

}  // namespace dm::cli
