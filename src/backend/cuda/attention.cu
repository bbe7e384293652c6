// CUDA scaled dot-product attention, as cpu/attention.cpp: per (batch, head) pair, cuBLAS
// batched GEMMs (gemm.cpp) over a run of pairs, and one block per score row for the softmax.
//
//   per pair:  q (Lq, D)   k (Lk, D)   v (Lk, Dv)   out, g (Lq, Dv)   lse (Lq)
//   forward:  s (Lq, Lk) = scale * q k^T                      GEMM
//             p = softmax of each row over its visible keys,  one block per row: max (NaN wins),
//                 lse = max + log(sum)                         exp, sum in f64, scale; masked keys 0
//             out = p v                                        GEMM
//   backward: p recomputed from q, k and lse (no Lq x Lk per pair kept between the passes)
//             dv (Lk, Dv) = p^T g,  dp (Lq, Lk) = g v^T        GEMMs
//             ds = p * (dp - rowsum(p * dp))                   one block per row, sum in f64
//             dq (Lq, D) = scale * ds k,  dk (Lk, D) = scale * ds^T q
// Pairs go through in runs whose scores fit kScratchElements. Every sum has a fixed order
// (cuBLAS's for a shape, the block's tree), so a run gives the same bits every time.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/kernels.hpp"
#include "backend/cuda/layer_kernels.hpp"
#include "backend/cuda/layer_support.cuh"

namespace dm::cuda_backend::kernels {
namespace {

using backend::AttentionGeometry;
using backend::AttentionLayout;
using backend::GemmOperand;
using layer::each;
using layer::Scratch;
using layer::typed;

inline constexpr int kRowThreads = 256;
using RowSum = BlockReduce<double, kRowThreads>;

// The keys query row i may see.
__device__ inline std::int64_t visible_keys(std::int64_t i, std::int64_t kv_len, bool causal) {
  return causal ? (i + 1 < kv_len ? i + 1 : kv_len) : kv_len;
}

// The larger of two scores, NaN winning, as the CPU's running max compares them.
struct LargerOrNan {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return (b > a || b != b) ? b : a;
  }
};

// Each of `rows` score rows (Lk long, row r is query r % Lq of its pair) becomes its softmax
// over the visible keys, 0 beyond; lse[r] = its logsumexp.
template <class T>
__global__ void softmax_rows(T* s, T* lse, std::int64_t rows, std::int64_t q_len, std::int64_t kv_len, bool causal) {
  __shared__ typename BlockReduce<T, kRowThreads>::TempStorage max_tmp;
  __shared__ RowSum::TempStorage sum_tmp;
  __shared__ T max_shared;
  __shared__ double sum_shared;
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    T* row = s + r * kv_len;
    const std::int64_t n = visible_keys(r % q_len, kv_len, causal);
    T part = row[0];
    for (std::int64_t j = threadIdx.x; j < n; j += kRowThreads) part = LargerOrNan{}(part, row[j]);
    const T m = block_fold<kRowThreads>(part, LargerOrNan{}, max_tmp, &max_shared);
    double sum = 0.0;
    for (std::int64_t j = threadIdx.x; j < n; j += kRowThreads) {
      const T e = exp(row[j] - m);
      row[j] = e;
      sum += static_cast<double>(e);
    }
    const double total = block_sum<kRowThreads>(sum, sum_tmp, &sum_shared);
    const T inv = static_cast<T>(1.0 / total);
    for (std::int64_t j = threadIdx.x; j < kv_len; j += kRowThreads) row[j] = j < n ? row[j] * inv : T(0);
    if (threadIdx.x == 0) lse[r] = static_cast<T>(static_cast<double>(m) + log(total));
  }
}

// p = exp(s - lse) over the visible keys, 0 beyond, element by element.
template <class T>
struct ProbabilitiesFromLse {
  T* p;
  const T* lse;  // the run's first row
  std::int64_t q_len, kv_len;
  bool causal;
  __device__ void operator()(std::int64_t e) const {
    const std::int64_t r = e / kv_len, j = e % kv_len;
    p[e] = j < visible_keys(r % q_len, kv_len, causal) ? exp(p[e] - lse[r]) : T(0);
  }
};

// dp = p * (dp - sum_j p * dp) per row over the visible keys, 0 beyond.
template <class T>
__global__ void score_grad_rows(const T* p, T* dp, std::int64_t rows, std::int64_t q_len, std::int64_t kv_len,
                                bool causal) {
  __shared__ RowSum::TempStorage tmp;
  __shared__ double shared;
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* prow = p + r * kv_len;
    T* row = dp + r * kv_len;
    const std::int64_t n = visible_keys(r % q_len, kv_len, causal);
    double dot = 0.0;
    for (std::int64_t j = threadIdx.x; j < n; j += kRowThreads)
      dot += static_cast<double>(prow[j]) * static_cast<double>(row[j]);
    const T shift = static_cast<T>(block_sum<kRowThreads>(dot, tmp, &shared));
    for (std::int64_t j = threadIdx.x; j < kv_len; j += kRowThreads) row[j] = j < n ? prow[j] * (row[j] - shift) : T(0);
  }
}

// out through its layout = the contiguous (pairs, Lq, Dv) result of a run starting at pair p0.
template <class T>
struct StoreThroughLayout {
  const T* src;
  T* out;
  AttentionLayout o;
  std::int64_t p0, heads, q_len, value_dim;
  __device__ void operator()(std::int64_t e) const {
    const std::int64_t j = e % value_dim, i = (e / value_dim) % q_len, pair = p0 + e / (value_dim * q_len);
    out[(pair / heads) * o.batch + (pair % heads) * o.head + i * o.row + j] = src[e];
  }
};

template <class T>
const std::byte* raw(const T* p) {
  return reinterpret_cast<const std::byte*>(p);
}
template <class T>
std::byte* raw(T* p) {
  return reinterpret_cast<std::byte*>(p);
}

// Batch offsets of pairs [p0, p0 + count) in an operand's layout.
std::vector<std::int64_t> pair_offsets(const AttentionLayout& l, std::int64_t heads, std::int64_t p0,
                                       std::int64_t count) {
  std::vector<std::int64_t> off(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t pair = p0 + i;
    off[static_cast<std::size_t>(i)] = (pair / heads) * l.batch + (pair % heads) * l.head;
  }
  return off;
}
std::vector<std::int64_t> block_offsets(std::int64_t count, std::int64_t block) {
  std::vector<std::int64_t> off(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) off[static_cast<std::size_t>(i)] = i * block;
  return off;
}

unsigned row_blocks(std::int64_t rows) { return layer::block_per_item(rows); }

template <class T>
void forward(DType dtype, const AttentionGeometry& geo, const T* q, const T* k, const T* v, T* out, T* lse) {
  const char* entry = "attention_forward";
  const std::int64_t pairs = geo.batch * geo.heads, lq = geo.q_len, lk = geo.kv_len, dv = geo.value_dim;
  if (pairs == 0 || lq == 0) return;
  // out written by the GEMM itself when its pairs follow one another densely.
  const bool dense = geo.o.row == dv && (geo.heads == 1 || geo.o.head == lq * dv) &&
                     (geo.batch == 1 || geo.o.batch == geo.heads * lq * dv);
  const std::int64_t run = items_per_run(lq * lk + (dense ? 0 : lq * dv), pairs);
  Scratch<T> scores(run * lq * lk, entry), staged(dense ? 0 : run * lq * dv, entry);
  for (std::int64_t p0 = 0; p0 < pairs; p0 += run) {
    const std::int64_t count = std::min(run, pairs - p0);
    gemm(dtype, GemmShape{count, lq, lk, geo.head_dim},
         GemmOperand{raw(q), pair_offsets(geo.q, geo.heads, p0, count), false, geo.q.row},
         GemmOperand{raw(k), pair_offsets(geo.k, geo.heads, p0, count), true, geo.k.row}, raw(scores.get()),
         geo.scale, 0.0);
    softmax_rows<T><<<row_blocks(count * lq), kRowThreads>>>(scores.get(), lse + p0 * lq, count * lq, lq, lk,
                                                             geo.causal);
    check_launch(entry);
    T* result = dense ? out + p0 * lq * dv : staged.get();
    gemm(dtype, GemmShape{count, lq, dv, lk}, GemmOperand{raw(scores.get()), block_offsets(count, lq * lk), false, lk},
         GemmOperand{raw(v), pair_offsets(geo.v, geo.heads, p0, count), false, geo.v.row}, raw(result), 1.0, 0.0);
    if (!dense)
      each(entry, count * lq * dv, StoreThroughLayout<T>{staged.get(), out, geo.o, p0, geo.heads, lq, dv});
  }
}

template <class T>
void backward(DType dtype, const AttentionGeometry& geo, const T* g, const T* q, const T* k, const T* v,
              const T* lse, T* dq, T* dk, T* dv) {
  const char* entry = "attention_backward";
  const std::int64_t pairs = geo.batch * geo.heads, lq = geo.q_len, lk = geo.kv_len, d = geo.head_dim;
  const std::int64_t dvd = geo.value_dim;
  if (!dq && !dk && !dv) return;
  if (pairs == 0) return;
  if (lq == 0) {  // no query reaches any key: the key and value gradients are zero
    layer::zero(dk, pairs * lk * d, sizeof(T), entry);
    layer::zero(dv, pairs * lk * dvd, sizeof(T), entry);
    return;
  }
  const bool score_grads = dq || dk;
  const std::int64_t run = items_per_run(lq * lk * (score_grads ? 2 : 1), pairs);
  Scratch<T> p(run * lq * lk, entry), dp(score_grads ? run * lq * lk : 0, entry);
  const T scale = static_cast<T>(geo.scale);
  for (std::int64_t p0 = 0; p0 < pairs; p0 += run) {
    const std::int64_t count = std::min(run, pairs - p0);
    const std::vector<std::int64_t> q_off = pair_offsets(geo.q, geo.heads, p0, count);
    const std::vector<std::int64_t> k_off = pair_offsets(geo.k, geo.heads, p0, count);
    const std::vector<std::int64_t> g_off = pair_offsets(geo.o, geo.heads, p0, count);
    const std::vector<std::int64_t> s_off = block_offsets(count, lq * lk);
    // p (Lq, Lk) = exp(scale * q k^T - lse) over the visible keys, 0 elsewhere
    gemm(dtype, GemmShape{count, lq, lk, d}, GemmOperand{raw(q), q_off, false, geo.q.row},
         GemmOperand{raw(k), k_off, true, geo.k.row}, raw(p.get()), scale, 0.0);
    each(entry, count * lq * lk, ProbabilitiesFromLse<T>{p.get(), lse + p0 * lq, lq, lk, geo.causal});
    if (dv)
      gemm(dtype, GemmShape{count, lk, dvd, lq}, GemmOperand{raw(p.get()), s_off, true, lk},
           GemmOperand{raw(g), g_off, false, geo.o.row}, raw(dv + p0 * lk * dvd), 1.0, 0.0);
    if (!score_grads) continue;
    // dp (Lq, Lk) = g v^T, then ds = p * (dp - rowsum(p * dp)) in place
    gemm(dtype, GemmShape{count, lq, lk, dvd}, GemmOperand{raw(g), g_off, false, geo.o.row},
         GemmOperand{raw(v), pair_offsets(geo.v, geo.heads, p0, count), true, geo.v.row}, raw(dp.get()), 1.0, 0.0);
    score_grad_rows<T><<<row_blocks(count * lq), kRowThreads>>>(p.get(), dp.get(), count * lq, lq, lk, geo.causal);
    check_launch(entry);
    if (dq)
      gemm(dtype, GemmShape{count, lq, d, lk}, GemmOperand{raw(dp.get()), s_off, false, lk},
           GemmOperand{raw(k), k_off, false, geo.k.row}, raw(dq + p0 * lq * d), scale, 0.0);
    if (dk)
      gemm(dtype, GemmShape{count, lk, d, lq}, GemmOperand{raw(dp.get()), s_off, true, lk},
           GemmOperand{raw(q), q_off, false, geo.q.row}, raw(dk + p0 * lk * d), scale, 0.0);
  }
}

}  // namespace

void attention_forward(DType dtype, const AttentionGeometry& geo, const std::byte* q, const std::byte* k,
                       const std::byte* v, std::byte* out, std::byte* lse) {
  layer::dispatch_float(dtype, "attention_forward", [&]<class T>(T) {
    forward(dtype, geo, typed<T>(q), typed<T>(k), typed<T>(v), typed<T>(out), typed<T>(lse));
  });
}

void attention_backward(DType dtype, const AttentionGeometry& geo, const std::byte* g, const std::byte* q,
                        const std::byte* k, const std::byte* v, const std::byte* lse, std::byte* dq, std::byte* dk,
                        std::byte* dv) {
  layer::dispatch_float(dtype, "attention_backward", [&]<class T>(T) {
    backward(dtype, geo, typed<T>(g), typed<T>(q), typed<T>(k), typed<T>(v), typed<T>(lse), typed<T>(dq),
             typed<T>(dk), typed<T>(dv));
  });
}

}  // namespace dm::cuda_backend::kernels
