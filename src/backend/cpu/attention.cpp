// CPU kernels of fused scaled dot-product attention, one (batch, head) pair per task.
//
//   per (b, h):  q (Lq, D)   k (Lk, D)   v (Lk, Dv)   out, g (Lq, Dv)   lse (Lq)
//   forward:  s (Lq, Lk) = scale * q k^T                      one GEMM
//             p = softmax of each row over its unmasked keys,  one pass per row: max, exp, sum,
//                 lse = max + log(sum)                         scale (masked keys give 0)
//             out = p v                                        one GEMM
//   backward: p recomputed from q, k and lse (cheaper than keeping Lq x Lk per pair)
//             dv (Lk, Dv) = p^T g,  dp (Lq, Lk) = g v^T        two GEMMs
//             ds = p * (dp - rowsum(p * dp))                   one pass per row
//             dq (Lq, D) = scale * ds k,  dk (Lk, D) = scale * ds^T q
// Each pair's GEMMs are single-threaded OpenBLAS calls inside its task (the pool keeps BLAS
// at one thread), its row sums run in a fixed order, and no two tasks write the same memory,
// so every bit of the results depends on the shapes alone, never on the thread count.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/attention_kernels.hpp"
#include "backend/cpu/softmax_exp.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

using backend::AttentionGeometry;
using backend::AttentionLayout;

blasint bi(std::int64_t v) { return static_cast<blasint>(v); }
CBLAS_TRANSPOSE trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

// c (m, n, leading dim ldc) = alpha * op(a) op(b), row-major, one thread; c is only written.
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
          std::int64_t lda, const float* b, std::int64_t ldb, float* c, std::int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans(ta), trans(tb), bi(m), bi(n), bi(k), alpha, a, bi(lda), b, bi(ldb), 0.0f, c,
              bi(ldc));
}
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* a,
          std::int64_t lda, const double* b, std::int64_t ldb, double* c, std::int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans(ta), trans(tb), bi(m), bi(n), bi(k), alpha, a, bi(lda), b, bi(ldb), 0.0, c,
              bi(ldc));
}

// The keys query row i may see.
std::int64_t visible_keys(const AttentionGeometry& geo, std::int64_t i) {
  return geo.causal ? std::min(i + 1, geo.kv_len) : geo.kv_len;
}

template <class T>
const T* slice(const T* base, const AttentionLayout& l, std::int64_t b, std::int64_t h) {
  return base + b * l.batch + h * l.head;
}

// row[0, n) = softmax(row[0, n)) in place, row[n, len) = 0; returns the logsumexp. The sum of
// the exps runs in f64 (as the softmax kernel's does), in order.
template <class T>
T softmax_row(T* row, std::int64_t n, std::int64_t len) {
  T m = row[0];
  for (std::int64_t j = 1; j < n; ++j)
    if (row[j] > m || std::isnan(row[j])) m = row[j];
  exp_minus(row, m, row, n);
  double sum = 0.0;
  for (std::int64_t j = 0; j < n; ++j) sum += static_cast<double>(row[j]);
  const T inv = static_cast<T>(1.0 / sum);
  for (std::int64_t j = 0; j < n; ++j) row[j] *= inv;
  std::fill(row + n, row + len, T(0));
  return static_cast<T>(static_cast<double>(m) + std::log(sum));
}

template <class T>
void forward_pair(const AttentionGeometry& geo, std::int64_t b, std::int64_t h, const T* q, const T* k, const T* v,
                  T* out, T* lse, T* s) {
  const std::int64_t lq = geo.q_len, lk = geo.kv_len;
  const T* qs = slice(q, geo.q, b, h);
  const T* ks = slice(k, geo.k, b, h);
  gemm(false, true, lq, lk, geo.head_dim, static_cast<T>(geo.scale), qs, geo.q.row, ks, geo.k.row, s, lk);
  T* pair_lse = lse + (b * geo.heads + h) * lq;
  for (std::int64_t i = 0; i < lq; ++i) pair_lse[i] = softmax_row(s + i * lk, visible_keys(geo, i), lk);
  T* os = out + b * geo.o.batch + h * geo.o.head;
  gemm(false, false, lq, geo.value_dim, lk, T(1), s, lk, slice(v, geo.v, b, h), geo.v.row, os, geo.o.row);
}

template <class T>
void backward_pair(const AttentionGeometry& geo, std::int64_t b, std::int64_t h, const T* g, const T* q, const T* k,
                   const T* v, const T* lse, T* dq, T* dk, T* dv, T* p, T* dp) {
  const std::int64_t lq = geo.q_len, lk = geo.kv_len, d = geo.head_dim, dvd = geo.value_dim;
  const std::int64_t pair = b * geo.heads + h;
  const T* qs = slice(q, geo.q, b, h);
  const T* ks = slice(k, geo.k, b, h);
  const T* vs = slice(v, geo.v, b, h);
  const T* gs = g + b * geo.o.batch + h * geo.o.head;
  const T scale = static_cast<T>(geo.scale);
  // p (Lq, Lk) = exp(scale * q k^T - lse) over the visible keys, 0 elsewhere
  gemm(false, true, lq, lk, d, scale, qs, geo.q.row, ks, geo.k.row, p, lk);
  for (std::int64_t i = 0; i < lq; ++i) {
    T* row = p + i * lk;
    const std::int64_t n = visible_keys(geo, i);
    exp_minus(row, lse[pair * lq + i], row, n);
    std::fill(row + n, row + lk, T(0));
  }
  if (dv) gemm(true, false, lk, dvd, lq, T(1), p, lk, gs, geo.o.row, dv + pair * lk * dvd, dvd);
  if (!dq && !dk) return;
  // dp (Lq, Lk) = g v^T, then ds = p * (dp - rowsum(p * dp)) in place
  gemm(false, true, lq, lk, dvd, T(1), gs, geo.o.row, vs, geo.v.row, dp, lk);
  for (std::int64_t i = 0; i < lq; ++i) {
    const T* prow = p + i * lk;
    T* row = dp + i * lk;
    const std::int64_t n = visible_keys(geo, i);
    double dot = 0.0;
    for (std::int64_t j = 0; j < n; ++j) dot += static_cast<double>(prow[j]) * static_cast<double>(row[j]);
    const T shift = static_cast<T>(dot);
    for (std::int64_t j = 0; j < n; ++j) row[j] = prow[j] * (row[j] - shift);
    std::fill(row + n, row + lk, T(0));
  }
  if (dq) gemm(false, false, lq, d, lk, scale, dp, lk, ks, geo.k.row, dq + pair * lq * d, d);
  if (dk) gemm(true, false, lk, d, lq, scale, dp, lk, qs, geo.q.row, dk + pair * lk * d, d);
}

std::size_t scratch(const AttentionGeometry& geo) { return static_cast<std::size_t>(geo.q_len * geo.kv_len); }

template <class T>
void forward(const AttentionGeometry& geo, const T* q, const T* k, const T* v, T* out, T* lse) {
  if (geo.q_len == 0) return;
  par_for(geo.batch * geo.heads, 1, [&](std::int64_t p0, std::int64_t p1) {
    std::vector<T> s(scratch(geo));
    for (std::int64_t pair = p0; pair < p1; ++pair)
      forward_pair(geo, pair / geo.heads, pair % geo.heads, q, k, v, out, lse, s.data());
  });
}

template <class T>
void backward(const AttentionGeometry& geo, const T* g, const T* q, const T* k, const T* v, const T* lse, T* dq, T* dk,
              T* dv) {
  if (!dq && !dk && !dv) return;
  if (geo.q_len == 0) {  // no query reaches any key: the key and value gradients are zero
    if (dk) std::fill_n(dk, geo.batch * geo.heads * geo.kv_len * geo.head_dim, T(0));
    if (dv) std::fill_n(dv, geo.batch * geo.heads * geo.kv_len * geo.value_dim, T(0));
    return;
  }
  par_for(geo.batch * geo.heads, 1, [&](std::int64_t p0, std::int64_t p1) {
    std::vector<T> p(scratch(geo)), dp(dq || dk ? scratch(geo) : 0);
    for (std::int64_t pair = p0; pair < p1; ++pair)
      backward_pair(geo, pair / geo.heads, pair % geo.heads, g, q, k, v, lse, dq, dk, dv, p.data(), dp.data());
  });
}

}  // namespace

void attention_forward(DType dtype, const AttentionGeometry& geo, const std::byte* q, const std::byte* k,
                       const std::byte* v, std::byte* out, std::byte* lse) {
  dispatch_float(dtype, "attention_forward", [&]<class T>(TypeTag<T>) {
    forward(geo, reinterpret_cast<const T*>(q), reinterpret_cast<const T*>(k), reinterpret_cast<const T*>(v),
            reinterpret_cast<T*>(out), reinterpret_cast<T*>(lse));
  });
}

void attention_backward(DType dtype, const AttentionGeometry& geo, const std::byte* g, const std::byte* q,
                        const std::byte* k, const std::byte* v, const std::byte* lse, std::byte* dq, std::byte* dk,
                        std::byte* dv) {
  dispatch_float(dtype, "attention_backward", [&]<class T>(TypeTag<T>) {
    backward(geo, reinterpret_cast<const T*>(g), reinterpret_cast<const T*>(q), reinterpret_cast<const T*>(k),
             reinterpret_cast<const T*>(v), reinterpret_cast<const T*>(lse), reinterpret_cast<T*>(dq),
             reinterpret_cast<T*>(dk), reinterpret_cast<T*>(dv));
  });
}

}  // namespace dm::cpu
