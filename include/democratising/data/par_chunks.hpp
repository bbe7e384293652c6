#pragma once
// loader.par_chunks(batch_size): the batches of one epoch as a parallel range on the pool.
//
//   loader.par_chunks(64).for_each([&](dm::Batch b) { model.train_step(b.x, b.y); });
//   std::vector<double> losses = loader.par_chunks(64).map([&](dm::Batch b) { return f(b); });
//
// The batches are those of the loader (same dataset, shuffle, seed, epoch, drop_last and
// normalisation) cut at `batch_size`; each is loaded and collated on the worker that processes
// it, so loading runs in parallel too. for_each gives no order; map returns its results in
// batch order. An exception thrown for any batch reaches the caller once all calls have ended.
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "democratising/data/dataloader.hpp"
#include "democratising/runtime/pool.hpp"
#include "democratising/runtime/isolated.hpp"

namespace dm::data {

/// The batches of one epoch as a parallel range on the pool (see the file comment).
class ParallelChunks {
 public:
  /// A range over the batches of `loader` (a copy: the range is independent of later changes).
  explicit ParallelChunks(DataLoader loader) : loader_(std::move(loader)) {}

  /// Number of batches.
  std::int64_t size() const { return loader_.size(); }
  /// The loader whose batches this range visits.
  const DataLoader& loader() const { return loader_; }

  /// Calls fn(Batch) once for every batch, in parallel on the pool.
  template <class F>
  void for_each(F&& fn) const {
    par_for(size(), 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) dm::detail::isolated([&] { fn(loader_.batch(i)); });
    });
  }

  /// fn(Batch) for every batch, in parallel; the results in batch order.
  template <class F>
  auto map(F&& fn) const {
    std::vector<std::int64_t> indices(static_cast<std::size_t>(size()));
    std::iota(indices.begin(), indices.end(), std::int64_t{0});
    return par_map(indices, [&](std::int64_t i) { return dm::detail::isolated([&] { return fn(loader_.batch(i)); }); });
  }

 private:
  DataLoader loader_;
};

}  // namespace dm::data
