// AsyncDataLoader: the same batches, bit for bit and in the same shuffled order, as the
// synchronous DataLoader; loading ahead bounded by prefetch; load errors at their position;
// destruction mid-epoch stops loading.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include "democratising/async/task.hpp"
#include "democratising/async/dataloader.hpp"
#include "democratising/data/dataloader.hpp"
#include "democratising/base/error.hpp"

namespace {

using dm::Tensor;
using dm::data::AsyncDataLoader;
using dm::data::DataLoader;

dm::data::TensorDataset random_dataset(std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<std::size_t>(n * 6));
  for (auto& v : x) v = normal(gen);
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (auto& v : y) v = static_cast<std::int64_t>(gen() % 10);
  return {Tensor::from_vector(x, {n, 6}), Tensor::from_vector(y)};
}

template <class T>
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  auto va = a.to_vector<T>(), vb = b.to_vector<T>();
  return std::memcmp(va.data(), vb.data(), va.size() * sizeof(T)) == 0;
}

std::vector<dm::Batch> drain(AsyncDataLoader& adl) {
  return dm::block_on([&]() -> dm::Task<std::vector<dm::Batch>> {
    std::vector<dm::Batch> out;
    while (auto b = co_await adl.next()) out.push_back(std::move(*b));
    co_return out;
  }());
}

TEST(AsyncDataLoader, SameBatchesAsTheSynchronousLoader) {
  for (bool normalize : {false, true}) {
    DataLoader loader(random_dataset(203, 5), {.batch_size = 16, .shuffle = true, .seed = 11,
                                               .normalize = normalize ? std::optional(dm::data::Normalize{0.5, 2.0}) : std::nullopt});
    for (std::uint64_t epoch : {0u, 3u}) {
      loader.set_epoch(epoch);
      std::vector<dm::Batch> expected(loader.begin(), loader.end());
      for (std::size_t prefetch : {1u, 2u, 4u, 32u}) {
        AsyncDataLoader adl(loader, {.prefetch = prefetch});
        EXPECT_EQ(adl.size(), loader.size());
        auto got = drain(adl);
        ASSERT_EQ(got.size(), expected.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
          EXPECT_TRUE(same_bits<float>(got[i].x, expected[i].x)) << "batch " << i << " prefetch " << prefetch;
          EXPECT_TRUE(same_bits<std::int64_t>(got[i].y, expected[i].y)) << "batch " << i;
        }
      }
    }
  }
}

TEST(AsyncDataLoader, RejectsZeroPrefetch) {
  DataLoader loader(random_dataset(8, 1), {.batch_size = 4});
  EXPECT_THROW(AsyncDataLoader(loader, {.prefetch = 0}), dm::ValueError);
}

// Counts loads, optionally sleeps in each, and fails on one batch.
class ProbeDataset : public dm::data::Dataset {
 public:
  ProbeDataset(std::int64_t n, std::int64_t fail_at, std::chrono::microseconds delay)
      : inner_(random_dataset(n, 3)), fail_at_(fail_at), delay_(delay) {}
  std::int64_t size() const override { return inner_.size(); }
  dm::Batch get_batch(const std::vector<std::int64_t>& indices) const override {
    loads->fetch_add(1);
    std::this_thread::sleep_for(delay_);
    for (auto i : indices)
      if (i == fail_at_) throw dm::IoError("sample " + std::to_string(i) + " unreadable");
    return inner_.get_batch(indices);
  }
  std::shared_ptr<std::atomic<int>> loads = std::make_shared<std::atomic<int>>(0);

 private:
  dm::data::TensorDataset inner_;
  std::int64_t fail_at_;
  std::chrono::microseconds delay_;
};

TEST(AsyncDataLoader, LoadErrorArrivesAtItsBatchThenLoadingGoesOn) {
  ProbeDataset probe(40, 13, std::chrono::microseconds(0));
  DataLoader loader(probe, {.batch_size = 4});  // sample 13 is in batch 3
  AsyncDataLoader adl(loader, {.prefetch = 3});
  auto result = dm::block_on([&]() -> dm::Task<std::pair<int, int>> {
    int before = 0, after = 0;
    bool failed = false;
    for (;;) {
      try {
        auto b = co_await adl.next();
        if (!b) break;
        (failed ? after : before)++;
      } catch (const dm::IoError& e) {
        EXPECT_NE(std::string(e.what()).find("sample 13"), std::string::npos);
        failed = true;
      }
    }
    EXPECT_TRUE(failed);
    co_return std::pair{before, after};
  }());
  EXPECT_EQ(result.first, 3);
  EXPECT_EQ(result.second, 6);
}

TEST(AsyncDataLoader, LoadsAheadAtMostPrefetch) {
  ProbeDataset probe(64, -1, std::chrono::microseconds(0));
  auto loads = probe.loads;
  DataLoader loader(probe, {.batch_size = 4});
  AsyncDataLoader adl(loader, {.prefetch = 3});
  EXPECT_EQ(loads->load(), 0);  // nothing before the first next()
  dm::block_on([&]() -> dm::Task<void> {
    co_await adl.next();
    // Give the background loads time to fill the window.
    for (int i = 0; i < 200 && loads->load() < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // One delivered and three ahead: never more.
    EXPECT_EQ(loads->load(), 4);
  }());
}

TEST(AsyncDataLoader, DestroyedMidEpochStopsLoading) {
  for (int rep = 0; rep < 10; ++rep) {
    ProbeDataset probe(400, -1, std::chrono::microseconds(300));
    auto loads = probe.loads;
    DataLoader loader(probe, {.batch_size = 4});
    {
      AsyncDataLoader adl(loader, {.prefetch = 4});
      dm::block_on([&]() -> dm::Task<void> {
        for (int i = 0; i < 2; ++i) EXPECT_TRUE((co_await adl.next()).has_value());
      }());
    }  // must return promptly, not after 100 batches
    const int at_destruction = loads->load();
    EXPECT_LE(at_destruction, 2 + 4);
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    EXPECT_EQ(loads->load(), at_destruction);
  }
}

}  // namespace
