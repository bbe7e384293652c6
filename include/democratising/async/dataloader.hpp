#pragma once
// AsyncDataLoader: one epoch of a DataLoader, loaded and collated in the background.
//
//   dm::data::AsyncDataLoader batches(loader, {.prefetch = 4});
//   while (auto batch = co_await batches.next()) co_await dm::on_pool([&] { model.train_step(batch->x, batch->y); });
//
// Up to `prefetch` batches are loaded ahead on the pool (DataLoader::batch is thread-safe), so
// loading overlaps with whatever the consumer does between next() calls. Batches come in the
// loader's order for its current epoch: exactly the batches, and the shuffle, that iterating
// the DataLoader itself gives. A failure to load batch i is rethrown by the next() that would
// have returned it; the following next() goes on with batch i+1.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "democratising/async/task.hpp"
#include "democratising/data/batch.hpp"
#include "democratising/data/dataloader.hpp"

namespace dm::data {

namespace detail {
struct AsyncLoadState;  // shared with the background loads
}  // namespace detail

/// Options of AsyncDataLoader.
struct AsyncDataLoaderOptions {
  /// Batches loaded ahead of the consumer (>= 1).
  std::size_t prefetch = 4;
};

/// One epoch of a DataLoader, loaded ahead in the background and read with `co_await next()`.
class AsyncDataLoader {
 public:
  /// Takes a copy of loader, at its current epoch; loading starts on the first next().
  /// Throws ValueError for prefetch < 1.
  explicit AsyncDataLoader(const DataLoader& loader, AsyncDataLoaderOptions options = {});
  AsyncDataLoader(const AsyncDataLoader&) = delete;
  AsyncDataLoader& operator=(const AsyncDataLoader&) = delete;
  /// Stops the background work: loads not yet begun are dropped, and the destructor waits only
  /// for the at most `prefetch` loads already running. A next() still waiting gets nullopt.
  ~AsyncDataLoader();

  /// The next batch of the epoch, or nullopt after the last one.
  Task<std::optional<Batch>> next();

  /// Batches in the epoch.
  std::int64_t size() const;

 private:
  std::shared_ptr<detail::AsyncLoadState> state_;
};

}  // namespace dm::data
