#pragma once
// DataLoader: batches of a Dataset in sequential or seeded-shuffled order.
//
//   dm::data::FashionMNIST train(dm::data::Split::train);
//   dm::data::DataLoader loader(train, {.batch_size = 64, .shuffle = true, .seed = 1});
//   for (int epoch = 0; epoch < 10; ++epoch) {
//     loader.set_epoch(epoch);  // a new order each epoch
//     for (dm::Batch b : loader) model.train_step(b.x, b.y);
//   }
//
// The order of an epoch is a pure function of (seed, epoch): it comes from a counter-based
// generator, so it is the same on every run, platform and thread count. The epoch changes only
// through set_epoch, so iterating twice without it repeats the same order.
#include <concepts>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

#include "democratising/data/batch.hpp"
#include "democratising/data/dataset.hpp"

namespace dm::data {

class ParallelChunks;

/// x = (x - mean) / std, applied to floating-point inputs of every batch.
struct Normalize {
  /// Subtracted first.
  double mean = 0.0;
  /// Divided by next (not 0).
  double std = 1.0;
};

/// How a DataLoader cuts and orders its dataset.
struct DataLoaderOptions {
  /// Samples per batch (>= 1).
  std::int64_t batch_size = 1;
  /// Visit the samples in a shuffled order (a function of seed and epoch) instead of 0..n-1.
  bool shuffle = false;
  /// Seed of the shuffle.
  std::uint64_t seed = 0;
  /// Drop the last batch when it would be smaller than batch_size.
  bool drop_last = false;
  /// Normalisation of the inputs; none when empty.
  std::optional<Normalize> normalize = std::nullopt;
};

/// The sample order of one epoch: 0..n-1, or a permutation that depends only on (seed, epoch).
std::vector<std::int64_t> epoch_order(std::int64_t n, bool shuffle, std::uint64_t seed, std::uint64_t epoch);

/// Batches of a Dataset in sequential or seeded-shuffled order (see the file comment).
class DataLoader {
 public:
  /// Throws ValueError for batch_size < 1, std == 0 or a null dataset.
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  /// Keeps a copy of the dataset (datasets of tensors are cheap handles).
  template <std::derived_from<Dataset> D>
  DataLoader(D dataset, DataLoaderOptions options = {})  // NOLINT(google-explicit-constructor)
      : DataLoader(std::shared_ptr<const Dataset>(std::make_shared<const D>(std::move(dataset))), options) {}

  /// Number of batches per epoch.
  std::int64_t size() const;
  /// Selects the shuffled order; batch(i) and iteration use it.
  void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }
  /// The epoch set_epoch() selected (0 at first).
  std::uint64_t epoch() const { return epoch_; }
  /// The options it was made with.
  const DataLoaderOptions& options() const { return options_; }
  /// The dataset it reads.
  const Dataset& dataset() const { return *dataset_; }

  /// Sample indices of batch i of the current epoch.
  std::vector<std::int64_t> batch_indices(std::int64_t i) const;
  /// Batch i of the current epoch (x: (B, ...), y: (B, ...)); safe to call from many threads.
  Batch batch(std::int64_t i) const;

  /// Input iterator over the batches of the epoch current when begin() was called.
  class Iterator {
   public:
    /// @name Iterator traits
    //@{
    /// The standard iterator traits of an input iterator over Batch.
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;
    //@}

    /// A past-the-end iterator.
    Iterator() = default;
    /// The current batch (loaded on first access).
    const Batch& operator*() const;
    /// Member access to the current batch.
    const Batch* operator->() const { return &**this; }
    /// @name Advancing
    //@{
    /// Moves to the next batch.
    Iterator& operator++();
    void operator++(int) { ++*this; }
    //@}
    /// Whether both point at the same batch position.
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.index_ == b.index_; }

   private:
    friend class DataLoader;
    Iterator(const DataLoader* loader, std::shared_ptr<const std::vector<std::int64_t>> order, std::int64_t index)
        : loader_(loader), order_(std::move(order)), index_(index) {}

    const DataLoader* loader_ = nullptr;
    std::shared_ptr<const std::vector<std::int64_t>> order_;
    std::int64_t index_ = 0;
    mutable std::optional<Batch> current_;
  };

  /// The first batch of the current epoch.
  Iterator begin() const;
  /// Past the last batch.
  Iterator end() const;

  /// The batches of the current epoch cut at batch_size (>= 1, else ValueError), as a
  /// parallel range: par_chunks(n).for_each(fn) and .map(fn) run on the pool.
  ParallelChunks par_chunks(std::int64_t batch_size) const;

 private:
  struct OrderCache;

  /// The order of the current epoch, computed once per epoch and shared by batch() calls.
  std::shared_ptr<const std::vector<std::int64_t>> order() const;
  std::vector<std::int64_t> slice(const std::vector<std::int64_t>& order, std::int64_t i) const;
  Batch collate(const std::vector<std::int64_t>& indices) const;

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  std::uint64_t epoch_ = 0;
  std::shared_ptr<OrderCache> cache_;  // shared by copies: it is keyed by the epoch alone
};

}  // namespace dm::data

// The range par_chunks returns; it needs DataLoader complete, hence here at the end.
#include "democratising/data/par_chunks.hpp"
