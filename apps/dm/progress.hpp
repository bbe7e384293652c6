#pragma once
// The live progress line of a training run on stderr: rewritten in place with \r while an
// epoch runs, at most ten times a second, and only when stderr is a terminal.
#include <chrono>
#include <cstdint>

namespace dm::cli {

/// Seconds left in a run: the samples still to train, this epoch's rest and every later
/// epoch's, at the rate measured so far. Evaluation passes are not counted (they take a small
/// share of an epoch). 0 before any rate is known.
double run_eta_seconds(std::int64_t samples_done_in_epoch, std::int64_t samples_per_epoch, std::int64_t epochs_after_this,
                       double samples_per_second);

class ProgressLine {
 public:
  /// `epoch` is 1-based, of `epochs` in all; `last_epoch` (1-based) is where this process stops
  /// (before `epochs` with --stop-after). total_samples is the epoch's size.
  ProgressLine(int epoch, int epochs, int last_epoch, std::int64_t total_samples);
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
  int epoch_, epochs_, last_epoch_;
  std::int64_t total_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
};

}  // namespace dm::cli
