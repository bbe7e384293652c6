#pragma once
// Per-epoch figures: the summary line on stdout and the JSON-lines metrics file.
#include <cstdint>
#include <cstdio>
#include <string>

namespace dm::cli {

struct EpochMetrics {
  std::int64_t epoch = 0;  // 1-based
  double train_loss = 0.0;
  double samples_per_s = 0.0;
  double test_loss = 0.0;
  double test_accuracy = 0.0;
  double seconds = 0.0;
};

/// One JSON object on one line; numbers as the shortest text that reads back exactly, so two
/// runs can be compared bit for bit through the file.
std::string to_json_line(const EpochMetrics& m);

/// "epoch 2/5  train_loss 0.4123  test_loss 0.4410  test_accuracy 0.8431  51234 samples/s  3.1s"
std::string summary_line(const EpochMetrics& m, int epochs);

/// Appends one line per epoch and flushes it, so a killed run keeps the epochs it finished.
class MetricsFile {
 public:
  /// Truncates the file unless `append` (a resumed run adds to its earlier lines).
  /// Throws dm::IoError when it cannot be opened.
  MetricsFile(const std::string& path, bool append);
  ~MetricsFile();
  MetricsFile(const MetricsFile&) = delete;
  MetricsFile& operator=(const MetricsFile&) = delete;
  void write(const EpochMetrics& m);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace dm::cli
