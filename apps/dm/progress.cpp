#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace dm::cli {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

}  // namespace

ProgressLine::ProgressLine(int epoch, int epochs, std::int64_t total_samples)
    : enabled_(::isatty(STDERR_FILENO) == 1),
      epoch_(epoch),
      epochs_(epochs),
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
  const double eta = rate > 0 ? static_cast<double>(total_ - samples_done) / rate : 0.0;
  const double percent = total_ > 0 ? 100.0 * static_cast<double>(samples_done) / static_cast<double>(total_) : 100.0;
  // \033[K clears what a longer previous line left behind.
  std::fprintf(stderr, "\repoch %d/%d  %3.0f%%  loss %.4f  %.0f samples/s  ETA %.0fs\033[K", epoch_, epochs_, percent,
               running_loss, rate, eta);
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
