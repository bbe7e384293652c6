// softmax, log_softmax and logsumexp kernels over the reduce axis of (outer, reduce, inner).
//
// Each slice is done in three passes: its max m (NaN propagates), s = sum exp(x - m)
// accumulated in f64, then the output. Subtracting m keeps every exp <= 1, so inputs like
// 1000.0 cannot overflow. f32 and bf16 compute in f32 (vectorised exp, softmax_exp.hpp);
// f64 in f64.
// A slice belongs to one task and is always walked in the same order, so results do not
// depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "base/dispatch.hpp"
#include "reduce.hpp"
#include "reduce_engine.hpp"
#include "reduce_simd.hpp"
#include "softmax_exp.hpp"

namespace dm::cpu {
namespace {

using reduce_engine::ceil_div;
using reduce_engine::grain_for;
using reduce_engine::load;

inline constexpr int kLanes = 16;              // f64 accumulators of a row's exp sum
inline constexpr std::int64_t kRowChunk = 1024;  // exps computed per chunk of a row (multiple of kLanes)
inline constexpr std::int64_t kColumns = 256;    // neighbouring columns handled together

// ---- rows: inner == 1, the slice x[0..k) is contiguous -----------------------------------

// The max of x[0..k), NaN if any (k >= 1): the extreme kernel's vector scan for f32 and f64.
template <class T, class V = decltype(load(T{}))>
V row_max(const T* x, std::int64_t k) {
  if constexpr (simd::kHasVectorScan<T>) {
    return simd::extreme_of<Extreme::max>(x, k);
  } else {
    V m = load(x[0]);
    for (std::int64_t i = 1; i < k; ++i)
      if (simd::ranks_above_scalar<Extreme::max>(load(x[i]), m)) m = load(x[i]);
    return m;
  }
}

// Reads n elements of x as the compute type V: in place when T is V, else through `tile`.
template <class T, class V>
const V* as_compute(const T* x, std::int64_t n, V* tile) {
  if constexpr (std::is_same_v<T, V>) {
    return x;
  } else {
    for (std::int64_t i = 0; i < n; ++i) tile[i] = load(x[i]);
    return tile;
  }
}

// sum of exp(x - shift) over the row, chunk by chunk. When `exps` is given (T is the compute
// type) the exps are left there, so softmax need not compute them twice.
template <class T, class V>
double row_sum_exp(const T* x, std::int64_t k, V shift, V* exps) {
  double acc[kLanes] = {};
  V tile[kRowChunk];
  for (std::int64_t c0 = 0; c0 < k; c0 += kRowChunk) {
    const std::int64_t n = std::min(kRowChunk, k - c0);
    V* e = exps ? exps + c0 : tile;
    exp_minus(as_compute(x + c0, n, tile), shift, e, n);
    std::int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += static_cast<double>(e[i + j]);
    for (int j = 0; i < n; ++i, ++j) acc[j] += static_cast<double>(e[i]);
  }
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0];
}

template <class T>
void softmax_row(const T* x, std::int64_t k, SoftmaxKind kind, T* y) {
  using V = decltype(load(T{}));
  constexpr bool kSameType = std::is_same_v<T, V>;
  const V m = row_max(x, k);
  V* exps = nullptr;
  if constexpr (kSameType) exps = y;
  const double s = row_sum_exp(x, k, m, exps);
  if (kind == SoftmaxKind::log_softmax) {
    const V log_s = static_cast<V>(std::log(s));
    for (std::int64_t i = 0; i < k; ++i) y[i] = static_cast<T>((load(x[i]) - m) - log_s);
  } else if constexpr (kSameType) {
    const V sv = static_cast<V>(s);
    for (std::int64_t i = 0; i < k; ++i) y[i] = y[i] / sv;
  } else {  // bf16 output: the exps were not kept, compute them again
    const V sv = static_cast<V>(s);
    V tile[kRowChunk];
    for (std::int64_t c0 = 0; c0 < k; c0 += kRowChunk) {
      const std::int64_t n = std::min(kRowChunk, k - c0);
      exp_minus(as_compute(x + c0, n, tile), m, tile, n);
      for (std::int64_t i = 0; i < n; ++i) y[c0 + i] = static_cast<T>(tile[i] / sv);
    }
  }
}

// The shift for logsumexp: the max, except 0 when the max is infinite, so a slice of all -inf
// gives log(0) = -inf and one holding +inf gives +inf rather than inf - inf = NaN.
template <class V>
V logsumexp_shift(V m) {
  return std::isinf(m) ? V{0} : m;
}

template <class T>
void logsumexp_row(const T* x, std::int64_t k, T* out) {
  using V = decltype(load(T{}));
  const V shift = logsumexp_shift(row_max(x, k));
  const double s = row_sum_exp<T, V>(x, k, shift, nullptr);
  *out = convert<T>(static_cast<double>(shift) + std::log(s));
}

// ---- columns: inner > 1, slice element k of column i at x[k * inner + i] -------------------

// m[i] = max over rows of column i (NaN if any).
template <class T, class V>
void column_max(const T* x, std::int64_t k, std::int64_t inner, std::int64_t width, V* m) {
  for (std::int64_t i = 0; i < width; ++i) m[i] = load(x[i]);
  if constexpr (simd::kHasVectorScan<T>) {
    for (std::int64_t r = 1; r < k; ++r)
      simd::update_columns<Extreme::max>(x + r * inner, width, m, static_cast<simd::SameWidthInt<T>*>(nullptr), 0);
  } else {
    for (std::int64_t r = 1; r < k; ++r)
      for (std::int64_t i = 0; i < width; ++i)
        if (simd::ranks_above_scalar<Extreme::max>(load(x[r * inner + i]), m[i])) m[i] = load(x[r * inner + i]);
  }
}

// s[i] = sum over rows of exp(x - shift[i]), in row order; exps left in y when given.
template <class T, class V>
void column_sum_exp(const T* x, std::int64_t k, std::int64_t inner, std::int64_t width, const V* shift, double* s,
                    V* y) {
  V tile[kColumns];
  for (std::int64_t i = 0; i < width; ++i) s[i] = 0.0;
  for (std::int64_t r = 0; r < k; ++r) {
    V* e = y ? y + r * inner : tile;
    exp_minus(as_compute(x + r * inner, width, tile), shift, e, width);
    for (std::int64_t i = 0; i < width; ++i) s[i] += static_cast<double>(e[i]);
  }
}

template <class T>
void softmax_columns(const T* x, std::int64_t k, std::int64_t inner, std::int64_t width, SoftmaxKind kind, T* y) {
  using V = decltype(load(T{}));
  constexpr bool kSameType = std::is_same_v<T, V>;
  V m[kColumns], scale[kColumns];
  double s[kColumns];
  column_max(x, k, inner, width, m);
  V* exps = nullptr;
  if constexpr (kSameType) exps = y;
  column_sum_exp(x, k, inner, width, m, s, exps);
  if (kind == SoftmaxKind::log_softmax) {
    for (std::int64_t i = 0; i < width; ++i) scale[i] = static_cast<V>(std::log(s[i]));
    for (std::int64_t r = 0; r < k; ++r)
      for (std::int64_t i = 0; i < width; ++i)
        y[r * inner + i] = static_cast<T>((load(x[r * inner + i]) - m[i]) - scale[i]);
    return;
  }
  for (std::int64_t i = 0; i < width; ++i) scale[i] = static_cast<V>(s[i]);
  V tile[kColumns];
  for (std::int64_t r = 0; r < k; ++r) {
    T* out = y + r * inner;
    if constexpr (kSameType) {
      for (std::int64_t i = 0; i < width; ++i) out[i] = out[i] / scale[i];
    } else {  // bf16 output: compute the exps again
      exp_minus(as_compute(x + r * inner, width, tile), m, tile, width);
      for (std::int64_t i = 0; i < width; ++i) out[i] = static_cast<T>(tile[i] / scale[i]);
    }
  }
}

template <class T>
void logsumexp_columns(const T* x, std::int64_t k, std::int64_t inner, std::int64_t width, T* out) {
  using V = decltype(load(T{}));
  V m[kColumns];
  double s[kColumns];
  column_max(x, k, inner, width, m);
  for (std::int64_t i = 0; i < width; ++i) m[i] = logsumexp_shift(m[i]);
  column_sum_exp<T, V>(x, k, inner, width, m, s, nullptr);
  for (std::int64_t i = 0; i < width; ++i) out[i] = convert<T>(static_cast<double>(m[i]) + std::log(s[i]));
}

// Calls slice(o, i0, width) for every group of columns (all of one row when inner == 1).
template <class Slice>
void for_each_slice(ReduceGeometry g, Slice&& slice) {
  if (g.inner == 1) {
    par_for(g.outer, grain_for(g.reduce), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t o = b; o < e; ++o) slice(o, 0, 1);
    });
    return;
  }
  const std::int64_t chunks = ceil_div(g.inner, kColumns);
  par_for(g.outer * chunks, grain_for(g.reduce * std::min(g.inner, kColumns)), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      const std::int64_t o = t / chunks, i0 = (t % chunks) * kColumns;
      slice(o, i0, std::min(kColumns, g.inner - i0));
    }
  });
}

template <class F>
void dispatch_softmax_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: f(TypeTag<float>{}); return;
    case DType::f64: f(TypeTag<double>{}); return;
    case DType::bf16: f(TypeTag<bf16>{}); return;
    default: throw DTypeError("[softmax] kernel called with " + std::string(dtype_name(dtype)));
  }
}

}  // namespace

void softmax_kernel(const std::byte* in, DType dtype, ReduceGeometry g, SoftmaxKind kind, std::byte* out) {
  dispatch_softmax_dtype(dtype, [&]<class T>(TypeTag<T>) {
    const T* x = reinterpret_cast<const T*>(in);
    T* y = reinterpret_cast<T*>(out);
    for_each_slice(g, [&](std::int64_t o, std::int64_t i0, std::int64_t width) {
      const std::int64_t base = o * g.reduce * g.inner + i0;
      if (g.inner == 1) {
        softmax_row(x + base, g.reduce, kind, y + base);
      } else {
        softmax_columns(x + base, g.reduce, g.inner, width, kind, y + base);
      }
    });
  });
}

void logsumexp_kernel(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) {
  dispatch_softmax_dtype(dtype, [&]<class T>(TypeTag<T>) {
    const T* x = reinterpret_cast<const T*>(in);
    T* y = reinterpret_cast<T*>(out);
    for_each_slice(g, [&](std::int64_t o, std::int64_t i0, std::int64_t width) {
      const std::int64_t base = o * g.reduce * g.inner + i0;
      if (g.inner == 1) {
        logsumexp_row(x + base, g.reduce, y + o);
      } else {
        logsumexp_columns(x + base, g.reduce, g.inner, width, y + o * g.inner + i0);
      }
    });
  });
}

}  // namespace dm::cpu
