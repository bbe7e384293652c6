// DataLoader: the epoch's order (a seeded, counter-based shuffle), batch slicing and collation.
#include "democratising/data/dataloader.hpp"

#include <algorithm>
#include <mutex>
#include <string>

#include "base/dispatch.hpp"
#include "backend/philox.hpp"
#include "democratising/base/checked.hpp"
#include "democratising/base/error.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::data {
namespace {

__extension__ typedef unsigned __int128 u128;

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// x (n elements) -> out (n elements): (x - mean) / std, in f32 for f32 and bf16 as torch does.
Tensor normalized(const Tensor& x, const Normalize& norm) {
  if (!is_floating(x.dtype()))
    throw DTypeError("[DataLoader] normalize needs floating-point inputs, got " + std::string(dtype_name(x.dtype())));
  const Tensor in = x.contiguous();
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  dispatch_dtype(in.dtype(), [&]<class T>(TypeTag<T>) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16>) {
      using Compute = std::conditional_t<std::is_same_v<T, double>, double, float>;
      const Compute mean = static_cast<Compute>(norm.mean), stddev = static_cast<Compute>(norm.std);
      const T* src = in.data<T>();
      T* dst = out.data<T>();
      par_for(in.numel(), 1 << 16, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) dst[i] = T((static_cast<Compute>(src[i]) - mean) / stddev);
      });
    }
  });
  return out;
}

}  // namespace

std::vector<std::int64_t> epoch_order(std::int64_t n, bool shuffle, std::uint64_t seed, std::uint64_t epoch) {
  if (n < 0) throw ValueError("[epoch_order] negative sample count " + std::to_string(n));
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  if (!shuffle) return order;
  // Fisher-Yates where step i draws from Philox counter i: the permutation depends on
  // (seed, epoch) alone, and the same on every platform (std distributions are not).
  const std::uint64_t key = splitmix64(seed ^ splitmix64(epoch));
  for (std::int64_t i = n - 1; i > 0; --i) {
    const philox::Block r = philox::generate(static_cast<std::uint64_t>(i), key);
    const std::uint64_t bits = (std::uint64_t{r[0]} << 32) | r[1];
    // Lemire's multiply-shift maps 64 random bits onto [0, i]; the bias is below i / 2^64.
    const auto j = static_cast<std::int64_t>((static_cast<u128>(bits) * static_cast<u128>(i + 1)) >> 64);
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

struct DataLoader::OrderCache {
  std::mutex mutex;
  std::uint64_t epoch = 0;
  std::shared_ptr<const std::vector<std::int64_t>> order;
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options), cache_(std::make_shared<OrderCache>()) {
  if (!dataset_) throw ValueError("[DataLoader] dataset is null");
  if (options_.batch_size < 1)
    throw ValueError("[DataLoader] batch_size must be at least 1, got " + std::to_string(options_.batch_size));
  if (options_.normalize && options_.normalize->std == 0.0) throw ValueError("[DataLoader] normalize std is 0");
}

std::int64_t DataLoader::size() const {
  const std::int64_t n = dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : ceil_div(n, b);
}

std::shared_ptr<const std::vector<std::int64_t>> DataLoader::order() const {
  std::lock_guard lock(cache_->mutex);
  if (!cache_->order || cache_->epoch != epoch_) {
    cache_->order = std::make_shared<const std::vector<std::int64_t>>(
        epoch_order(dataset_->size(), options_.shuffle, options_.seed, epoch_));
    cache_->epoch = epoch_;
  }
  return cache_->order;
}

std::vector<std::int64_t> DataLoader::slice(const std::vector<std::int64_t>& order, std::int64_t i) const {
  if (i < 0 || i >= size())
    throw ShapeError("[DataLoader] batch " + std::to_string(i) + " is out of range for " + std::to_string(size()) +
                     " batches");
  const std::int64_t b = options_.batch_size;
  // i < size(), so first lies inside the order; the end is clamped without computing first + b,
  // which overflows for a batch size near INT64_MAX.
  const auto count = static_cast<std::int64_t>(order.size());
  const std::int64_t first = i * b, last = first + std::min<std::int64_t>(b, count - first);
  return {order.begin() + first, order.begin() + last};
}

Batch DataLoader::collate(const std::vector<std::int64_t>& indices) const {
  Batch batch = dataset_->get_batch(indices);
  if (options_.normalize) batch.x = normalized(batch.x, *options_.normalize);
  return batch;
}

std::vector<std::int64_t> DataLoader::batch_indices(std::int64_t i) const { return slice(*order(), i); }

Batch DataLoader::batch(std::int64_t i) const { return collate(batch_indices(i)); }

const Batch& DataLoader::Iterator::operator*() const {
  if (!current_) current_ = loader_->collate(loader_->slice(*order_, index_));
  return *current_;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  ++index_;
  current_.reset();
  return *this;
}

DataLoader::Iterator DataLoader::begin() const { return Iterator(this, order(), 0); }

DataLoader::Iterator DataLoader::end() const { return Iterator(this, nullptr, size()); }

}  // namespace dm::data
