// cuBLAS is loaded on the first GEMM, not when a program starts (backend/cuda/cublas_library.hpp):
// a fresh process of a CUDA build has no libcublas mapped.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace {

TEST(CublasLoading, AFreshProcessHasNoCublasMapped) {
  // Only a fresh process tells: CTest runs each test alone, a whole-binary run may not.
  const auto* unit = testing::UnitTest::GetInstance();
  const auto* self = unit->current_test_info();
  for (int s = 0; s < unit->total_test_suite_count(); ++s) {
    const auto* suite = unit->GetTestSuite(s);
    for (int t = 0; t < suite->total_test_count(); ++t) {
      const auto* info = suite->GetTestInfo(t);
      if (info != self && info->result()->start_timestamp() != 0)
        GTEST_SKIP() << "other tests ran first in this process (a GEMM may have loaded cuBLAS)";
    }
  }
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
