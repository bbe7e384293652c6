#pragma once
// The live progress line of one training epoch on stderr: rewritten in place with \r while
// the epoch runs, at most ten times a second, and only when stderr is a terminal.
#include <chrono>
#include <cstdint>

namespace dm::cli {

class ProgressLine {
 public:
  /// `epoch` is 1-based; total_samples is the epoch's size.
  ProgressLine(int epoch, int epochs, std::int64_t total_samples);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  /// After each batch: samples done so far in this epoch and the mean loss over them.
  void update(std::int64_t samples_done, double running_loss);
  /// Erases the line (so the epoch's summary on stdout starts on a clean line).
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  bool shown_ = false;
  int epoch_, epochs_;
  std::int64_t total_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
};

}  // namespace dm::cli
