// Embedding and attention through their public entry points (nn::embedding,
// nn::scaled_dot_product_attention), forward and (through backward()) every gradient, on
// contiguous inputs and on a query split out of a (B, L, H, D) tensor, against the plain loops
// of tests/nn/attention_reference.hpp and an index loop.
#include <string>

#include "../nn/attention_reference.hpp"
#include "democratising/nn/attention.hpp"
#include "harness.hpp"
#include "host.hpp"

namespace dm::conformance {
namespace {

std::string dt(DType t) { return std::string(dtype_name(t)); }

Tensor leaf_on(const Host& h, Device d) { return to_tensor(h).to(d).detach().set_requires_grad(); }

void attention_case(Cases& cases, DType dtype, const attention_ref::Sizes& s, bool causal, bool split_heads,
                    std::uint64_t seed) {
  // q is made (B, Lq, H, D) and viewed (B, H, Lq, D) when split_heads, as MultiheadAttention does.
  const Dims q_shape{s.b, s.h, s.lq, s.d}, k_shape{s.b, s.h, s.lk, s.d}, v_shape{s.b, s.h, s.lk, s.dv};
  const Dims y_shape{s.b, s.h, s.lq, s.dv};
  const Host q_stored = make_values(dtype, split_heads ? Dims{s.b, s.lq, s.h, s.d} : q_shape, Values::general, seed);
  const Host q = split_heads ? transpose(q_stored, 1, 2) : q_stored;
  const Host k = make_values(dtype, k_shape, Values::general, seed + 1);
  const Host v = make_values(dtype, v_shape, Values::general, seed + 2);
  const Host g = make_values(dtype, y_shape, Values::general, seed + 3);
  const std::string label = "nn.scaled_dot_product_attention " + dt(dtype) + " q" + dims_str(q_shape) +
                            (split_heads ? " split from (B,L,H,D)" : "") + " k" + dims_str(k_shape) + " v" +
                            dims_str(v_shape) + (causal ? " causal" : "") + " forward+backward";
  cases.push_back({label, tol::for_dtype(dtype, true),
                   [=](Device d) {
                     Tensor tq = leaf_on(q_stored, d), tk = leaf_on(k, d), tv = leaf_on(v, d);
                     const Tensor y = nn::scaled_dot_product_attention(split_heads ? tq.transpose(1, 2) : tq, tk,
                                                                       tv, causal);
                     y.backward(to_tensor(g).to(d));
                     return Outputs{capture("y", y), capture("dq", tq.grad()), capture("dk", tk.grad()),
                                    capture("dv", tv.grad())};
                   },
                   [=](const Outputs&) {
                     const auto r = attention_ref::attention(s, q.v, k.v, v.v, g.v, causal,
                                                             1.0 / std::sqrt(static_cast<double>(s.d)));
                     const Host dq = Host{q_shape, dtype, r.dq};
                     const Host dq_stored = split_heads ? transpose(dq, 1, 2) : dq;
                     return Outputs{expect("y", y_shape, dtype, r.y), expect("dq", dq_stored.shape, dtype, dq_stored.v),
                                    expect("dk", k_shape, dtype, r.dk), expect("dv", v_shape, dtype, r.dv)};
                   }});
}

void embedding_case(Cases& cases, DType dtype, std::int64_t num, std::int64_t dim, const Dims& index_shape,
                    std::uint64_t seed) {
  const Host w = make_values(dtype, {num, dim}, Values::general, seed);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(numel_of(index_shape)));
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>((i * 5 + seed) % (num > 2 ? num - 2 : num));
  Dims y_shape = index_shape;
  y_shape.push_back(dim);
  const Host g = make_values(dtype, y_shape, Values::general, seed + 1);
  const std::string label = "nn.embedding " + dt(dtype) + " W" + dims_str({num, dim}) + " indices" +
                            dims_str(index_shape) + " (repeats, unused rows) forward+backward";
  cases.push_back({label, tol::for_dtype(dtype),
                   [=](Device d) {
                     Tensor tw = leaf_on(w, d);
                     const Tensor y = nn::embedding(Tensor::from_vector(idx, Shape(index_shape)).to(d), tw);
                     y.backward(to_tensor(g).to(d));
                     return Outputs{capture("y", y), capture("dW", tw.grad())};
                   },
                   [=](const Outputs&) {
                     std::vector<double> y, dw(static_cast<std::size_t>(num * dim), 0.0);
                     for (std::size_t p = 0; p < idx.size(); ++p)
                       for (std::int64_t j = 0; j < dim; ++j) {
                         const auto row = static_cast<std::size_t>(idx[p] * dim + j);
                         y.push_back(w.v[row]);
                         dw[row] += g.v[p * static_cast<std::size_t>(dim) + static_cast<std::size_t>(j)];
                       }
                     return Outputs{expect("y", y_shape, dtype, y), expect("dW", {num, dim}, dtype, dw)};
                   }});
}

}  // namespace

void add_attention_cases(Cases& cases) {
  std::uint64_t seed = 9700;
  for (DType dtype : {DType::f32, DType::f64}) {
    for (bool causal : {false, true}) {
      attention_case(cases, dtype, {2, 3, 5, 5, 4, 4}, causal, false, seed += 10);
      attention_case(cases, dtype, {2, 2, 6, 4, 3, 5}, causal, true, seed += 10);
    }
    embedding_case(cases, dtype, 9, 4, {3, 5}, seed += 10);
    embedding_case(cases, dtype, 5, 7, {11}, seed += 10);
  }
}

}  // namespace dm::conformance
