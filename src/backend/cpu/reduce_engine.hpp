#pragma once
// The fixed blocking behind the sum and extreme kernels. How each output element is reduced
// depends only on the geometry (outer, reduce, inner), so the pool may hand the blocks to any
// threads in any order and the bits of the result stay the same.
//
//   inner == 1 (each output reduces a contiguous row of `reduce` elements):
//     the row is cut into blocks of kRowBlock elements; each block is reduced by the
//     policy's fixed in-block pattern; block results are combined in a fixed pairwise tree.
//   inner > 1 (each output reduces a column, `inner` apart):
//     the column is cut into blocks of kColumnRows rows reduced in row order, vectorised
//     across kColumnChunk neighbouring columns; block results are combined in the same tree.
//
// A policy P provides
//   using Elem, State;
//   State row_block(const Elem* x, int64 n, int64 k0, int64 out) const;       // x[0..n) = k0..
//   void  column_block(const Elem* x, int64 rows, int64 k0, int64 inner,
//                      int64 i0, int64 i1, int64 out_base, State* st) const;  // st[i - i0]
//   void  combine(State& earlier, const State& later) const;
//   void  store(int64 out, const State& s) const;
// where `out` (and out_base + i) index the (outer, inner) output block.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "democratising/base/dtype.hpp"
#include "democratising/runtime/pool.hpp"
#include "reduce.hpp"

namespace dm::cpu::reduce_engine {

inline constexpr std::int64_t kRowBlock = 8192;      // elements per row block
inline constexpr std::int64_t kColumnRows = 256;     // rows per column block
inline constexpr std::int64_t kColumnChunk = 512;    // columns handled together by one task
inline constexpr std::int64_t kTaskElements = 32768;  // input elements per par_for block, roughly

/// The value kernels compute with: bf16 widens to f32, everything else stays as it is.
template <class T>
inline auto load(T v) {
  if constexpr (std::is_same_v<T, bf16>) {
    return static_cast<float>(v);
  } else {
    return v;
  }
}

/// p[0] = p[0] (+) p[stride] (+) ... over n entries, always in the same pairwise tree:
/// neighbours first, then pairs of pairs, and so on.
template <class State, class Combine>
inline void tree_combine(State* p, std::int64_t n, std::int64_t stride, Combine&& combine) {
  for (std::int64_t step = 1; step < n; step *= 2)
    for (std::int64_t b = 0; b + step < n; b += 2 * step) combine(p[b * stride], p[(b + step) * stride]);
}

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
inline std::int64_t grain_for(std::int64_t elements_per_item) {
  return std::max<std::int64_t>(1, kTaskElements / std::max<std::int64_t>(1, elements_per_item));
}

template <class P>
void reduce_rows(const typename P::Elem* x, std::int64_t outer, std::int64_t k, const P& policy) {
  using State = typename P::State;
  if (k <= kRowBlock) {
    par_for(outer, grain_for(k), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t o = b; o < e; ++o) policy.store(o, policy.row_block(x + o * k, k, 0, o));
    });
    return;
  }
  // (outer, blocks) partial results, then one tree per row.
  const std::int64_t blocks = ceil_div(k, kRowBlock);
  std::vector<State> partial(static_cast<std::size_t>(outer * blocks));
  par_for(outer * blocks, grain_for(kRowBlock), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      const std::int64_t o = t / blocks, k0 = (t % blocks) * kRowBlock;
      partial[static_cast<std::size_t>(t)] = policy.row_block(x + o * k + k0, std::min(kRowBlock, k - k0), k0, o);
    }
  });
  par_for(outer, grain_for(blocks), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t o = b; o < e; ++o) {
      State* p = partial.data() + o * blocks;
      tree_combine(p, blocks, 1, [&](State& a, const State& c) { policy.combine(a, c); });
      policy.store(o, p[0]);
    }
  });
}

template <class P>
void reduce_columns(const typename P::Elem* x, std::int64_t outer, std::int64_t k, std::int64_t inner,
                    const P& policy) {
  using State = typename P::State;
  const std::int64_t chunks = ceil_div(inner, kColumnChunk);
  const std::int64_t chunk_width = std::min(inner, kColumnChunk);
  const std::int64_t blocks = ceil_div(k, kColumnRows);
  if (blocks == 1) {
    par_for(outer * chunks, grain_for(k * chunk_width), [&](std::int64_t b, std::int64_t e) {
      std::vector<State> st(static_cast<std::size_t>(chunk_width));
      for (std::int64_t t = b; t < e; ++t) {
        const std::int64_t o = t / chunks, i0 = (t % chunks) * kColumnChunk, i1 = std::min(inner, i0 + kColumnChunk);
        policy.column_block(x + o * k * inner, k, 0, inner, i0, i1, o * inner, st.data());
        for (std::int64_t i = i0; i < i1; ++i) policy.store(o * inner + i, st[static_cast<std::size_t>(i - i0)]);
      }
    });
    return;
  }
  // partial: (outer, blocks, inner), then one tree per (outer, inner) column.
  std::vector<State> partial(static_cast<std::size_t>(outer * blocks * inner));
  par_for(outer * blocks * chunks, grain_for(kColumnRows * chunk_width), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      const std::int64_t c = t % chunks, ob = t / chunks;  // ob = o * blocks + block
      const std::int64_t k0 = (ob % blocks) * kColumnRows, o = ob / blocks;
      const std::int64_t i0 = c * kColumnChunk, i1 = std::min(inner, i0 + kColumnChunk);
      policy.column_block(x + (o * k + k0) * inner, std::min(kColumnRows, k - k0), k0, inner, i0, i1, o * inner,
                          partial.data() + ob * inner + i0);
    }
  });
  par_for(outer * chunks, grain_for(blocks * chunk_width), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      const std::int64_t o = t / chunks, i0 = (t % chunks) * kColumnChunk, i1 = std::min(inner, i0 + kColumnChunk);
      State* p = partial.data() + o * blocks * inner;
      // The tree of tree_combine, walked with the columns innermost so it vectorises.
      for (std::int64_t step = 1; step < blocks; step *= 2)
        for (std::int64_t blk = 0; blk + step < blocks; blk += 2 * step)
          for (std::int64_t i = i0; i < i1; ++i) policy.combine(p[blk * inner + i], p[(blk + step) * inner + i]);
      for (std::int64_t i = i0; i < i1; ++i) policy.store(o * inner + i, p[i]);
    }
  });
}

/// Reduces the (outer, reduce, inner) block at x with `policy`; requires reduce >= 1.
template <class P>
void run(const typename P::Elem* x, ReduceGeometry g, const P& policy) {
  if (g.inner == 1) {
    reduce_rows(x, g.outer, g.reduce, policy);
  } else {
    reduce_columns(x, g.outer, g.reduce, g.inner, policy);
  }
}

}  // namespace dm::cpu::reduce_engine
