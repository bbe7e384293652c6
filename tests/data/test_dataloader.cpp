// DataLoader: coverage of every sample, seeded shuffling that depends on (seed, epoch) alone,
// drop_last, the last partial batch, normalisation, and independence from the thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <thread>

#include "democratising/data/dataloader.hpp"
#include "democratising/base/error.hpp"
#include "democratising/runtime/pool.hpp"

namespace {

using dm::Tensor;
using dm::data::DataLoader;
using dm::data::TensorDataset;

// Sample i has x row (i, i + 0.5, ...) and label i, so a batch reveals which samples it holds.
TensorDataset numbered(std::int64_t n, std::int64_t cols = 2) {
  std::vector<float> x;
  std::vector<std::int64_t> y;
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t k = 0; k < cols; ++k) x.push_back(static_cast<float>(i) + 0.5f * static_cast<float>(k));
    y.push_back(i);
  }
  return TensorDataset(Tensor::from_vector(x, {n, cols}), Tensor::from_vector(y));
}

// Labels of every batch of one epoch, checking that x agrees with y row by row.
std::vector<std::vector<std::int64_t>> epoch_labels(const DataLoader& loader) {
  std::vector<std::vector<std::int64_t>> out;
  for (const dm::Batch& b : loader) {
    const auto y = b.y.to_vector<std::int64_t>();
    const auto x = b.x.to_vector<float>();
    const std::int64_t cols = b.x.size(1);
    EXPECT_EQ(b.x.size(0), static_cast<std::int64_t>(y.size()));
    for (std::size_t r = 0; r < y.size(); ++r)
      EXPECT_EQ(x[r * static_cast<std::size_t>(cols)], static_cast<float>(y[r])) << "x and y disagree";
    out.push_back(y);
  }
  return out;
}

std::vector<std::int64_t> flatten(const std::vector<std::vector<std::int64_t>>& batches) {
  std::vector<std::int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

TEST(DataLoader, SequentialBatchesWithLastPartialBatch) {
  const DataLoader loader(numbered(10), {.batch_size = 4});
  EXPECT_EQ(loader.size(), 3);
  const auto batches = epoch_labels(loader);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], (std::vector<std::int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(batches[1], (std::vector<std::int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(batches[2], (std::vector<std::int64_t>{8, 9}));
}

TEST(DataLoader, DropLastDropsOnlyAnIncompleteBatch) {
  const DataLoader dropping(numbered(10), {.batch_size = 4, .shuffle = true, .seed = 3, .drop_last = true});
  EXPECT_EQ(dropping.size(), 2);
  const auto batches = epoch_labels(dropping);
  ASSERT_EQ(batches.size(), 2u);
  for (const auto& b : batches) EXPECT_EQ(b.size(), 4u);
  const DataLoader exact(numbered(12), {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(exact.size(), 3);
  const DataLoader too_small(numbered(3), {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(too_small.size(), 0);
  EXPECT_TRUE(epoch_labels(too_small).empty());
}

TEST(DataLoader, ShuffledEpochCoversEveryIndexExactlyOnce) {
  DataLoader loader(numbered(103), {.batch_size = 8, .shuffle = true, .seed = 11});
  for (std::uint64_t epoch = 0; epoch < 4; ++epoch) {
    loader.set_epoch(epoch);
    auto all = flatten(epoch_labels(loader));
    ASSERT_EQ(all.size(), 103u);
    std::sort(all.begin(), all.end());
    for (std::int64_t i = 0; i < 103; ++i) EXPECT_EQ(all[static_cast<std::size_t>(i)], i);
  }
}

TEST(DataLoader, ShuffleIsAPureFunctionOfSeedAndEpoch) {
  DataLoader a(numbered(50), {.batch_size = 7, .shuffle = true, .seed = 5});
  DataLoader b(numbered(50), {.batch_size = 7, .shuffle = true, .seed = 5});
  DataLoader other_seed(numbered(50), {.batch_size = 7, .shuffle = true, .seed = 6});
  const auto e0 = flatten(epoch_labels(a));
  EXPECT_EQ(flatten(epoch_labels(a)), e0) << "iterating again without set_epoch repeats the order";
  EXPECT_EQ(flatten(epoch_labels(b)), e0) << "same seed, same epoch";
  EXPECT_NE(flatten(epoch_labels(other_seed)), e0) << "another seed";
  std::vector<std::int64_t> identity(50);
  for (std::int64_t i = 0; i < 50; ++i) identity[static_cast<std::size_t>(i)] = i;
  EXPECT_NE(e0, identity) << "shuffle changed nothing";

  a.set_epoch(1);
  const auto e1 = flatten(epoch_labels(a));
  EXPECT_NE(e1, e0) << "a new epoch gives a new order";
  a.set_epoch(0);
  EXPECT_EQ(flatten(epoch_labels(a)), e0) << "returning to epoch 0 gives its order back";
  b.set_epoch(1);
  EXPECT_EQ(flatten(epoch_labels(b)), e1);
  EXPECT_EQ(dm::data::epoch_order(50, true, 5, 1), e1);
}

// Pinned values: the order must not change across platforms, compilers or releases, or
// resumed training would see different data.
TEST(DataLoader, ShuffleOrderIsPinned) {
  EXPECT_EQ(dm::data::epoch_order(10, true, 42, 3), (std::vector<std::int64_t>{5, 1, 6, 3, 2, 9, 4, 7, 8, 0}));
}

// Each value lands at position 0 about equally often, and fixed points occur at the 1/n rate
// of a uniform permutation (a Sattolo-style off-by-one would never produce one).
TEST(DataLoader, ShuffleLooksUniform) {
  constexpr int n = 5, epochs = 5000;
  std::vector<int> first(n, 0);
  int fixed_points = 0;
  for (int e = 0; e < epochs; ++e) {
    const auto order = dm::data::epoch_order(n, true, 9, static_cast<std::uint64_t>(e));
    ++first[static_cast<std::size_t>(order[0])];
    for (int i = 0; i < n; ++i) fixed_points += order[static_cast<std::size_t>(i)] == i;
  }
  // Expected 1000 per value, standard deviation ~28: 150 is over 5 sigma.
  for (int v = 0; v < n; ++v) EXPECT_NEAR(first[static_cast<std::size_t>(v)], epochs / n, 150) << "value " << v;
  EXPECT_NEAR(fixed_points, epochs, 300);  // n * (1/n) per epoch
}

TEST(DataLoader, SameBatchesForOneAndTwoThreads) {
  // 64 f32 cols * 2000 rows: batches of 500 rows (128 KiB) and the gather of 1000 rows go parallel.
  const auto run = [] {
    DataLoader loader(numbered(2000, 64), {.batch_size = 500, .shuffle = true, .seed = 77,
                                           .normalize = dm::data::Normalize{3.0, 2.0}});
    loader.set_epoch(2);
    std::vector<std::vector<float>> xs;
    for (const dm::Batch& b : loader) xs.push_back(b.x.to_vector<float>());
    return xs;
  };
  const int before = dm::num_threads();
  dm::set_num_threads(1);
  const auto one = run();
  dm::set_num_threads(2);
  const auto two = run();
  dm::set_num_threads(before);
  ASSERT_EQ(one.size(), 4u);
  EXPECT_EQ(one, two);
}

TEST(DataLoader, BatchIsSafeToCallFromManyThreads) {
  DataLoader loader(numbered(300, 8), {.batch_size = 16, .shuffle = true, .seed = 1});
  loader.set_epoch(4);
  std::vector<std::vector<std::int64_t>> expected;
  for (const dm::Batch& b : loader) expected.push_back(b.y.to_vector<std::int64_t>());
  std::vector<std::vector<std::vector<std::int64_t>>> seen(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (std::int64_t i = 0; i < loader.size(); ++i) seen[static_cast<std::size_t>(t)].push_back(loader.batch(i).y.to_vector<std::int64_t>());
    });
  for (auto& th : threads) th.join();
  for (const auto& s : seen) EXPECT_EQ(s, expected);
}

TEST(DataLoader, NormalizeMatchesNaiveFormula) {
  const TensorDataset ds = numbered(6, 3);
  const DataLoader loader(ds, {.batch_size = 6, .normalize = dm::data::Normalize{0.2860, 0.3530}});
  const dm::Batch b = loader.batch(0);
  const auto raw = ds.x().to_vector<float>();
  const auto got = b.x.to_vector<float>();
  ASSERT_EQ(got.size(), raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const float expected = (raw[i] - 0.2860f) / 0.3530f;
    EXPECT_NEAR(got[i], expected, 1e-5 + 1.3e-6 * std::fabs(expected));
  }
  EXPECT_EQ(ds.x().to_vector<float>(), raw) << "normalisation must not touch the dataset";
  const DataLoader ints(TensorDataset(Tensor::zeros({2, 2}, dm::DType::i32), Tensor::zeros({2})),
                        {.normalize = dm::data::Normalize{0.0, 1.0}});
  EXPECT_THROW(ints.batch(0), dm::DTypeError);
}

TEST(DataLoader, RejectsBadOptionsAndIndices) {
  EXPECT_THROW(DataLoader(numbered(4), {.batch_size = 0}), dm::ValueError);
  EXPECT_THROW(DataLoader(std::shared_ptr<const dm::data::Dataset>(), {}), dm::ValueError);
  const DataLoader loader(numbered(4), {.batch_size = 2});
  EXPECT_THROW(loader.batch(2), dm::ShapeError);
  EXPECT_THROW(loader.batch(-1), dm::ShapeError);
}

TEST(DataLoader, EmptyDatasetYieldsNoBatches) {
  const DataLoader loader(TensorDataset(Tensor::zeros({0, 3}), Tensor::zeros({0})), {.batch_size = 4, .shuffle = true});
  EXPECT_EQ(loader.size(), 0);
  EXPECT_TRUE(loader.begin() == loader.end());
}

}  // namespace
