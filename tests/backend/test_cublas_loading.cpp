// cuBLAS is loaded on the first GEMM, not when a program starts (backend/cuda/cublas_library.hpp):
// a fresh process of a CUDA build has no libcublas mapped.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace {

TEST(CublasLoading, AFreshProcessHasNoCublasMapped) {
  const auto* unit = testing::UnitTest::GetInstance();
  if (unit->successful_test_count() + unit->failed_test_count() + unit->skipped_test_count() > 0)
    GTEST_SKIP() << "other tests ran first in this process (a GEMM may have loaded cuBLAS); CTest runs it alone";
  std::ifstream maps("/proc/self/maps");
  ASSERT_TRUE(maps.good()) << "no /proc/self/maps to read";
  std::string line;
  int lines = 0;
  while (std::getline(maps, line)) {
    ++lines;
    EXPECT_EQ(line.find("libcublas"), std::string::npos) << line;
  }
  EXPECT_GT(lines, 0);
}

}  // namespace
