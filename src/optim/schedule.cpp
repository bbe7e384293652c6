#include "democratising/optim/schedule.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "democratising/base/error.hpp"

namespace dm::optim {
namespace {

void check_step(std::int64_t step, const char* op) {
  if (step < 0) throw ValueError(std::string("[") + op + "] step must be >= 0, got " + std::to_string(step));
}

void check_rate(double lr, const char* what, const char* op) {
  if (!(lr >= 0.0) || !std::isfinite(lr))
    throw ValueError(std::string("[") + op + "] " + what + " must be finite and >= 0, got " + std::to_string(lr));
}

}  // namespace

StepLR::StepLR(double base_lr, std::int64_t step_size, double gamma) : base_(base_lr), step_size_(step_size), gamma_(gamma) {
  check_rate(base_lr, "base_lr", "StepLR");
  if (step_size < 1) throw ValueError("[StepLR] step_size must be >= 1, got " + std::to_string(step_size));
  if (!(gamma > 0.0) || !std::isfinite(gamma)) throw ValueError("[StepLR] gamma must be > 0, got " + std::to_string(gamma));
}

double StepLR::lr_at(std::int64_t step) const {
  check_step(step, "StepLR");
  return base_ * std::pow(gamma_, static_cast<double>(step / step_size_));
}

CosineLR::CosineLR(double base_lr, std::int64_t total_steps, double min_lr) : base_(base_lr), total_(total_steps), min_(min_lr) {
  check_rate(base_lr, "base_lr", "CosineLR");
  check_rate(min_lr, "min_lr", "CosineLR");
  if (total_steps < 1) throw ValueError("[CosineLR] total_steps must be >= 1, got " + std::to_string(total_steps));
}

double CosineLR::lr_at(std::int64_t step) const {
  check_step(step, "CosineLR");
  if (step >= total_) return min_;
  const double progress = static_cast<double>(step) / static_cast<double>(total_);
  return min_ + (base_ - min_) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

LinearWarmup::LinearWarmup(std::int64_t warmup_steps, std::shared_ptr<const Schedule> after)
    : warmup_(warmup_steps), after_(std::move(after)) {
  if (warmup_steps < 0) throw ValueError("[LinearWarmup] warmup_steps must be >= 0, got " + std::to_string(warmup_steps));
  if (!after_) throw ValueError("[LinearWarmup] the schedule after the warm-up is null");
}

double LinearWarmup::lr_at(std::int64_t step) const {
  check_step(step, "LinearWarmup");
  if (step >= warmup_) return after_->lr_at(step - warmup_);
  // Step 0 already moves (rate 1/warmup of the target), and the last warm-up step reaches it.
  return after_->lr_at(0) * static_cast<double>(step + 1) / static_cast<double>(warmup_);
}

ConstantLR::ConstantLR(double lr) : lr_(lr) { check_rate(lr, "lr", "ConstantLR"); }

}  // namespace dm::optim
