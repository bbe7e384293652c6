// max / min / argmax / argmin kernel.
//
// Candidates are ranked by value, NaN above every number (for min as for max, as torch
// propagates NaN), and among equal ranks the lower index wins. That ranking is a total order,
// so whatever blocking reduce_engine uses the winner is the same element: the first maximum,
// or the first NaN. A row block finds its extreme value first, then (for arg*) the first
// position holding it; a column block keeps a value and a row index per column.
// f32 and f64 scan with the vector code of reduce_simd.hpp; integers vectorise as plain
// loops; bf16 and bool take the plain loops.
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "base/dispatch.hpp"
#include "reduce.hpp"
#include "reduce_engine.hpp"
#include "reduce_simd.hpp"

namespace dm::cpu {
namespace {

using namespace reduce_engine;

inline constexpr int kLanes = 16;

template <class T, Extreme kKind>
struct ExtremePolicy {
  using Elem = T;
  using Value = decltype(load(T{}));
  struct State {
    Value value{};
    std::int64_t index = 0;
  };

  std::byte* values;
  std::int64_t* indices;

  static bool better(Value a, Value b) { return simd::ranks_above_scalar<kKind>(a, b); }

  static bool prefer(const State& a, const State& b) {
    return better(a.value, b.value) || (!better(b.value, a.value) && a.index < b.index);
  }

  // The extreme of x[0..n), n >= 1.
  static Value row_extreme(const T* x, std::int64_t n) {
    if constexpr (simd::kHasVectorScan<T>) {
      return simd::extreme_of<kKind>(x, n);
    } else {
      // Lane j takes elements j, j + kLanes, ...; without NaN the select vectorises.
      Value lane[kLanes];
      for (int j = 0; j < kLanes; ++j) lane[j] = load(x[0]);
      std::int64_t i = 0;
      for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) {
          const Value v = load(x[i + j]);
          lane[j] = better(v, lane[j]) ? v : lane[j];
        }
      Value best = lane[0];
      for (int j = 1; j < kLanes; ++j) best = better(lane[j], best) ? lane[j] : best;
      for (; i < n; ++i) best = better(load(x[i]), best) ? load(x[i]) : best;
      return best;
    }
  }

  // The first position of `target` in x[0..n) (of a NaN when target is NaN): a min over the
  // hits' positions. A full pass rather than a search that stops early, because the min
  // vectorises and the block is still in cache from row_extreme. n <= kRowBlock fits 32 bits.
  static std::int64_t first_index_of(const T* x, std::int64_t n, Value target) {
    const auto n32 = static_cast<std::int32_t>(n);
    std::int32_t first = n32;
    if constexpr (std::is_floating_point_v<Value>) {
      const bool find_nan = target != target;
      for (std::int32_t i = 0; i < n32; ++i) {
        const Value v = load(x[i]);
        const std::int32_t at = (v == target) | (find_nan & (v != v)) ? i : n32;
        first = at < first ? at : first;
      }
    } else {
      for (std::int32_t i = 0; i < n32; ++i) {
        const std::int32_t at = load(x[i]) == target ? i : n32;
        first = at < first ? at : first;
      }
    }
    return first;
  }

  State row_block(const T* x, std::int64_t n, std::int64_t k0, std::int64_t) const {
    const Value best = row_extreme(x, n);
    // Without indices the position is irrelevant; the block start keeps the ranking total.
    return State{best, k0 + (indices ? first_index_of(x, n, best) : 0)};
  }

  // Columns [i0, i1) over `rows` rows (rows <= kColumnRows): value and first row per column.
  void column_block(const T* x, std::int64_t rows, std::int64_t k0, std::int64_t inner, std::int64_t i0,
                    std::int64_t i1, std::int64_t, State* st) const {
    const std::int64_t width = i1 - i0;
    if constexpr (simd::kHasVectorScan<T>) {
      using Index = simd::SameWidthInt<T>;
      T value[kColumnChunk];
      Index row_of[kColumnChunk];
      std::memcpy(value, x + i0, static_cast<std::size_t>(width) * sizeof(T));
      for (std::int64_t i = 0; i < width; ++i) row_of[i] = 0;
      for (std::int64_t r = 1; r < rows; ++r)
        simd::update_columns<kKind>(x + r * inner + i0, width, value, row_of, static_cast<Index>(r));
      for (std::int64_t i = 0; i < width; ++i) st[i] = State{value[i], k0 + row_of[i]};
    } else {
      Value value[kColumnChunk];
      std::int64_t index[kColumnChunk];
      for (std::int64_t i = 0; i < width; ++i) {
        value[i] = load(x[i0 + i]);
        index[i] = k0;
      }
      for (std::int64_t r = 1; r < rows; ++r) {
        const T* row = x + r * inner + i0;
        for (std::int64_t i = 0; i < width; ++i) {
          const Value v = load(row[i]);
          const bool take = better(v, value[i]);
          value[i] = take ? v : value[i];
          index[i] = take ? k0 + r : index[i];
        }
      }
      for (std::int64_t i = 0; i < width; ++i) st[i] = State{value[i], index[i]};
    }
  }

  void combine(State& earlier, const State& later) const {
    if (prefer(later, earlier)) earlier = later;
  }

  void store(std::int64_t out, const State& s) const {
    if (values) reinterpret_cast<T*>(values)[out] = static_cast<T>(s.value);
    if (indices) indices[out] = s.index;
  }
};

template <class T, Extreme kKind>
void run_extreme(const std::byte* in, ReduceGeometry g, std::byte* values, std::int64_t* indices) {
  const ExtremePolicy<T, kKind> policy{values, indices};
  reduce_engine::run(reinterpret_cast<const T*>(in), g, policy);
}

}  // namespace

void extreme_kernel(const std::byte* in, DType dtype, ReduceGeometry g, Extreme kind, std::byte* values,
                    std::int64_t* indices) {
  dispatch_dtype(dtype, [&]<class T>(TypeTag<T>) {
    if (kind == Extreme::max) {
      run_extreme<T, Extreme::max>(in, g, values, indices);
    } else {
      run_extreme<T, Extreme::min>(in, g, values, indices);
    }
  });
}

}  // namespace dm::cpu
