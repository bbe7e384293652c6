// Sum, mean, var and std kernels.
//
// Accumulation: f32, bf16 and f64 accumulate in f64, integers and bool in 64-bit unsigned
// arithmetic (wrapping like torch's i64 sum, without signed-overflow UB). A row block of
// kRowBlock elements is summed with kLanes independent accumulators (lane j takes elements
// j, j + kLanes, ...; the compiler keeps them in vector registers), the lanes are folded
// pairwise, and blocks are combined in reduce_engine's fixed tree. With f64 accumulators on
// top of that cascade the f32 result is the correctly rounded sum in all but contrived
// cases; the price, two f64 lanes per f32 element, is hidden behind memory bandwidth.
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "base/dispatch.hpp"
#include "reduce.hpp"
#include "reduce_engine.hpp"

namespace dm::cpu {
namespace {

using namespace reduce_engine;

inline constexpr int kLanes = 16;

template <class T>
using Accumulator = std::conditional_t<std::is_floating_point_v<decltype(load(T{}))>, double, std::uint64_t>;

template <class A, class T>
inline A widen(T v) {
  if constexpr (std::is_same_v<A, std::uint64_t>) {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(v));  // sign-extend, then wrap
  } else {
    return static_cast<A>(load(v));
  }
}

// Sums map(x, out) over the reduce axis; Map: A(A value, int64 out), Store: void(int64 out, A sum).
template <class T, class Map, class Store>
struct SumPolicy {
  using Elem = T;
  using State = Accumulator<T>;
  Map map;
  Store store_sum;

  State row_block(const T* x, std::int64_t n, std::int64_t, std::int64_t out) const {
    State acc[kLanes] = {};
    std::int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += map(widen<State>(x[i + j]), out);
    for (int j = 0; i < n; ++i, ++j) acc[j] += map(widen<State>(x[i]), out);
    for (int w = kLanes / 2; w >= 1; w /= 2)
      for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
    return acc[0];
  }

  void column_block(const T* x, std::int64_t rows, std::int64_t, std::int64_t inner, std::int64_t i0, std::int64_t i1,
                    std::int64_t out_base, State* st) const {
    for (std::int64_t i = i0; i < i1; ++i) st[i - i0] = State{};
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* row = x + r * inner;
      for (std::int64_t i = i0; i < i1; ++i) st[i - i0] += map(widen<State>(row[i]), out_base + i);
    }
  }

  void combine(State& earlier, const State& later) const { earlier += later; }
  void store(std::int64_t out, const State& s) const { store_sum(out, s); }
};

template <class T, class Map, class Store>
void run_sum(const T* x, ReduceGeometry g, Map map, Store store) {
  const SumPolicy<T, Map, Store> policy{map, store};
  reduce_engine::run(x, g, policy);
}

struct Identity {
  template <class A>
  A operator()(A v, std::int64_t) const { return v; }
};

// f32, f64 and bf16 only: the ops layer rejects other dtypes before calling these kernels.
template <class F>
void dispatch_floating(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: f(TypeTag<float>{}); return;
    case DType::f64: f(TypeTag<double>{}); return;
    case DType::bf16: f(TypeTag<bf16>{}); return;
    default: throw DTypeError("[reduce] kernel called with " + std::string(dtype_name(dtype)));
  }
}

}  // namespace

void sum_kernel(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) {
  dispatch_dtype(dtype, [&]<class T>(TypeTag<T>) {
    const T* x = reinterpret_cast<const T*>(in);
    if constexpr (std::is_same_v<Accumulator<T>, double>) {
      T* o = reinterpret_cast<T*>(out);
      run_sum(x, g, Identity{}, [o](std::int64_t j, double s) { o[j] = convert<T>(s); });
    } else {
      std::int64_t* o = reinterpret_cast<std::int64_t*>(out);
      run_sum(x, g, Identity{}, [o](std::int64_t j, std::uint64_t s) { o[j] = static_cast<std::int64_t>(s); });
    }
  });
}

void mean_kernel(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) {
  dispatch_floating(dtype, [&]<class T>(TypeTag<T>) {
    const T* x = reinterpret_cast<const T*>(in);
    T* o = reinterpret_cast<T*>(out);
    const double count = static_cast<double>(g.reduce);
    run_sum(x, g, Identity{}, [o, count](std::int64_t j, double s) { o[j] = convert<T>(s / count); });
  });
}

void var_kernel(const std::byte* in, DType dtype, ReduceGeometry g, std::int64_t correction, bool take_sqrt,
                std::byte* out) {
  dispatch_floating(dtype, [&]<class T>(TypeTag<T>) {
    const T* x = reinterpret_cast<const T*>(in);
    T* o = reinterpret_cast<T*>(out);
    // Pass 1: the mean of each output's slice, kept in f64.
    std::vector<double> mean(static_cast<std::size_t>(g.outer * g.inner));
    const double count = static_cast<double>(g.reduce);
    double* m = mean.data();
    run_sum(x, g, Identity{}, [m, count](std::int64_t j, double s) { m[j] = s / count; });
    // Pass 2: squared deviations from it (more accurate than E[x^2] - E[x]^2).
    const double divisor = static_cast<double>(std::max<std::int64_t>(0, g.reduce - correction));
    const auto squared_deviation = [m](double v, std::int64_t j) {
      const double d = v - m[j];
      return d * d;
    };
    run_sum(x, g, squared_deviation, [o, divisor, take_sqrt](std::int64_t j, double s) {
      const double v = s / divisor;
      o[j] = convert<T>(take_sqrt ? std::sqrt(v) : v);
    });
  });
}

}  // namespace dm::cpu
