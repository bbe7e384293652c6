// par_chunks: every batch of the epoch exactly once, map results in batch order, the batches
// equal to a sequential loader's at the same batch size, errors from the body reach the caller.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "democratising/data/dataloader.hpp"
#include "democratising/base/error.hpp"
#include "democratising/runtime/pool.hpp"

namespace {

using dm::Tensor;
using dm::data::DataLoader;
using dm::data::TensorDataset;

// Sample i: x row (i, i + 0.5), label i, so every batch says which samples it holds.
TensorDataset numbered(std::int64_t n) {
  std::vector<float> x;
  std::vector<std::int64_t> y;
  for (std::int64_t i = 0; i < n; ++i) {
    x.push_back(static_cast<float>(i));
    x.push_back(static_cast<float>(i) + 0.5f);
    y.push_back(i);
  }
  return TensorDataset(Tensor::from_vector(x, {n, 2}), Tensor::from_vector(y));
}

class PoolSizes : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    previous_ = dm::num_threads();
    dm::set_num_threads(GetParam());
  }
  void TearDown() override { dm::set_num_threads(previous_); }
  int previous_ = 1;
};

TEST_P(PoolSizes, ForEachVisitsEverySampleExactlyOnce) {
  const std::int64_t n = 1003;
  DataLoader loader(numbered(n), {.batch_size = 8, .shuffle = true, .seed = 5});
  loader.set_epoch(3);
  for (int round = 0; round < 5; ++round) {
    std::vector<std::atomic<int>> seen(static_cast<std::size_t>(n));
    std::atomic<int> batches{0};
    loader.par_chunks(16).for_each([&](dm::Batch b) {
      const auto y = b.y.to_vector<std::int64_t>();
      const auto x = b.x.to_vector<float>();
      ASSERT_LE(y.size(), 16u);
      for (std::size_t r = 0; r < y.size(); ++r) {
        ASSERT_EQ(x[2 * r], static_cast<float>(y[r]));
        seen[static_cast<std::size_t>(y[r])]++;
      }
      batches++;
    });
    EXPECT_EQ(batches.load(), (n + 15) / 16);
    for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<std::size_t>(i)].load(), 1) << "sample " << i;
  }
}

TEST_P(PoolSizes, MapReturnsResultsInBatchOrderOfTheSequentialLoader) {
  DataLoader loader(numbered(517), {.batch_size = 3, .shuffle = true, .seed = 11, .drop_last = true});
  loader.set_epoch(1);
  const auto labels = loader.par_chunks(20).map([](dm::Batch b) { return b.y.to_vector<std::int64_t>(); });

  // The reference: the same loader with batch_size 20, iterated on this thread.
  DataLoader sequential(numbered(517), {.batch_size = 20, .shuffle = true, .seed = 11, .drop_last = true});
  sequential.set_epoch(1);
  std::vector<std::vector<std::int64_t>> expected;
  for (const dm::Batch& b : sequential) expected.push_back(b.y.to_vector<std::int64_t>());
  ASSERT_EQ(labels.size(), expected.size());
  EXPECT_EQ(labels.size(), 517u / 20u);  // drop_last carried over
  EXPECT_EQ(labels, expected);
}

INSTANTIATE_TEST_SUITE_P(Threads, PoolSizes, ::testing::Values(1, 2, 4));

TEST(ParChunks, RangeKeepsTheEpochItWasMadeIn) {
  DataLoader loader(numbered(64), {.batch_size = 8, .shuffle = true, .seed = 2});
  loader.set_epoch(7);
  const dm::data::ParallelChunks chunks = loader.par_chunks(8);
  loader.set_epoch(8);
  EXPECT_EQ(chunks.loader().epoch(), 7u);
  loader.set_epoch(7);
  std::vector<std::vector<std::int64_t>> expected;
  for (const dm::Batch& b : loader) expected.push_back(b.y.to_vector<std::int64_t>());
  EXPECT_EQ(chunks.map([](dm::Batch b) { return b.y.to_vector<std::int64_t>(); }), expected);
}

TEST(ParChunks, ExceptionFromTheBodyReachesTheCaller) {
  DataLoader loader(numbered(100), {.batch_size = 10});
  std::atomic<int> calls{0};
  EXPECT_THROW(loader.par_chunks(10).for_each([&](dm::Batch b) {
    calls++;
    if (b.y.to_vector<std::int64_t>().front() == 50) throw std::runtime_error("batch 5 failed");
  }),
               std::runtime_error);
  EXPECT_GE(calls.load(), 1);
  EXPECT_THROW(loader.par_chunks(10).map([](dm::Batch b) -> int {
    if (b.y.to_vector<std::int64_t>().front() == 90) throw dm::ValueError("last batch");
    return 0;
  }),
               dm::ValueError);
}

TEST(ParChunks, RejectsNonPositiveBatchSize) {
  DataLoader loader(numbered(10), {.batch_size = 2});
  EXPECT_THROW((void)loader.par_chunks(0), dm::ValueError);
  EXPECT_THROW((void)loader.par_chunks(-3), dm::ValueError);
}

}  // namespace
