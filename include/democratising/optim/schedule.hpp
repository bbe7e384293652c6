#pragma once
// Learning-rate schedules: pure functions of the step number, so a resumed run continues
// exactly where it stopped.
#include <cstdint>
#include <memory>

namespace dm::optim {

/// Constructors throw ValueError for a negative or non-finite rate, a non-positive size or
/// gamma; lr_at throws ValueError for a negative step.
class Schedule {
 public:
  virtual ~Schedule() = default;
  /// The learning rate for step `step` (0-based).
  virtual double lr_at(std::int64_t step) const = 0;
};

/// base * gamma^(step / step_size), with integer division.
class StepLR : public Schedule {
 public:
  /// Starts at base_lr and multiplies by gamma every step_size steps.
  StepLR(double base_lr, std::int64_t step_size, double gamma = 0.1);
  double lr_at(std::int64_t step) const override;

 private:
  double base_;
  std::int64_t step_size_;
  double gamma_;
};

/// Cosine annealing from base to min_lr over total_steps, then min_lr.
class CosineLR : public Schedule {
 public:
  /// Anneals from base_lr to min_lr over total_steps.
  CosineLR(double base_lr, std::int64_t total_steps, double min_lr = 0.0);
  double lr_at(std::int64_t step) const override;

 private:
  double base_;
  std::int64_t total_;
  double min_;
};

/// Linear warm-up from 0 (exclusive) to the inner schedule's value over warmup_steps, then the
/// inner schedule (shifted so that it starts after the warm-up).
class LinearWarmup : public Schedule {
 public:
  /// Warms up over warmup_steps, then follows `after`.
  LinearWarmup(std::int64_t warmup_steps, std::shared_ptr<const Schedule> after);
  double lr_at(std::int64_t step) const override;

 private:
  std::int64_t warmup_;
  std::shared_ptr<const Schedule> after_;
};

/// A constant rate (finite, >= 0).
class ConstantLR : public Schedule {
 public:
  /// Always `lr`.
  explicit ConstantLR(double lr);
  double lr_at(std::int64_t) const override { return lr_; }

 private:
  double lr_;
};

}  // namespace dm::optim
