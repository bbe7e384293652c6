#pragma once
// What `dm ps serve` reports: a line per worker (pushes, samples/s, staleness, reconnects) once
// per report interval and at the end, test-set evaluations, and the same as JSON lines in its
// metrics file:
//   {"type":"config", "format":"dm-ps-metrics-1", ...}     first: the server's settings
//   {"type":"workers", "version":v, "seconds":s, "final":b, "workers":[{"name":..., "pushes":...,
//    "samples":..., "samples_per_s":..., "applied":..., "mean_staleness":..., "max_staleness":...,
//    "stale_dropped":..., "reconnects":..., "connected":...}, ...]}
//   {"type":"eval", "version":v, "seconds":s, "test_loss":l, "test_accuracy":a}
//   {"type":"summary", "version":v, "seconds":s, "samples":n, "samples_per_s":r}
// "seconds" count from the first update the server took.
#include <cstdint>
#include <string>
#include <vector>

#include "democratising/distributed/parameter_server.hpp"
#include "metrics.hpp"

namespace dm::cli {

inline constexpr const char* kPsMetricsFormat = "dm-ps-metrics-1";

/// "worker NAME pushes P samples/s S staleness mean M max X stale-dropped D reconnects R connected|gone"
std::string worker_line(const dist::WorkerStats& w);

std::string workers_record(const std::vector<dist::WorkerStats>& workers, std::int64_t version, double seconds, bool final);
std::string eval_record(std::int64_t version, double seconds, double test_loss, double test_accuracy);
std::string summary_record(std::int64_t version, double seconds, std::int64_t samples);
// The config record is to_json_line(config, kPsMetricsFormat), and the file a MetricsFile (metrics.hpp).

}  // namespace dm::cli
