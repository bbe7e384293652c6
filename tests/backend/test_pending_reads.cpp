// The bookkeeping that keeps a GPU-to-GPU copy's source from being reused before the copy has
// read it (backend/cuda/pending_reads.hpp), with integers for events: no GPU needed.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "backend/cuda/pending_reads.hpp"

namespace dm::cuda_backend {
namespace {

TEST(PendingReads, AReleaseWaitsForTheUnfinishedCopiesInsideItsBlockOnly) {
  PendingReads<int> reads;
  std::vector<char> memory(1000);
  const char* base = memory.data();
  reads.add(base + 100, 50, 1);   // inside [0, 400)
  reads.add(base + 390, 20, 2);   // straddles its end
  reads.add(base + 500, 100, 3);  // elsewhere
  reads.add(base + 0, 10, 4);     // inside, but finished
  std::set<int> forgotten;
  const std::set<int> finished = {4};
  const std::vector<int> waits = reads.take_overlapping(
      base, 400, [&](int e) { return finished.count(e) > 0; }, [&](int e) { forgotten.insert(e); });
  EXPECT_EQ(std::set<int>(waits.begin(), waits.end()), (std::set<int>{1, 2}));
  EXPECT_EQ(forgotten, (std::set<int>{4})) << "finished reads are forgotten, the waited ones are the caller's";
  EXPECT_EQ(reads.size(), 1u) << "only the read of another block stays";
  // The block just after the remaining read does not touch it.
  EXPECT_TRUE(reads.take_overlapping(base + 600, 100, [](int) { return false; }, [](int) {}).empty());
  EXPECT_EQ(reads.take_overlapping(base + 599, 1, [](int) { return false; }, [](int) {}), (std::vector<int>{3}));
  EXPECT_EQ(reads.size(), 0u);
}

}  // namespace
}  // namespace dm::cuda_backend
