// nn::scaled_dot_product_attention: checks here, the fused passes in the backend.
//
//   q (B, H, Lq, D)   k (B, H, Lk, D)   v (B, H, Lk, Dv)   y (B, H, Lq, Dv)   lse (B, H, Lq)
//   forward:  one backend call; lse (each query row's logsumexp) is kept for the backward
//   backward: dq, dk, dv from one backend call, each only when an input needs it
// q, k, v and the output's gradient reach the kernel as they are when their last dim is
// contiguous and rows do not overlap (a head split out of a projection), else as copies.
#include <cmath>
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/attention.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

std::string operands(const Tensor& q, const Tensor& k, const Tensor& v) {
  return std::string("[") + kOp + "] q " + q.shape().str() + ", k " + k.shape().str() + ", v " + v.shape().str();
}

void check_arguments(const Tensor& q, const Tensor& k, const Tensor& v, std::optional<double> scale) {
  impl_of(q, kOp);
  impl_of(k, kOp);
  impl_of(v, kOp);
  common_device({&q, &k, &v}, kOp);
  detail::require_floating(q, kOp, "q");
  if (k.dtype() != q.dtype() || v.dtype() != q.dtype())
    throw DTypeError(std::string("[") + kOp + "] q " + std::string(dtype_name(q.dtype())) + ", k " +
                     std::string(dtype_name(k.dtype())) + ", v " + std::string(dtype_name(v.dtype())) +
                     ": dtypes must match");
  for (const auto& [t, what] : {std::pair{&q, "q"}, std::pair{&k, "k"}, std::pair{&v, "v"}})
    if (t->dim() != 4)
      throw ShapeError(operands(q, k, v) + ": " + what + " must be 4-d (batch, heads, sequence, head size)");
  if (k.size(0) != q.size(0) || v.size(0) != q.size(0) || k.size(1) != q.size(1) || v.size(1) != q.size(1))
    throw ShapeError(operands(q, k, v) + ": batch and head counts (dims 0 and 1) must match");
  if (k.size(2) != v.size(2))
    throw ShapeError(operands(q, k, v) + ": k and v must have the same sequence length (dim 2)");
  if (k.size(3) != q.size(3))
    throw ShapeError(operands(q, k, v) + ": q and k must have the same head size (dim 3)");
  if (k.size(2) < 1) throw ShapeError(operands(q, k, v) + ": there must be at least one key");
  if (q.size(3) < 1 || v.size(3) < 1) throw ShapeError(operands(q, k, v) + ": head sizes must be at least 1");
  if (scale && !std::isfinite(*scale))
    throw ValueError(std::string("[") + kOp + "] scale must be finite, got " + std::to_string(*scale));
}

// `t` in the compute dtype, as a view the kernel can read in place when it is one (see the
// file comment), else a contiguous copy.
Tensor readable(const Tensor& t) {
  Tensor c = t.to(detail::compute_dtype(t.dtype()));
  const bool rows_fit = c.size(2) <= 1 || c.stride(2) >= c.size(3);
  const bool in_place = (c.size(3) == 1 || c.stride(3) == 1) && rows_fit && c.stride(0) >= 0 && c.stride(1) >= 0;
  return in_place ? c : c.contiguous();
}

backend::AttentionLayout layout_of(const Tensor& t) {
  return {t.stride(0), t.stride(1), t.size(2) <= 1 ? t.size(3) : t.stride(2)};
}

const std::byte* bytes(const Tensor& t) { return static_cast<const std::byte*>(t.data_ptr()); }
std::byte* bytes_out(const Tensor& t) { return static_cast<std::byte*>(t.data_ptr()); }

struct AttentionBackward {
  Tensor q, k, v, lse;  // q, k, v in the compute dtype, readable in place
  backend::AttentionGeometry geo;
  bool need_q, need_k, need_v;
  DType dtype;  // of the inputs; gradients go back in it

  std::vector<Tensor> operator()(const Tensor& grad) const {
    const Tensor g = readable(grad);
    backend::AttentionGeometry bg = geo;
    bg.o = layout_of(g);
    const DType c = q.dtype();
    Tensor dq = need_q ? Tensor::empty({geo.batch, geo.heads, geo.q_len, geo.head_dim}, c, q.device()) : Tensor();
    Tensor dk = need_k ? Tensor::empty({geo.batch, geo.heads, geo.kv_len, geo.head_dim}, c, q.device()) : Tensor();
    Tensor dv = need_v ? Tensor::empty({geo.batch, geo.heads, geo.kv_len, geo.value_dim}, c, q.device()) : Tensor();
    backend::backend_for(q.device())
        .attention_backward(c, bg, bytes(g), bytes(q), bytes(k), bytes(v), bytes(lse),
                            need_q ? bytes_out(dq) : nullptr, need_k ? bytes_out(dk) : nullptr,
                            need_v ? bytes_out(dv) : nullptr);
    std::vector<Tensor> grads(3);
    if (need_q) grads[0] = dq.to(dtype);
    if (need_k) grads[1] = dk.to(dtype);
    if (need_v) grads[2] = dv.to(dtype);
    return grads;
  }
};

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                                    std::optional<double> scale) {
  check_arguments(q, k, v, scale);
  backend::AttentionGeometry geo;
  geo.batch = q.size(0);
  geo.heads = q.size(1);
  geo.q_len = q.size(2);
  geo.kv_len = k.size(2);
  geo.head_dim = q.size(3);
  geo.value_dim = v.size(3);
  geo.scale = scale.value_or(1.0 / std::sqrt(static_cast<double>(geo.head_dim)));
  geo.causal = causal;
  Tensor qc, kc, vc, y, lse;
  {
    NoGradGuard no_grad;  // the one node recorded below stands for the whole op
    qc = readable(q);
    kc = readable(k);
    vc = readable(v);
    geo.q = layout_of(qc);
    geo.k = layout_of(kc);
    geo.v = layout_of(vc);
    const DType c = qc.dtype();
    y = Tensor::empty({geo.batch, geo.heads, geo.q_len, geo.value_dim}, c, q.device());
    geo.o = layout_of(y);
    lse = Tensor::empty({geo.batch, geo.heads, geo.q_len}, c, q.device());
    backend::backend_for(q.device())
        .attention_forward(c, geo, bytes(qc), bytes(kc), bytes(vc), bytes_out(y), bytes_out(lse));
    y = y.to(q.dtype());
  }
  if (autograd::needs_grad({&q, &k, &v})) {
    AttentionBackward backward{qc, kc, vc, lse, geo, q.requires_grad(), k.requires_grad(), v.requires_grad(),
                               q.dtype()};
    autograd::record(y, kOp, {&q, &k, &v}, std::move(backward));
  }
  return y;
}

}  // namespace dm::nn
