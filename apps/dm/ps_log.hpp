#pragma once
// The metrics file of one `dm ps serve` run, read back for `dm report` (format: ps_report.hpp).
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "democratising/distributed/parameter_server.hpp"
#include "record_reader.hpp"

namespace dm::cli {

/// A worker's figures in one "workers" record (the server's totals up to then).
struct PsWorkerPoint {
  std::int64_t version = 0;
  double seconds = 0.0;
  dist::WorkerStats stats;  // as the server reported them (connections: reconnects + 1)
};

struct PsWorkerTrace {
  std::string name;
  std::vector<PsWorkerPoint> points;  // in file order
};

struct PsEvalPoint {
  std::int64_t version = 0;
  double seconds = 0.0;
  double test_loss = 0.0;
  double test_accuracy = 0.0;
};

struct PsSummary {
  std::int64_t version = 0;
  double seconds = 0.0;
  std::int64_t samples = 0;
  double samples_per_s = 0.0;
};

struct PsLog {
  std::string path;
  std::string name;  // as RunLog::name
  std::vector<std::pair<std::string, std::string>> config;
  std::vector<PsWorkerTrace> workers;  // in the order the server first reported them
  std::vector<PsEvalPoint> evals;      // in file order
  std::optional<PsSummary> summary;    // absent when the server was stopped before its end
};

/// True for the config record that opens a dm ps serve metrics file.
bool is_ps_config(const Record& record);

/// Adds one record of a dm ps serve metrics file to `log`. Fails (LineReader::fail) for an
/// unknown record type, a missing field, a value of the wrong kind or a config of another format.
void read_ps_record(const LineReader& in, const Record& record, PsLog& log);

}  // namespace dm::cli
