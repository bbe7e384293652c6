// The one pool: sizing, block boundaries, exceptions, join and nesting without oversubscription.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "democratising/democratising.hpp"

extern "C" int openblas_get_num_threads(void);

namespace {

using ::testing::HasSubstr;

// Restores the pool size a test changed.
struct ThreadCountGuard {
  int saved = dm::num_threads();
  ~ThreadCountGuard() { dm::set_num_threads(saved); }
};

TEST(Pool, SetAndReadThreadCount) {
  ThreadCountGuard guard;
  dm::set_num_threads(3);
  EXPECT_EQ(dm::num_threads(), 3);
  dm::set_num_threads(1);
  EXPECT_EQ(dm::num_threads(), 1);
}

TEST(Pool, RejectsZeroThreads) {
  try {
    dm::set_num_threads(0);
    FAIL() << "expected ValueError";
  } catch (const dm::ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr("set_num_threads"));
  }
}

// Run under CTest with DM_NUM_THREADS=3 and DM_EXPECT_THREADS=3 (see tests/CMakeLists.txt).
TEST(Pool, DefaultComesFromEnvironment) {
  const char* expect = std::getenv("DM_EXPECT_THREADS");
  if (!expect) GTEST_SKIP() << "only meaningful in the DM_NUM_THREADS CTest entry";
  EXPECT_EQ(dm::num_threads(), std::atoi(expect));
}

TEST(Pool, ParForVisitsEveryIndexOnceInFixedBlocks) {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 4}) {
    dm::set_num_threads(threads);
    const std::int64_t n = 10007, grain = 64;
    std::vector<std::atomic<int>> hits(n);
    std::mutex m;
    std::set<std::pair<std::int64_t, std::int64_t>> blocks;
    dm::par_for(n, grain, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
      std::lock_guard lock(m);
      blocks.insert({b, e});
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    // Blocks are [k*grain, min(n,(k+1)*grain)) whatever the thread count.
    ASSERT_EQ(blocks.size(), static_cast<std::size_t>((n + grain - 1) / grain));
    for (auto [b, e] : blocks) {
      EXPECT_EQ(b % grain, 0);
      EXPECT_EQ(e, std::min(n, b + grain));
    }
  }
}

TEST(Pool, ParForOfNothingCallsNothing) {
  bool called = false;
  dm::par_for(0, 16, [&](std::int64_t, std::int64_t) { called = true; });
  EXPECT_FALSE(called);
}

TEST(Pool, ParForExceptionReachesCaller) {
  ThreadCountGuard guard;
  dm::set_num_threads(2);
  EXPECT_THROW(dm::par_for(1000, 10,
                           [](std::int64_t b, std::int64_t) {
                             if (b == 500) throw dm::ShapeError("boom");
                           }),
               dm::ShapeError);
}

TEST(Pool, ParMapKeepsOrder) {
  ThreadCountGuard guard;
  dm::set_num_threads(2);
  std::vector<int> in(1000);
  for (int i = 0; i < 1000; ++i) in[static_cast<std::size_t>(i)] = i;
  auto out = dm::par_map(in, [](int v) { return std::to_string(v * 2); });
  ASSERT_EQ(out.size(), in.size());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], std::to_string(2 * i));
}

TEST(Pool, ParMapExceptionReachesCaller) {
  std::vector<int> in{1, 2, 3, 4};
  EXPECT_THROW(dm::par_map(in,
                           [](int v) {
                             if (v == 3) throw std::runtime_error("three");
                             return v;
                           }),
               std::runtime_error);
}

TEST(Pool, JoinReturnsBothResults) {
  ThreadCountGuard guard;
  for (int threads : {1, 2}) {
    dm::set_num_threads(threads);
    auto [a, b] = dm::join([] { return 40 + 2; }, [] { return std::string("two"); });
    EXPECT_EQ(a, 42);
    EXPECT_EQ(b, "two");
    int side = 0;
    auto [v, w] = dm::join([&] { side = 1; }, [] { return 7; });
    (void)v;
    EXPECT_EQ(side, 1);
    EXPECT_EQ(w, 7);
  }
}

TEST(Pool, JoinExceptionArrivesAfterBothFinish) {
  ThreadCountGuard guard;
  dm::set_num_threads(2);
  std::atomic<bool> other_finished{false};
  try {
    dm::join([]() -> int { throw dm::ValueError("left failed"); },
             [&] {
               std::this_thread::sleep_for(std::chrono::milliseconds(20));
               other_finished = true;
               return 1;
             });
    FAIL() << "expected ValueError";
  } catch (const dm::ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr("left failed"));
  }
  EXPECT_TRUE(other_finished.load());
  EXPECT_THROW(dm::join([] { return 1; }, []() -> int { throw dm::ShapeError("right failed"); }), dm::ShapeError);
}

TEST(Pool, NestedParallelismNeverExceedsThePool) {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    dm::set_num_threads(threads);
    std::atomic<int> active{0}, peak{0};
    std::vector<int> outer(16);
    dm::par_map(outer, [&](int) {
      dm::par_for(64, 1, [&](std::int64_t, std::int64_t) {
        const int now = ++active;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        --active;
      });
      return 0;
    });
    EXPECT_LE(peak.load(), threads) << "pool of " << threads;
    EXPECT_GE(peak.load(), 1);
  }
}

TEST(Pool, UsesMoreThanOneThreadWhenAsked) {
  ThreadCountGuard guard;
  dm::set_num_threads(2);
  std::mutex m;
  std::set<std::thread::id> ids;
  // On a loaded machine the second worker may not be scheduled within one short loop: give it
  // a few rounds; never more than two threads may take part.
  for (int round = 0; round < 20 && ids.size() < 2; ++round) {
    dm::par_for(64, 1, [&](std::int64_t, std::int64_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::lock_guard lock(m);
      ids.insert(std::this_thread::get_id());
    });
  }
  EXPECT_EQ(ids.size(), 2u);
}

TEST(Pool, NoOpenMPAndSingleThreadedBlas) {
  dm::num_threads();  // the pool's start-up pins the BLAS to one thread
  EXPECT_EQ(openblas_get_num_threads(), 1);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    EXPECT_EQ(line.find("libgomp"), std::string::npos) << line;
    EXPECT_EQ(line.find("libomp"), std::string::npos) << line;
  }
}

}  // namespace
