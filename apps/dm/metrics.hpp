#pragma once
// The JSON-lines metrics file of dm train and the summary line on stdout.
//
// Every line is one JSON object with a "type":
//   {"type":"config", ...}  first: the run's settings (again at the start of a resumed part)
//   {"type":"step", "step":s, "epoch":e, "loss":l, "lr":r}  every --log-every steps
//   {"type":"epoch", "epoch":e, "lr":r, "train_loss":..., "samples_per_s":..., "test_loss":...,
//    "test_accuracy":..., "seconds":...}  after each epoch
// Numbers are the shortest text that reads back exactly, so runs compare bit for bit. The
// parameter server's records (ps_report.hpp) go through the same file and config writer.
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace dm::cli {

/// The "format" of the config record; dm report reads files of this format.
inline constexpr const char* kMetricsFormat = "dm-metrics-1";

struct EpochMetrics {
  std::int64_t epoch = 0;  // 1-based
  double lr = 0.0;         // the learning rate of the epoch's first step
  double train_loss = 0.0;
  double samples_per_s = 0.0;
  double test_loss = 0.0;
  double test_accuracy = 0.0;
  double seconds = 0.0;
};

struct StepMetrics {
  std::int64_t step = 0;   // 1-based, counted over the whole run
  std::int64_t epoch = 0;  // 1-based
  double loss = 0.0;       // the batch's mean loss
  double lr = 0.0;
};

/// A run's settings as (name, value) pairs, in the order they are written.
using ConfigValue = std::variant<std::string, std::int64_t, std::uint64_t, double>;
using RunConfig = std::vector<std::pair<std::string, ConfigValue>>;

std::string to_json_line(const EpochMetrics& m);
std::string to_json_line(const StepMetrics& m);
/// The "config" record: `format` (kMetricsFormat, or the parameter server's), then the settings.
std::string to_json_line(const RunConfig& config, const char* format = kMetricsFormat);

/// "epoch 2/5  train_loss 0.4123  test_loss 0.4410  test_accuracy 0.8431  51234 samples/s  3.1s"
std::string summary_line(const EpochMetrics& m, int epochs);

/// Appends lines and flushes each, so a killed run (or server) keeps the records it finished.
class MetricsFile {
 public:
  /// Truncates the file unless `append` (a resumed run adds to its earlier lines).
  /// Throws dm::IoError when it cannot be opened.
  MetricsFile(const std::string& path, bool append);
  ~MetricsFile();
  MetricsFile(const MetricsFile&) = delete;
  MetricsFile& operator=(const MetricsFile&) = delete;
  void write(const EpochMetrics& m) { write_line(to_json_line(m)); }
  void write(const StepMetrics& m) { write_line(to_json_line(m)); }
  void write(const RunConfig& config) { write_line(to_json_line(config)); }
  /// One record already written as JSON (without the newline). Throws dm::IoError on failure.
  void write_line(const std::string& line);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace dm::cli
