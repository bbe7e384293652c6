// CPU kernels over the rows of a (rows, cols) block: the bias add of a linear layer's forward
// and the row sums of its bias gradient.
#include <algorithm>

#include "backend/cpu/training_kernels.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

// Elements per parallel block of the row-wise passes: enough work to amortise a task.
constexpr std::int64_t kElementsPerBlock = 1 << 15;

// y (rows, cols) contiguous += b (cols) on every row.
template <class T>
void add_bias(T* y, const T* b, std::int64_t rows, std::int64_t cols) {
  const std::int64_t grain = std::max<std::int64_t>(1, kElementsPerBlock / std::max<std::int64_t>(cols, 1));
  par_for(rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      T* row = y + r * cols;
      for (std::int64_t j = 0; j < cols; ++j) row[j] += b[j];
    }
  });
}

// db (cols) = sum over rows of g (rows, cols) contiguous. Parallel over column blocks, each
// summing its rows in order, so the result is the same for any thread count.
template <class T>
void column_sums(const T* g, T* db, std::int64_t rows, std::int64_t cols) {
  const std::int64_t grain = std::max<std::int64_t>(64, kElementsPerBlock / std::max<std::int64_t>(rows, 1));
  par_for(cols, grain, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t j = c0; j < c1; ++j) db[j] = T(0);
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* row = g + r * cols;
      for (std::int64_t j = c0; j < c1; ++j) db[j] += row[j];
    }
  });
}

}  // namespace

void bias_add_rows(DType dtype, std::byte* y, const std::byte* b, std::int64_t rows, std::int64_t cols) {
  dispatch_float(dtype, "bias_add_rows", [&]<class T>(TypeTag<T>) {
    add_bias(reinterpret_cast<T*>(y), reinterpret_cast<const T*>(b), rows, cols);
  });
}

void sum_rows(DType dtype, const std::byte* g, std::byte* out, std::int64_t rows, std::int64_t cols) {
  dispatch_float(dtype, "sum_rows", [&]<class T>(TypeTag<T>) {
    column_sums(reinterpret_cast<const T*>(g), reinterpret_cast<T*>(out), rows, cols);
  });
}

}  // namespace dm::cpu
