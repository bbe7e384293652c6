#pragma once
// The one-pass elementwise driver shared by the kernel files.
//
// A kernel is a functor `op(x...) -> y` (and, for floating types, `op.vec(V...) -> V` on GCC
// vectors). run_elementwise walks out's shape once with StridedPlan, in parallel blocks of
// kElementwiseGrain, and hands each inner run to `loop` as contiguous arrays:
//   - an input already stored in the compute dtype with inner stride 1 is read in place;
//   - an input with inner stride 0 (a broadcast) becomes a scalar;
//   - anything else (other dtype, other stride) is converted into a small stack tile first.
// The result goes straight to out when out's dtype and stride allow, else through a tile.
// Large fresh outputs are written with streaming stores (see elementwise_stream.hpp).
//
// `loop` is compiled twice, for AVX2+FMA and for the x86-64 baseline (SSE2), and picked at
// run time; the functors are always inlined so they take on the target of the loop.
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "backend/cpu/elementwise.hpp"
#include "backend/cpu/elementwise_isa.hpp"
#include "backend/cpu/elementwise_math.hpp"
#include "backend/cpu/elementwise_stream.hpp"
#include "base/dispatch.hpp"
#include "backend/strided_loop.hpp"
#include "democratising/base/error.hpp"

// The vector types below are only ever passed between always-inlined functions, so the
// "ABI changes with AVX" note GCC attaches to them does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dm::cpu {

/// Elements per conversion tile: a few KB per operand, so tiles stay in L1.
inline constexpr std::int64_t kTile = 512;

/// An input read from a contiguous array.
template <class T>
struct Ptr {
  using value_type = T;
  const T* p;
  [[gnu::always_inline]] T at(std::int64_t i) const { return p[i]; }
  template <class V>
  [[gnu::always_inline]] V vec_at(std::int64_t i) const {
    V v;
    std::memcpy(&v, p + i, sizeof v);
    return v;
  }
  /// The last `rem` (< one vector) elements from i, zero-padded into buf.
  [[gnu::always_inline]] Ptr padded(std::int64_t i, std::int64_t rem, T* buf) const {
    for (std::int64_t k = 0; k < rem; ++k) buf[k] = p[i + k];
    return Ptr{buf};
  }
};

/// An input broadcast along the run: the same value for every element.
template <class T>
struct Scalar {
  using value_type = T;
  T s;
  [[gnu::always_inline]] T at(std::int64_t) const { return s; }
  template <class V>
  [[gnu::always_inline]] V vec_at(std::int64_t) const {
    return vmath::splat<V>(s);  // keeps the sign of a -0.0
  }
  [[gnu::always_inline]] Scalar padded(std::int64_t, std::int64_t, T*) const { return *this; }
};

template <class Op, class V, class... Acc>
concept VectorOp = requires(const Op& op, Acc... acc) { op.vec(acc.template vec_at<V>(0)...); };

/// The last rem (< one vector) elements from i: inputs zero-padded into bufs, one vector op,
/// and only the rem valid lanes stored.
template <class V, class Op, class T, std::size_t... K, class First, class... Rest>
[[gnu::always_inline]] inline void vector_tail(T* o, std::int64_t i, std::int64_t rem, const Op& op,
                                               std::index_sequence<K...>, T (*bufs)[sizeof(V) / sizeof(T)],
                                               First first, Rest... rest) {
  const V r = op.vec(first.padded(i, rem, bufs[0]).template vec_at<V>(0),
                     rest.padded(i, rem, bufs[K + 1]).template vec_at<V>(0)...);
  std::memcpy(o + i, &r, static_cast<std::size_t>(rem) * sizeof(T));
}

/// o[i] = op(in[i]...) for i < n. Vectorised ops run whole vectors, the tail included (padded),
/// so every element goes through the same instructions wherever it sits.
template <int Bytes, class Op, class Out, class First, class... Rest>
[[gnu::always_inline]] inline void loop(Out* o, std::int64_t n, const Op& op, First first, Rest... rest) {
  using T = typename First::value_type;
  using V = vmath::Vec<T, Bytes>;
  if constexpr (std::is_same_v<Out, T> && std::is_floating_point_v<T> && VectorOp<Op, V, First, Rest...>) {
    constexpr std::int64_t lanes = Bytes / sizeof(T);
    std::int64_t i = 0;
    for (; i + lanes <= n; i += lanes) {
      const V r = op.vec(first.template vec_at<V>(i), rest.template vec_at<V>(i)...);
      std::memcpy(o + i, &r, sizeof r);
    }
    if (i < n) {
      alignas(64) T bufs[1 + sizeof...(Rest)][lanes] = {};
      vector_tail<V>(o, i, n - i, op, std::index_sequence_for<Rest...>{}, bufs, first, rest...);
    }
  } else {
#pragma GCC ivdep
    for (std::int64_t i = 0; i < n; ++i) o[i] = op(first.at(i), rest.at(i)...);
  }
}

#if defined(__x86_64__)
template <class Op, class Out, class... Acc>
[[gnu::target("avx2,fma")]] void loop_avx2(Out* o, std::int64_t n, Op op, Acc... acc) {
  loop<32>(o, n, op, acc...);
}
#endif

template <class Op, class Out, class... Acc>
void loop_baseline(Out* o, std::int64_t n, Op op, Acc... acc) {
  loop<16>(o, n, op, acc...);
}

/// Calls f(TypeTag<T>{}) for a compute dtype: f32, f64, i32, i64 or u8.
template <class F>
decltype(auto) dispatch_compute(DType t, std::string_view op, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::i32: return f(TypeTag<std::int32_t>{});
    case DType::i64: return f(TypeTag<std::int64_t>{});
    case DType::u8: return f(TypeTag<std::uint8_t>{});
    default: break;
  }
  throw DTypeError("[" + std::string(op) + "] no CPU kernel computes in " + std::string(dtype_name(t)));
}

template <class Op, class Out, class... Acc>
void run_loop(Out* o, std::int64_t n, const Op& op, Acc... acc) {
#if defined(__x86_64__)
  if (has_avx2_fma()) return loop_avx2(o, n, op, acc...);
#endif
  loop_baseline(o, n, op, acc...);
}

/// dst[i] = convert<T>(src[i * stride]) for i < m; src holds `dtype` values.
template <class T>
void gather(T* dst, const std::byte* src, std::int64_t stride, std::int64_t m, DType dtype) {
  dispatch_dtype(dtype, [&]<class S>(TypeTag<S>) {
    const S* s = reinterpret_cast<const S*>(src);
    for (std::int64_t i = 0; i < m; ++i) dst[i] = convert<T>(s[i * stride]);
  });
}

/// dst[i * stride] = convert(src[i]) for i < m; dst holds `dtype` values.
template <class T>
void scatter(std::byte* dst, std::int64_t stride, const T* src, std::int64_t m, DType dtype) {
  dispatch_dtype(dtype, [&]<class D>(TypeTag<D>) {
    D* d = reinterpret_cast<D*>(dst);
    for (std::int64_t i = 0; i < m; ++i) d[i * stride] = convert<D>(src[i]);
  });
}

/// Whether t's elements fill one dense block in row-major order.
inline bool is_dense(const Output& t) {
  std::int64_t expected = 1;
  for (int d = t.shape.size() - 1; d >= 0; --d) {
    if (t.shape[d] != 1 && t.strides[d] != expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

/// One input of a run as the loop will see it: a pointer into storage or a tile, or a scalar.
template <class T>
struct InputView {
  const T* ptr = nullptr;
  T scalar{};
  bool is_scalar = false;
};

template <class T, std::size_t K, std::size_t N, bool kScalars, class F, class... Acc>
[[gnu::always_inline]] inline void with_accessors(const InputView<T>* in, F& f, Acc... acc) {
  if constexpr (K == N) {
    f(acc...);
  } else {
    if constexpr (kScalars) {
      if (in[K].is_scalar) return with_accessors<T, K + 1, N, kScalars>(in, f, acc..., Scalar<T>{in[K].scalar});
    }
    with_accessors<T, K + 1, N, kScalars>(in, f, acc..., Ptr<T>{in[K].ptr});
  }
}

/// out = op(in...) over out's shape, computing in T and producing Out values (T, or bool for
/// comparisons). kScalars turns stride-0 inputs into Scalar accessors (else they are tiled).
///
/// Layouts: out and each in[k] are strided views of their own dtype (element offsets from the
/// plan, times the itemsize, from their data()); a run is `count` elements along the merged
/// innermost dim. tiles[k] holds m <= kTile values of in[k] converted to T, contiguous;
/// out_tile holds m contiguous Out results on their way to out's dtype, stride or stream.
template <class T, class Out, bool kScalars, std::size_t N, class Op>
void run_elementwise(const Output& out, const std::array<const Operand*, N>& in, const Op& op) {
  std::array<const Strides*, N + 1> strides{&out.strides};
  for (std::size_t k = 0; k < N; ++k) strides[k + 1] = &in[k]->strides;
  const StridedPlan<static_cast<int>(N + 1)> plan(out.shape, strides);

  std::byte* const out_base = out.data;
  const std::int64_t out_item = static_cast<std::int64_t>(itemsize(out.dtype));
  const bool out_direct = out.dtype == dtype_of_v<Out>;
  std::array<const std::byte*, N> in_base{};
  std::array<std::int64_t, N> in_item{};
  std::array<bool, N> in_direct{};
  for (std::size_t k = 0; k < N; ++k) {
    in_base[k] = in[k]->data;
    in_item[k] = static_cast<std::int64_t>(itemsize(in[k]->dtype));
    in_direct[k] = in[k]->dtype == dtype_of_v<T>;
  }
  const std::int64_t out_bytes = out.shape.numel() * out_item;
  const bool stream = out_direct && out.fresh && out_bytes >= static_cast<std::int64_t>(kStreamingThreshold) && is_dense(out);

  auto run = [&](const auto& off, std::int64_t count, const auto& inner) {
    std::byte* o = out_base + off[0] * out_item;
    const bool o_in_place = out_direct && inner[0] == 1 && !stream;
    bool needs_tiles = !o_in_place;
    for (std::size_t k = 0; k < N; ++k) {
      const std::int64_t s = inner[k + 1];
      needs_tiles = needs_tiles || !(s == 0 ? kScalars : (s == 1 && in_direct[k]));
    }
    const std::int64_t chunk = needs_tiles ? kTile : count;
    alignas(64) T tiles[N][kTile];  // uninitialised: only the parts gathered into are read
    alignas(64) Out out_tile[kTile];
    for (std::int64_t c = 0; c < count; c += chunk) {
      const std::int64_t m = std::min(chunk, count - c);
      InputView<T> views[N];
      for (std::size_t k = 0; k < N; ++k) {
        const std::int64_t s = inner[k + 1];
        const std::byte* p = in_base[k] + (off[k + 1] + c * s) * in_item[k];
        if (s == 0 && kScalars) {
          gather(&views[k].scalar, p, 0, 1, in[k]->dtype);
          views[k].is_scalar = true;
        } else if (s == 1 && in_direct[k]) {
          views[k].ptr = reinterpret_cast<const T*>(p);
        } else {
          gather(tiles[k], p, s, m, in[k]->dtype);
          views[k].ptr = tiles[k];
        }
      }
      Out* dst = o_in_place ? reinterpret_cast<Out*>(o) + c : out_tile;
      auto call = [&](auto... acc) { run_loop(dst, m, op, acc...); };
      with_accessors<T, 0, N, kScalars>(views, call);
      if (o_in_place) continue;
      if (stream) {
        stream_store(o + c * out_item, out_tile, static_cast<std::size_t>(m * out_item));
      } else {
        scatter(o + c * inner[0] * out_item, inner[0], out_tile, m, out.dtype);
      }
    }
  };
  par_for(plan.numel, kElementwiseGrain, [&](std::int64_t b, std::int64_t e) {
    plan.for_each_run(b, e, run);
    if (stream) stream_fence();
  });
}

}  // namespace dm::cpu

#pragma GCC diagnostic pop
