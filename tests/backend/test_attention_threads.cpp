// Embedding and attention give the same bits for any pool size: forward, and every gradient
// (embedding's scatter-add sums each row by one task in index order; attention keeps each
// (batch, head) pair in one task with single-threaded GEMMs).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "democratising/core/random.hpp"
#include "democratising/core/tensor.hpp"
#include "democratising/nn/attention.hpp"
#include "democratising/runtime/pool.hpp"

namespace {

using dm::DType;
using dm::Shape;
using dm::Tensor;
namespace nn = dm::nn;

Tensor values(const Shape& shape, DType dtype, std::uint64_t seed) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  std::uint64_t state = seed;
  for (auto& x : v) {
    state = state * 2862933555777941757ull + 3037000493ull;
    x = static_cast<double>(state >> 11) / 9007199254740992.0 - 0.5;
  }
  return Tensor::from_vector(v, shape).to(dtype);
}

bool same_bits(const Tensor& x, const Tensor& y) {
  if (x.shape() != y.shape() || x.dtype() != y.dtype()) return false;
  const Tensor cx = x.contiguous(), cy = y.contiguous();
  return std::memcmp(cx.data_ptr(), cy.data_ptr(), static_cast<std::size_t>(x.numel()) * dm::itemsize(x.dtype())) == 0;
}

class PoolSizeGuard {
 public:
  PoolSizeGuard() : saved_(dm::num_threads()) {}
  ~PoolSizeGuard() { dm::set_num_threads(saved_); }
  PoolSizeGuard(const PoolSizeGuard&) = delete;
  PoolSizeGuard& operator=(const PoolSizeGuard&) = delete;

 private:
  int saved_;
};

// Output, then the gradient of each input, of one run.
using Run = std::vector<Tensor> (*)(DType);

void expect_thread_invariant(const std::string& name, Run run) {
  PoolSizeGuard guard;
  for (DType dtype : {DType::f32, DType::f64}) {
    dm::set_num_threads(1);
    const std::vector<Tensor> want = run(dtype);
    dm::set_num_threads(2);
    const std::vector<Tensor> got = run(dtype);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(same_bits(got[i], want[i])) << name << " " << dm::dtype_name(dtype) << ": output " << i
                                              << " differs between 1 and 2 threads";
  }
}

std::vector<Tensor> embedding_run(DType dtype) {
  Tensor w = values({50, 24}, dtype, 3);
  w.set_requires_grad();
  // Many repeats of few rows: the scatter-add has real collisions to order.
  std::vector<std::int64_t> idx(3000);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>((i * 7919) % 37);
  const Tensor y = nn::embedding(Tensor::from_vector(idx, {60, 50}), w);
  y.backward(values(y.shape(), dtype, 5));
  return {y, w.grad()};
}

std::vector<Tensor> attention_run(DType dtype, bool causal) {
  std::vector<Tensor> in = {values({3, 4, 33, 16}, dtype, 11), values({3, 4, 40, 16}, dtype, 12),
                            values({3, 4, 40, 8}, dtype, 13)};
  for (Tensor& t : in) t.set_requires_grad();
  const Tensor y = nn::scaled_dot_product_attention(in[0], in[1], in[2], causal);
  y.backward(values(y.shape(), dtype, 14));
  return {y, in[0].grad(), in[1].grad(), in[2].grad()};
}

std::vector<Tensor> mha_run(DType dtype) {
  dm::manual_seed(21);
  const nn::MultiheadAttention mha(32, 4, {.causal = true, .dtype = dtype});
  Tensor x = values({4, 20, 32}, dtype, 15);
  x.set_requires_grad();
  const Tensor y = mha(x);
  y.backward(values(y.shape(), dtype, 16));
  std::vector<Tensor> out{y, x.grad()};
  for (const Tensor& p : mha.parameters()) out.push_back(p.grad());
  return out;
}

TEST(AttentionThreads, EmbeddingBitwiseIdenticalForAnyThreadCount) {
  expect_thread_invariant("embedding", embedding_run);
}

TEST(AttentionThreads, ScaledDotProductAttentionBitwiseIdenticalForAnyThreadCount) {
  expect_thread_invariant("sdpa", [](DType d) { return attention_run(d, false); });
  expect_thread_invariant("sdpa causal", [](DType d) { return attention_run(d, true); });
}

TEST(AttentionThreads, MultiheadAttentionBitwiseIdenticalForAnyThreadCount) {
  expect_thread_invariant("MultiheadAttention", mha_run);
}

}  // namespace
