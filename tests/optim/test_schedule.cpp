// Learning-rate schedules: values at chosen steps, worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numbers>

#include "democratising/base/error.hpp"
#include "democratising/optim/schedule.hpp"

namespace {

using namespace dm::optim;

TEST(Schedule, StepLR) {
  StepLR s(0.1, 3, 0.5);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(2), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(3), 0.05);
  EXPECT_DOUBLE_EQ(s.lr_at(5), 0.05);
  EXPECT_DOUBLE_EQ(s.lr_at(6), 0.025);
  EXPECT_DOUBLE_EQ(s.lr_at(30), 0.1 / 1024);
  EXPECT_DOUBLE_EQ(StepLR(1.0, 1).lr_at(2), 0.01);  // default gamma 0.1
  EXPECT_THROW(StepLR(0.1, 0), dm::ValueError);
  EXPECT_THROW(StepLR(0.1, 2, 0.0), dm::ValueError);
  EXPECT_THROW(StepLR(-0.1, 2), dm::ValueError);
  EXPECT_THROW(s.lr_at(-1), dm::ValueError);
}

TEST(Schedule, CosineLR) {
  CosineLR s(1.0, 4, 0.2);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 1.0);
  EXPECT_NEAR(s.lr_at(1), 0.2 + 0.8 * (1 + std::sqrt(0.5)) / 2, 1e-15);
  EXPECT_NEAR(s.lr_at(2), 0.6, 1e-15);
  EXPECT_NEAR(s.lr_at(3), 0.2 + 0.8 * (1 - std::sqrt(0.5)) / 2, 1e-15);
  EXPECT_DOUBLE_EQ(s.lr_at(4), 0.2);
  EXPECT_DOUBLE_EQ(s.lr_at(100), 0.2);
  EXPECT_DOUBLE_EQ(CosineLR(0.5, 10).lr_at(10), 0.0);  // default min 0
  EXPECT_THROW(CosineLR(1.0, 0), dm::ValueError);
  EXPECT_THROW(CosineLR(1.0, 5, -1.0), dm::ValueError);
  EXPECT_THROW(s.lr_at(-3), dm::ValueError);
}

TEST(Schedule, LinearWarmup) {
  auto inner = std::make_shared<StepLR>(0.4, 2, 0.5);
  LinearWarmup s(4, inner);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(1), 0.2);
  EXPECT_DOUBLE_EQ(s.lr_at(3), 0.4);
  // Then the inner schedule from its own step 0.
  EXPECT_DOUBLE_EQ(s.lr_at(4), 0.4);
  EXPECT_DOUBLE_EQ(s.lr_at(5), 0.4);
  EXPECT_DOUBLE_EQ(s.lr_at(6), 0.2);
  EXPECT_DOUBLE_EQ(LinearWarmup(0, inner).lr_at(2), 0.2);  // no warm-up at all
  EXPECT_THROW(LinearWarmup(-1, inner), dm::ValueError);
  EXPECT_THROW(LinearWarmup(3, nullptr), dm::ValueError);
  EXPECT_THROW(s.lr_at(-1), dm::ValueError);
}

TEST(Schedule, ConstantLR) {
  ConstantLR s(0.03);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.03);
  EXPECT_DOUBLE_EQ(s.lr_at(123456), 0.03);
  EXPECT_THROW(ConstantLR(-0.1), dm::ValueError);
  EXPECT_THROW(ConstantLR(std::nan("")), dm::ValueError);
}

// Schedules are pure: the same step gives the same rate in any order (resumed runs rely on it).
TEST(Schedule, PureFunctionsOfTheStep) {
  LinearWarmup s(3, std::make_shared<CosineLR>(0.1, 10, 0.01));
  const double late = s.lr_at(9);
  EXPECT_EQ(s.lr_at(1), LinearWarmup(3, std::make_shared<CosineLR>(0.1, 10, 0.01)).lr_at(1));
  EXPECT_EQ(s.lr_at(9), late);
}

}  // namespace
