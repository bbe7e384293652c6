// CPU kernel of embedding's backward: a scatter-add of the output's gradient rows into the
// weight's gradient.
//
//   g (n, dim)   indices (n)   dw (num, dim)   dw[r] = sum over p with indices[p] == r of g[p]
//
// A parallel scatter with atomics (or per-thread copies of dw) would add each row's terms in
// an order set by the schedule. Instead the positions are bucketed by row first (a counting
// sort, which keeps them in increasing order within a row), then rows are summed in parallel,
// each by one task in that order: the bits depend on the indices alone, never on the threads.
#include <algorithm>
#include <vector>

#include "backend/cpu/attention_kernels.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

// Positions grouped by the row they index: row r's positions are order[start[r] .. start[r + 1]).
struct RowBuckets {
  std::vector<std::int64_t> start, order;

  RowBuckets(const std::int64_t* indices, std::int64_t n, std::int64_t num)
      : start(static_cast<std::size_t>(num + 1), 0), order(static_cast<std::size_t>(n)) {
    for (std::int64_t p = 0; p < n; ++p) ++start[static_cast<std::size_t>(indices[p] + 1)];
    for (std::int64_t r = 0; r < num; ++r) start[static_cast<std::size_t>(r + 1)] += start[static_cast<std::size_t>(r)];
    std::vector<std::int64_t> next(start.begin(), start.end() - 1);
    for (std::int64_t p = 0; p < n; ++p) order[static_cast<std::size_t>(next[static_cast<std::size_t>(indices[p])]++)] = p;
  }
};

template <class T>
void backward(const T* g, const std::int64_t* indices, std::int64_t n, std::int64_t num, std::int64_t dim, T* dw) {
  const RowBuckets buckets(indices, n, num);
  // Enough rows per task to amortise the scheduling for narrow embeddings.
  const std::int64_t grain = std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(dim, 1));
  par_for(num, grain, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      T* row = dw + r * dim;
      std::fill_n(row, dim, T(0));
      for (std::int64_t i = buckets.start[static_cast<std::size_t>(r)]; i < buckets.start[static_cast<std::size_t>(r + 1)];
           ++i) {
        const T* src = g + buckets.order[static_cast<std::size_t>(i)] * dim;
        for (std::int64_t j = 0; j < dim; ++j) row[j] += src[j];
      }
    }
  });
}

}  // namespace

void embedding_backward(DType dtype, const std::byte* g, const std::int64_t* indices, std::int64_t n,
                        std::int64_t num, std::int64_t dim, std::byte* dw) {
  dispatch_float(dtype, "embedding_backward", [&]<class T>(TypeTag<T>) {
    backward(reinterpret_cast<const T*>(g), indices, n, num, dim, reinterpret_cast<T*>(dw));
  });
}

}  // namespace dm::cpu
