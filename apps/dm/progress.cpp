#include "progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace dm::cli {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

// "42s", "3m05s", "2h07m": an ETA of hours in seconds is hard to read.
std::string format_duration(double seconds) {
  if (!(seconds < 1e9)) return "?";  // also NaN: no estimate worth printing
  const long long s = static_cast<long long>(seconds + 0.5);
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  }
  return buf;
}

}  // namespace

double run_eta_seconds(std::int64_t samples_done_in_epoch, std::int64_t samples_per_epoch, std::int64_t epochs_after_this,
                       double samples_per_second) {
  if (!(samples_per_second > 0)) return 0.0;
  const double left = static_cast<double>(samples_per_epoch - samples_done_in_epoch) +
                      static_cast<double>(epochs_after_this) * static_cast<double>(samples_per_epoch);
  return left > 0 ? left / samples_per_second : 0.0;
}

ProgressLine::ProgressLine(int epoch, int epochs, int last_epoch, std::int64_t total_samples)
    : enabled_(::isatty(STDERR_FILENO) == 1),
      epoch_(epoch),
      epochs_(epochs),
      last_epoch_(last_epoch),
      total_(total_samples),
      start_(Clock::now()),
      last_draw_(start_) {}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::update(std::int64_t samples_done, double running_loss) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (now - last_draw_ < kRedrawInterval && samples_done < total_) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(samples_done) / elapsed : 0.0;
  // The whole run's remainder, not only this epoch's: what someone waiting wants to know.
  const double eta = run_eta_seconds(samples_done, total_, last_epoch_ - epoch_, rate);
  const double percent = total_ > 0 ? 100.0 * static_cast<double>(samples_done) / static_cast<double>(total_) : 100.0;
  // \033[K clears what a longer previous line left behind.
  std::fprintf(stderr, "\repoch %d/%d  %3.0f%%  loss %.4f  %.0f samples/s  run ETA %s\033[K", epoch_, epochs_, percent,
               running_loss, rate, format_duration(eta).c_str());
  std::fflush(stderr);
  shown_ = true;
}

void ProgressLine::finish() {
  if (!shown_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace dm::cli
