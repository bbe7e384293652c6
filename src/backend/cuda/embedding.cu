// CUDA embedding backward, as cpu/embedding.cpp: a scatter-add of the output's gradient rows
// into the weight's gradient, made deterministic without atomics.
//
//   g (n, dim)   indices (n)   dw (num, dim)   dw[r] = sum over p with indices[p] == r of g[p]
//
// The positions are sorted by the row they index (CUB's radix sort, which is stable, so they
// stay in increasing order within a row: the CPU's counting sort gives the same order), each
// row's run is found by binary search, and one thread per element of dw adds its column of
// that run in order: the CPU's additions, in the CPU's order, so the same bits.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <bit>

#include "backend/cuda/layer_kernels.hpp"
#include "backend/cuda/layer_support.cuh"

namespace dm::cuda_backend::kernels {
namespace {

using layer::each;
using layer::Scratch;
using layer::typed;

struct Iota {
  std::int64_t* out;
  __device__ void operator()(std::int64_t i) const { out[i] = i; }
};

// start[r] = the first place in the sorted keys (n of them) holding a key >= r.
struct RowStarts {
  const std::uint64_t* keys;
  std::int64_t n;
  std::int64_t* start;
  __device__ void operator()(std::int64_t r) const {
    std::int64_t lo = 0, hi = n;
    while (lo < hi) {
      const std::int64_t mid = lo + (hi - lo) / 2;
      if (keys[mid] < static_cast<std::uint64_t>(r)) lo = mid + 1;
      else hi = mid;
    }
    start[r] = lo;
  }
};

template <class T>
struct RowSums {
  const T* g;
  const std::int64_t* order;  // positions sorted by row
  const std::int64_t* start;  // row r's positions are order[start[r] .. start[r + 1])
  std::int64_t dim;
  T* dw;
  __device__ void operator()(std::int64_t e) const {
    const std::int64_t r = e / dim, j = e % dim;
    T s = T(0);
    for (std::int64_t i = start[r]; i < start[r + 1]; ++i) s += g[order[i] * dim + j];
    dw[e] = s;
  }
};

template <class T>
void backward(const T* g, const std::int64_t* indices, std::int64_t n, std::int64_t num, std::int64_t dim, T* dw) {
  const char* entry = "embedding_backward";
  if (num <= 0 || dim <= 0) return;
  if (n <= 0) {
    layer::zero(dw, num * dim, sizeof(T), entry);
    return;
  }
  // Indices are checked to lie in [0, num): as unsigned keys they sort the same, and only
  // their low bits need sorting.
  const auto* keys_in = reinterpret_cast<const std::uint64_t*>(indices);
  const int end_bit = std::max(1, static_cast<int>(std::bit_width(static_cast<std::uint64_t>(num))));
  Scratch<std::uint64_t> keys(n, entry);
  Scratch<std::int64_t> positions(n, entry), order(n, entry), start(num + 1, entry);
  each(entry, n, Iota{positions.get()});
  std::size_t temp_bytes = 0;
  check(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys.get(), positions.get(), order.get(), n, 0,
                                        end_bit, nullptr),
        entry);
  Scratch<std::byte> temp(static_cast<std::int64_t>(std::max<std::size_t>(temp_bytes, 1)), entry);
  check(cub::DeviceRadixSort::SortPairs(temp.get(), temp_bytes, keys_in, keys.get(), positions.get(), order.get(), n,
                                        0, end_bit, nullptr),
        entry);
  each(entry, num + 1, RowStarts{keys.get(), n, start.get()});
  each(entry, num * dim, RowSums<T>{g, order.get(), start.get(), dim, dw});
}

}  // namespace

void embedding_backward(DType dtype, const std::byte* g, const std::int64_t* indices, std::int64_t n,
                        std::int64_t num, std::int64_t dim, std::byte* dw) {
  layer::dispatch_float(dtype, "embedding_backward", [&]<class T>(T) {
    backward(typed<T>(g), indices, n, num, dim, typed<T>(dw));
  });
}

}  // namespace dm::cuda_backend::kernels
