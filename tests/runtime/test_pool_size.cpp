// The default pool size: all the cores a process may use, or its equal part of them when
// mpirun started several ranks on the machine without binding them to cores of their own.
#include <gtest/gtest.h>

#include "runtime/pool_size.hpp"

namespace {

using dm::detail::pool_size_for;

TEST(PoolSize, AloneAProcessTakesEveryCoreItMayUse) {
  EXPECT_EQ(pool_size_for(16, 16, 0), 16);
  EXPECT_EQ(pool_size_for(16, 16, 1), 16);
  EXPECT_EQ(pool_size_for(4, 16, 0), 4);  // taskset or a container limit
}

TEST(PoolSize, UnboundRanksOnOneMachineShareItsCores) {
  EXPECT_EQ(pool_size_for(2, 2, 2), 1);
  EXPECT_EQ(pool_size_for(16, 16, 4), 4);
  EXPECT_EQ(pool_size_for(16, 16, 3), 5);
  EXPECT_EQ(pool_size_for(2, 2, 8), 1) << "more ranks than cores still leaves each a thread";
}

TEST(PoolSize, BoundRanksKeepWhatTheLauncherGaveThem) {
  EXPECT_EQ(pool_size_for(1, 2, 2), 1);
  EXPECT_EQ(pool_size_for(4, 16, 4), 4);
}

TEST(PoolSize, NonsenseCountsStillGiveOneThread) {
  EXPECT_EQ(pool_size_for(0, 0, 0), 1);
  EXPECT_EQ(pool_size_for(-3, 8, 2), 1);
}

}  // namespace
