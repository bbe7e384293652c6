#pragma once
// The metrics file of one `dm train` run, read back for `dm report` (format: metrics.hpp).
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "record_reader.hpp"

namespace dm::cli {

struct EpochPoint {
  double lr = 0.0;  // 0 when the file does not say (written before the rate was recorded)
  double train_loss = 0.0;
  double test_loss = 0.0;
  double test_accuracy = 0.0;
  double samples_per_s = 0.0;
};

struct StepPoint {
  std::int64_t epoch = 0;
  double loss = 0.0;
  double lr = 0.0;
};

struct RunLog {
  std::string path;
  std::string name;  // the file name without directory and extension; made unique by read_report_inputs
  /// The first config record's settings, as display text, in file order (empty when it has none).
  std::vector<std::pair<std::string, std::string>> config;
  std::int64_t parts = 0;            // config records: 1 + the times the run was resumed
  std::int64_t steps_per_epoch = 0;  // from the config record; 0 when unknown
  /// By epoch or step number; a number written twice (an epoch redone after a crash) keeps its last record.
  std::map<std::int64_t, EpochPoint> epochs;
  std::map<std::int64_t, StepPoint> steps;
};

/// Adds one record of a dm train metrics file to `log`. Fails (LineReader::fail) for an unknown
/// record type, a missing field, a value that is not a finite number (NaN and infinity are
/// written as null) or a config record of another format.
void read_run_record(const LineReader& in, const Record& record, RunLog& log);

}  // namespace dm::cli
