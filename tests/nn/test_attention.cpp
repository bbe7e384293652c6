// nn::scaled_dot_product_attention, nn::embedding and the Embedding and MultiheadAttention
// layers against plain loops in f64 (tests/nn/attention_reference.hpp), on contiguous and
// strided inputs, and their errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attention_reference.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"
#include "democratising/nn/attention.hpp"
#include "democratising/nn/sequential.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;
namespace ref = attention_ref;

ref::Sizes sizes_of(const Tensor& q, const Tensor& k, const Tensor& v) {
  return {q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), v.size(3)};
}

// Forward and every gradient of `q, k, v` (any layout) against the reference in f64.
void check_sdpa(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, std::optional<double> scale,
                double rtol, double atol) {
  const ref::Sizes s = sizes_of(q, k, v);
  const Tensor g = normal({s.b, s.h, s.lq, s.dv}, 77, q.dtype());
  const Tensor y = nn::scaled_dot_product_attention(q, k, v, causal, scale);
  y.backward(g);
  const double sc = scale.value_or(1.0 / std::sqrt(static_cast<double>(s.d)));
  const ref::Result r = ref::attention(s, q.to_vector<double>(), k.to_vector<double>(), v.to_vector<double>(),
                                       g.to_vector<double>(), causal, sc);
  ASSERT_EQ(y.shape(), Shape({s.b, s.h, s.lq, s.dv}));
  expect_close(y, r.y, rtol, atol, "y");
  expect_close(q.grad(), r.dq, rtol, atol, "dq");
  expect_close(k.grad(), r.dk, rtol, atol, "dk");
  expect_close(v.grad(), r.dv, rtol, atol, "dv");
}

Tensor leaf(const Shape& shape, std::uint64_t seed, DType dtype) {
  Tensor t = normal(shape, seed, dtype);
  t.set_requires_grad();
  return t;
}

TEST(ScaledDotProductAttention, MatchesTheReferenceInBothDtypes) {
  for (DType dtype : {DType::f64, DType::f32}) {
    const double rtol = dtype == DType::f64 ? kRtol64 : kRtol32, atol = dtype == DType::f64 ? kAtol64 : kAtol32;
    for (bool causal : {false, true}) {
      SCOPED_TRACE(std::string(dm::dtype_name(dtype)) + (causal ? " causal" : ""));
      check_sdpa(leaf({2, 3, 5, 4}, 1, dtype), leaf({2, 3, 5, 4}, 2, dtype), leaf({2, 3, 5, 4}, 3, dtype), causal,
                 std::nullopt, rtol, atol);
      // More queries than keys, a value size unlike the query's, an explicit scale.
      check_sdpa(leaf({1, 2, 7, 3}, 4, dtype), leaf({1, 2, 4, 3}, 5, dtype), leaf({1, 2, 4, 6}, 6, dtype), causal,
                 0.25, rtol, atol);
    }
  }
}

TEST(ScaledDotProductAttention, ReadsStridedViewsAndTheirGradientsReachTheBase) {
  // q stored (B, L, H, D) and viewed (B, H, L, D), as MultiheadAttention splits heads; k stored
  // with its last two dims swapped (a non-contiguous last dim, copied); v a narrowed slice.
  Tensor qs = leaf({2, 5, 3, 4}, 11, DType::f64), ks = leaf({2, 3, 4, 6}, 12, DType::f64);
  Tensor vs = leaf({2, 3, 6, 9}, 13, DType::f64);
  const Tensor q = qs.transpose(1, 2), k = ks.transpose(2, 3), v = vs.narrow(3, 2, 5);
  const Tensor g = normal({2, 3, 5, 5}, 14, DType::f64);
  const Tensor y = nn::scaled_dot_product_attention(q, k, v, true);
  y.backward(g);
  const ref::Result r = ref::attention(sizes_of(q, k, v), q.to_vector<double>(), k.to_vector<double>(),
                                       v.to_vector<double>(), g.to_vector<double>(), true, 0.5);
  expect_close(y, r.y, kRtol64, kAtol64, "y");
  expect_close(qs.grad().transpose(1, 2), r.dq, kRtol64, kAtol64, "dq");
  expect_close(ks.grad().transpose(2, 3), r.dk, kRtol64, kAtol64, "dk");
  expect_close(vs.grad().narrow(3, 2, 5), r.dv, kRtol64, kAtol64, "dv");
  // The rest of v's base gets no gradient.
  EXPECT_EQ(vs.grad().narrow(3, 0, 2).abs().max().item<double>(), 0.0);
}

TEST(ScaledDotProductAttention, Bf16ComputesInF32) {
  const Tensor q = normal({1, 2, 3, 4}, 21), k = normal({1, 2, 5, 4}, 22), v = normal({1, 2, 5, 4}, 23);
  const Tensor y = nn::scaled_dot_product_attention(q.to(DType::bf16), k.to(DType::bf16), v.to(DType::bf16));
  EXPECT_EQ(y.dtype(), DType::bf16);
  const Tensor want = nn::scaled_dot_product_attention(q.to(DType::bf16).to(DType::f32),
                                                       k.to(DType::bf16).to(DType::f32),
                                                       v.to(DType::bf16).to(DType::f32));
  expect_close(y.to(DType::f32), want.to_vector<double>(), 1e-2, 1e-2, "bf16");
}

TEST(ScaledDotProductAttention, BadShapesAndDtypesAreErrorsNamingThem) {
  const Tensor q = normal({2, 3, 5, 4}, 1), k = normal({2, 3, 6, 4}, 2), v = normal({2, 3, 6, 4}, 3);
  using nn::scaled_dot_product_attention;
  expect_throw_with<dm::ShapeError>([&] { scaled_dot_product_attention(q.reshape({6, 5, 4}), k, v); }, "q must be 4-d");
  expect_throw_with<dm::ShapeError>([&] { scaled_dot_product_attention(q, normal({2, 3, 6, 5}, 4), v); },
                                    "q and k must have the same head size");
  expect_throw_with<dm::ShapeError>([&] { scaled_dot_product_attention(q, k, normal({2, 3, 7, 4}, 5)); },
                                    "k and v must have the same sequence length");
  expect_throw_with<dm::ShapeError>([&] { scaled_dot_product_attention(q, normal({2, 2, 6, 4}, 6), v); },
                                    "batch and head counts");
  expect_throw_with<dm::ShapeError>(
      [&] { scaled_dot_product_attention(q, normal({2, 3, 0, 4}, 6), normal({2, 3, 0, 4}, 7)); },
      "at least one key");
  expect_throw_with<dm::ShapeError>([&] { scaled_dot_product_attention(q, k, normal({2, 3, 7, 4}, 8)); },
                                    "q (2, 3, 5, 4), k (2, 3, 6, 4), v (2, 3, 7, 4)");
  expect_throw_with<dm::DTypeError>([&] { scaled_dot_product_attention(q, k.to(DType::f64), v); }, "dtypes must match");
  expect_throw_with<dm::DTypeError>(
      [&] { scaled_dot_product_attention(q.to(DType::i64), k.to(DType::i64), v.to(DType::i64)); }, "f32, f64");
  expect_throw_with<dm::ValueError>([&] { scaled_dot_product_attention(q, k, v, false, NAN); }, "scale");
}

TEST(ScaledDotProductAttention, NoQueriesGiveEmptyOutputAndZeroKeyGradients) {
  Tensor q = leaf({1, 2, 0, 3}, 1, DType::f64), k = leaf({1, 2, 4, 3}, 2, DType::f64);
  Tensor v = leaf({1, 2, 4, 3}, 3, DType::f64);
  const Tensor y = nn::scaled_dot_product_attention(q, k, v);
  EXPECT_EQ(y.shape(), Shape({1, 2, 0, 3}));
  y.sum().backward();
  EXPECT_EQ(k.grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(v.grad().abs().sum().item<double>(), 0.0);
}

// ---- embedding ----------------------------------------------------------------------------------

TEST(Embedding, GathersRowsAndAddsRepeatedIndicesInTheGradient) {
  for (DType dtype : {DType::f64, DType::f32}) {
    Tensor w = leaf({6, 3}, 31, dtype);
    const Tensor idx = Tensor::from_vector(std::vector<std::int64_t>{4, 0, 4, 5, 4, 2}, {2, 3});
    const Tensor y = nn::embedding(idx, w);
    ASSERT_EQ(y.shape(), Shape({2, 3, 3}));
    const Tensor g = normal({2, 3, 3}, 32, dtype);
    y.backward(g);
    const auto wv = w.to_vector<double>(), gv = g.to_vector<double>();
    const std::vector<std::int64_t> iv = idx.to_vector<std::int64_t>();
    std::vector<double> want_y, want_dw(18, 0.0);
    for (std::size_t p = 0; p < iv.size(); ++p)
      for (std::size_t j = 0; j < 3; ++j) {
        want_y.push_back(wv[static_cast<std::size_t>(iv[p]) * 3 + j]);
        want_dw[static_cast<std::size_t>(iv[p]) * 3 + j] += gv[p * 3 + j];
      }
    expect_close(y, want_y, 0.0, 0.0, "y");
    expect_close(w.grad(), want_dw, kRtol32, kAtol32, "dw");
  }
}

TEST(Embedding, AcceptsI32AndScalarIndices) {
  const Tensor w = normal({4, 2}, 33);
  const Tensor a = nn::embedding(Tensor::from_vector(std::vector<std::int32_t>{3, 1}), w);
  const Tensor b = nn::embedding(Tensor::from_vector(std::vector<std::int64_t>{3, 1}), w);
  expect_close(a, b.to_vector<double>(), 0.0, 0.0);
  EXPECT_EQ(nn::embedding(Tensor::scalar(2, DType::i64), w).shape(), Shape({2}));
}

TEST(Embedding, BadIndicesAreErrorsNamingThem) {
  const Tensor w = normal({4, 2}, 34);
  nn_test::expect_throw_with<dm::ValueError>(
      [&] { nn::embedding(Tensor::from_vector(std::vector<std::int64_t>{0, 4, 1}), w); }, "index 4 (at flat position 1");
  nn_test::expect_throw_with<dm::ValueError>(
      [&] { nn::embedding(Tensor::from_vector(std::vector<std::int64_t>{-1}), w); }, "index -1");
  nn_test::expect_throw_with<dm::DTypeError>([&] { nn::embedding(normal({2}, 35), w); }, "indices must be i32 or i64");
  nn_test::expect_throw_with<dm::ShapeError>(
      [&] { nn::embedding(Tensor::from_vector(std::vector<std::int64_t>{0}), normal({4}, 36)); }, "weight must be 2-d");
}

TEST(Embedding, LayerIsStandardNormalAndNamed) {
  dm::manual_seed(5);
  const nn::Embedding emb(1000, 16);
  EXPECT_EQ(emb.name(), "Embedding(1000, 16)");
  EXPECT_EQ(emb.weight().shape(), Shape({1000, 16}));
  EXPECT_NEAR(emb.weight().mean().item<float>(), 0.0, 0.02);
  EXPECT_NEAR(emb.weight().std().item<float>(), 1.0, 0.02);
  const Tensor y = emb(Tensor::from_vector(std::vector<std::int64_t>{7, 999}, {1, 2}));
  EXPECT_EQ(y.shape(), Shape({1, 2, 16}));
  nn_test::expect_throw_with<dm::ShapeError>([] { nn::Embedding(0, 3); }, "[Embedding]");
}

// ---- MultiheadAttention -------------------------------------------------------------------------

// The layer by hand: projections by matmul, heads by reshape, the reference attention.
std::vector<double> mha_by_hand(const nn::MultiheadAttention& mha, const Tensor& q_in, const Tensor& kv_in,
                                bool causal) {
  const std::int64_t e = mha.embed_dim(), h = mha.num_heads(), d = e / h;
  const Tensor w = mha.in_proj_weight().detach(), b = mha.in_proj_bias()->detach();
  const auto proj = [&](const Tensor& x, std::int64_t part) {
    const Tensor y = x.matmul(w.narrow(0, part * e, e).t()) + b.narrow(0, part * e, e);
    return y.reshape({x.size(0), x.size(1), h, d}).transpose(1, 2).contiguous();
  };
  const Tensor q = proj(q_in, 0), k = proj(kv_in, 1), v = proj(kv_in, 2);
  const ref::Result r =
      ref::attention(sizes_of(q, k, v), q.to_vector<double>(), k.to_vector<double>(), v.to_vector<double>(),
                     std::vector<double>(static_cast<std::size_t>(q.numel()), 0.0), causal, 1.0 / std::sqrt(double(d)));
  const Tensor a = Tensor::from_vector(r.y, q.shape()).transpose(1, 2).reshape({q_in.size(0), q_in.size(1), e});
  const Tensor out = a.matmul(mha.out_proj().weight().detach().t()) + mha.out_proj().bias()->detach();
  return out.to_vector<double>();
}

TEST(MultiheadAttention, SelfAndCrossAttentionMatchTheLayerByHand) {
  dm::manual_seed(8);
  for (bool causal : {false, true}) {
    nn::MultiheadAttention mha(12, 3, {.causal = causal, .dtype = DType::f64});
    // Non-zero biases, so that their use is tested too.
    mha.load_parameter("in_proj_bias", normal({36}, 41, DType::f64));
    mha.load_parameter("out_proj.bias", normal({12}, 42, DType::f64));
    const Tensor x = normal({2, 5, 12}, 43, DType::f64), mem = normal({2, 7, 12}, 44, DType::f64);
    expect_close(mha(x), mha_by_hand(mha, x, x, causal), kRtol64, kAtol64, "self");
    expect_close(mha.forward(x, mem, mem), mha_by_hand(mha, x, mem, causal), kRtol64, kAtol64, "cross");
  }
}

TEST(MultiheadAttention, WorksInsideSequential) {
  dm::manual_seed(9);
  nn::Sequential net;
  net.add(nn::MultiheadAttention(8, 2, {.causal = true})).add(nn::LayerNorm(Shape{8})).add(nn::Dense(8, 3));
  EXPECT_EQ(net.name().rfind("Sequential(MultiheadAttention(8, 2 heads, causal), LayerNorm(", 0), 0u) << net.name();
  const Tensor y = net(normal({4, 6, 8}, 51));
  EXPECT_EQ(y.shape(), Shape({4, 6, 3}));
  y.sum().backward();
  for (const auto& [name, p] : net.named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
}

TEST(MultiheadAttention, BadSizesAreShapeErrorsNamingTheLayerAndShapes) {
  nn_test::expect_throw_with<dm::ShapeError>([] { nn::MultiheadAttention(10, 3); },
                                             "embed_dim 10 must be a positive multiple of num_heads 3");
  const nn::MultiheadAttention mha(8, 2);
  nn_test::expect_throw_with<dm::ShapeError>([&] { mha(normal({4, 8}, 1)); },
                                             "[MultiheadAttention(8, 2 heads)] x must be (batch, sequence, 8), got shape (4, 8)");
  nn_test::expect_throw_with<dm::ShapeError>([&] { mha(normal({2, 4, 6}, 1)); }, "got shape (2, 4, 6)");
  const Tensor q = normal({2, 3, 8}, 2), kv = normal({2, 5, 8}, 3);
  nn_test::expect_throw_with<dm::ShapeError>([&] { mha.forward(q, kv, normal({2, 4, 8}, 4)); },
                                             "key and value sequence lengths must match");
  nn_test::expect_throw_with<dm::ShapeError>([&] { mha.forward(q, normal({3, 5, 8}, 5), normal({3, 5, 8}, 6)); },
                                             "batch sizes must match");
  nn_test::expect_throw_with<dm::ShapeError>([&] { mha.forward(q, kv, normal({2, 5, 7}, 7)); },
                                             "value (2, 5, 7)");
}

}  // namespace
