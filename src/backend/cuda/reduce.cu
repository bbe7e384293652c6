// CUDA kernels: sum, mean, var, std, max/min with their index, softmax, log_softmax and
// logsumexp over a dense (outer, reduce, inner) block.
//
// One block of kReduceThreads threads per output slice (grid-stride over slices): thread t
// folds elements t, t + kReduceThreads, ... in order, then CUB's block reduction combines the
// threads in its fixed tree. The shape alone fixes the order of every addition, so each run
// gives the same bits; there are no atomics. Sums accumulate as the CPU's do (f64 for
// floating dtypes, wrapping 64-bit for integers); the combination order differs from the
// CPU's, so floating results agree to rounding, not bitwise.
#include <cmath>
#include <string>
#include <type_traits>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/check.hpp"
#include "backend/cuda/kernels.hpp"
#include "backend/cuda/launch.hpp"
#include "backend/cuda/values.cuh"

namespace dm::cuda_backend::kernels {
namespace {

inline constexpr int kReduceThreads = 256;

struct Slice {
  ReduceGeometry g;
  /// Element k of slice j (j = o * inner + i) at base(j) + k * inner.
  __device__ std::int64_t base(std::int64_t j) const { return (j / g.inner) * g.reduce * g.inner + j % g.inner; }
};

template <class A>
using BlockReduce = cuda_backend::BlockReduce<A, kReduceThreads>;

template <class A>
__device__ A block_sum(A part, typename BlockReduce<A>::TempStorage& tmp, A* shared) {
  return cuda_backend::block_sum<kReduceThreads>(part, tmp, shared);
}

template <class A, class Op>
__device__ A block_fold(A part, Op op, typename BlockReduce<A>::TempStorage& tmp, A* shared) {
  return cuda_backend::block_fold<kReduceThreads>(part, op, tmp, shared);
}

// ---- sums ------------------------------------------------------------------------------------

__global__ void float_sum_kernel(const std::byte* in, DType dtype, Slice s, SumKind kind, std::int64_t correction,
                                 std::byte* out) {
  __shared__ typename BlockReduce<double>::TempStorage tmp;
  __shared__ double shared;
  const std::int64_t slices = s.g.outer * s.g.inner;
  for (std::int64_t j = blockIdx.x; j < slices; j += gridDim.x) {
    const std::int64_t base = s.base(j);
    double part = 0.0;
    for (std::int64_t k = threadIdx.x; k < s.g.reduce; k += kReduceThreads) part += load<double>(in, dtype, base + k * s.g.inner);
    const double sum = block_sum(part, tmp, &shared);
    const double count = static_cast<double>(s.g.reduce);
    double result = sum;
    if (kind == SumKind::mean) {
      result = sum / count;
    } else if (kind == SumKind::var || kind == SumKind::std) {
      // Squared deviations from the mean (more accurate than E[x^2] - E[x]^2), as on the CPU.
      const double mean = sum / count;
      double dev = 0.0;
      for (std::int64_t k = threadIdx.x; k < s.g.reduce; k += kReduceThreads) {
        const double d = load<double>(in, dtype, base + k * s.g.inner) - mean;
        dev += d * d;
      }
      const double divisor = static_cast<double>(s.g.reduce - correction > 0 ? s.g.reduce - correction : 0);
      result = block_sum(dev, tmp, &shared) / divisor;
      if (kind == SumKind::std) result = sqrt(result);
    }
    if (threadIdx.x == 0) store<double>(out, dtype, j, result);
  }
}

__global__ void integer_sum_kernel(const std::byte* in, DType dtype, Slice s, std::int64_t* out) {
  __shared__ typename BlockReduce<unsigned long long>::TempStorage tmp;
  __shared__ unsigned long long shared;
  const std::int64_t slices = s.g.outer * s.g.inner;
  for (std::int64_t j = blockIdx.x; j < slices; j += gridDim.x) {
    const std::int64_t base = s.base(j);
    unsigned long long part = 0;  // wraps like torch's i64 sum, without signed-overflow UB
    for (std::int64_t k = threadIdx.x; k < s.g.reduce; k += kReduceThreads)
      part += static_cast<unsigned long long>(load<std::int64_t>(in, dtype, base + k * s.g.inner));
    const unsigned long long sum = block_sum(part, tmp, &shared);
    if (threadIdx.x == 0) out[j] = static_cast<std::int64_t>(sum);
  }
}

// ---- extremes --------------------------------------------------------------------------------

template <class V>
struct Candidate {
  V value;
  std::int64_t index;  // -1: none yet
};

// The better of two candidates: NaN first, then the larger (smaller) value, then the smaller
// index, so the combination order cannot change the winner.
template <class V, bool Max>
struct Better {
  __device__ Candidate<V> operator()(const Candidate<V>& a, const Candidate<V>& b) const {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
    if (a_nan != b_nan) return a_nan ? a : b;
    if (!a_nan && a.value != b.value) return (Max ? a.value > b.value : a.value < b.value) ? a : b;
    return a.index < b.index ? a : b;
  }
};

template <class V, bool Max>
__global__ void extreme_kernel(const std::byte* in, DType dtype, Slice s, std::byte* values, std::int64_t* indices) {
  __shared__ typename BlockReduce<Candidate<V>>::TempStorage tmp;
  __shared__ Candidate<V> shared;
  const Better<V, Max> better;
  const std::int64_t slices = s.g.outer * s.g.inner;
  for (std::int64_t j = blockIdx.x; j < slices; j += gridDim.x) {
    const std::int64_t base = s.base(j);
    Candidate<V> part{V{}, -1};
    for (std::int64_t k = threadIdx.x; k < s.g.reduce; k += kReduceThreads)
      part = better(part, Candidate<V>{load<V>(in, dtype, base + k * s.g.inner), k});
    const Candidate<V> best = block_fold(part, better, tmp, &shared);
    if (threadIdx.x == 0) {
      if (values) store<V>(values, dtype, j, best.value);
      if (indices) indices[j] = best.index;
    }
  }
}

// ---- softmax ---------------------------------------------------------------------------------

struct MaxNan {
  template <class V>
  __device__ V operator()(V a, V b) const { return (a != a || a > b) ? a : b; }
};

// Softmax kinds plus logsumexp (which writes one value per slice).
enum class Normalise { softmax, log_softmax, logsumexp };

// V: f32 for f32 and bf16, f64 for f64; exps summed in f64, as on the CPU.
template <class V>
__global__ void softmax_kernel(const std::byte* in, DType dtype, Slice s, Normalise kind, std::byte* out) {
  __shared__ typename BlockReduce<V>::TempStorage max_tmp;
  __shared__ typename BlockReduce<double>::TempStorage sum_tmp;
  __shared__ V max_shared;
  __shared__ double sum_shared;
  const std::int64_t slices = s.g.outer * s.g.inner;
  for (std::int64_t j = blockIdx.x; j < slices; j += gridDim.x) {
    const std::int64_t base = s.base(j);
    V part = -INFINITY;
    for (std::int64_t k = threadIdx.x; k < s.g.reduce; k += kReduceThreads)
      part = MaxNan{}(part, load<V>(in, dtype, base + k * s.g.inner));
    V m = block_fold(part, MaxNan{}, max_tmp, &max_shared);
    // logsumexp shifts by 0 when the max is infinite: all -inf gives -inf, a +inf gives +inf.
    if (kind == Normalise::logsumexp && isinf(m)) m = V(0);
    double acc = 0.0;
    for (std::int64_t k = threadIdx.x; k < s.g.reduce; k += kReduceThreads)
      acc += static_cast<double>(exp(load<V>(in, dtype, base + k * s.g.inner) - m));
    const double sum = block_sum(acc, sum_tmp, &sum_shared);
    if (kind == Normalise::logsumexp) {
      if (threadIdx.x == 0) store<double>(out, dtype, j, static_cast<double>(m) + log(sum));
      continue;
    }
    const V scale = kind == Normalise::log_softmax ? static_cast<V>(log(sum)) : static_cast<V>(sum);
    for (std::int64_t k = threadIdx.x; k < s.g.reduce; k += kReduceThreads) {
      const std::int64_t at = base + k * s.g.inner;
      const V x = load<V>(in, dtype, at);
      store<V>(out, dtype, at, kind == Normalise::log_softmax ? (x - m) - scale : exp(x - m) / scale);
    }
  }
}

unsigned grid_for(ReduceGeometry g) { return static_cast<unsigned>(grid_blocks(g.outer * g.inner, 1)); }

void run_softmax(const char* entry, const std::byte* in, DType dtype, ReduceGeometry g, Normalise kind,
                 std::byte* out) {
  if (g.outer * g.inner == 0) return;
  const Slice s{g};
  switch (dtype) {
    case DType::f32:
    case DType::bf16: softmax_kernel<float><<<grid_for(g), kReduceThreads>>>(in, dtype, s, kind, out); break;
    case DType::f64: softmax_kernel<double><<<grid_for(g), kReduceThreads>>>(in, dtype, s, kind, out); break;
    default:
      throw DTypeError(std::string("[cuda: ") + entry + "] expects f32, f64 or bf16, got " +
                       std::string(dtype_name(dtype)));
  }
  check_launch(entry);
}

}  // namespace

void reduce_sum(SumKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::int64_t correction,
                std::byte* out) {
  if (g.outer * g.inner == 0) return;
  const Slice s{g};
  if (is_floating(dtype)) {
    float_sum_kernel<<<grid_for(g), kReduceThreads>>>(in, dtype, s, kind, correction, out);
  } else if (kind == SumKind::sum) {
    integer_sum_kernel<<<grid_for(g), kReduceThreads>>>(in, dtype, s, reinterpret_cast<std::int64_t*>(out));
  } else {
    throw DTypeError("[cuda: reduce_sum] mean, var and std expect a floating dtype, got " +
                     std::string(dtype_name(dtype)));
  }
  check_launch("reduce_sum");
}

void reduce_extreme(Extreme kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* values,
                    std::int64_t* indices) {
  if (g.outer * g.inner == 0) return;
  const Slice s{g};
  const bool max = kind == Extreme::max;
  // Floating values compare exactly as f64 (f32 and bf16 widen exactly); integers as i64.
  if (is_floating(dtype)) {
    if (max) extreme_kernel<double, true><<<grid_for(g), kReduceThreads>>>(in, dtype, s, values, indices);
    else extreme_kernel<double, false><<<grid_for(g), kReduceThreads>>>(in, dtype, s, values, indices);
  } else {
    if (max) extreme_kernel<std::int64_t, true><<<grid_for(g), kReduceThreads>>>(in, dtype, s, values, indices);
    else extreme_kernel<std::int64_t, false><<<grid_for(g), kReduceThreads>>>(in, dtype, s, values, indices);
  }
  check_launch("reduce_extreme");
}

void softmax(SoftmaxKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) {
  run_softmax("softmax", in, dtype, g, kind == SoftmaxKind::softmax ? Normalise::softmax : Normalise::log_softmax,
              out);
}

void logsumexp(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) {
  run_softmax("logsumexp", in, dtype, g, Normalise::logsumexp, out);
}

}  // namespace dm::cuda_backend::kernels
