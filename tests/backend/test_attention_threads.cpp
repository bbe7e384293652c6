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
#include "support/thread_invariance.hpp"

namespace {

using dm::DType;
using dm::Shape;
using dm::Tensor;
namespace nn = dm::nn;

using dm::testing::expect_thread_invariant;
using dm::testing::values;

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
