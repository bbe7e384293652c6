// Backward formulas of the elementwise ops.
#include <cmath>
#include <cstddef>

#include "backend/backend.hpp"
#include "democratising/core/tensor.hpp"
#include "op_grads.hpp"

namespace dm::autograd {
namespace {

// Casts a gradient to the input's dtype and sums it down to the input's shape.
Tensor fit(const Tensor& g, const Tensor& input) {
  Tensor r = reduce_to_shape(g, input.shape());
  return r.dtype() == input.dtype() ? r : r.to(input.dtype());
}

bool wants(const Tensor& t) { return t.requires_grad(); }

Tensor zero_like_scalar(const Tensor& t) { return Tensor::zeros({}, t.dtype(), t.device()); }

// `keep ? g : 0` and `drop ? 0 : g`. Selects, not g * mask: an infinite or NaN g must not leak a
// NaN (inf * 0) into an element that does not depend on the input.
Tensor keep_grad(const Tensor& keep, const Tensor& g) { return where(keep, g, zero_like_scalar(g)); }
Tensor drop_grad(const Tensor& drop, const Tensor& g) { return where(drop, zero_like_scalar(g), g); }

// maximum/minimum's share for one operand (torch's rule): nothing where the other operand
// strictly wins, half of g at a tie, all of g otherwise. NaN compares unequal to everything,
// so a NaN on either side gives both operands the whole g, as it does in torch.
Tensor extreme_share(const Tensor& g, const Tensor& other_wins, const Tensor& tie) {
  return drop_grad(other_wins, where(tie, g * 0.5, g));
}

// The input's gradient from one fused backend pass over (g, x, y): dx = g * f'(x).
Tensor pointwise_backward(UnaryGradOp op, const Tensor& g, const Tensor& x, const Tensor& y) {
  const Tensor gc = g.contiguous(), xc = x.contiguous(), yc = y.contiguous();
  Tensor out = Tensor::empty(gc.shape(), gc.dtype(), gc.device());
  auto bytes = [](const Tensor& t) { return static_cast<std::byte*>(t.data_ptr()); };
  backend::backend_for(gc.device()).unary_backward(op, gc.dtype(), bytes(gc), bytes(xc), bytes(yc), bytes(out),
                                                   gc.numel());
  return out;
}

// What binary_backward's function reads, besides the gradient: only the operands and output
// its formulas need for the gradients wanted (add reads none; a * b reads b for a's).
std::vector<Tensor> binary_saves(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, bool need_a,
                                 bool need_b) {
  std::vector<Tensor> saved;
  switch (op) {
    case BinaryOp::add:
    case BinaryOp::sub: break;
    case BinaryOp::mul:
      if (need_a) saved.push_back(b);
      if (need_b) saved.push_back(a);
      break;
    case BinaryOp::div:
      saved.push_back(b);
      if (need_b) saved.push_back(out);
      break;
    case BinaryOp::pow:
      saved = {a, b};
      if (need_b) saved.push_back(out);
      break;
    case BinaryOp::maximum:
    case BinaryOp::minimum: saved = {a, b}; break;
  }
  return saved;
}

}  // namespace

BackwardFn binary_backward(BinaryOp op, const Tensor& a0, const Tensor& b0, const Tensor& out0) {
  const Tensor a = a0.detach(), b = b0.detach(), out = out0.detach();
  const bool need_a = wants(a0), need_b = wants(b0);
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor ga, gb;
    switch (op) {
      case BinaryOp::add:
        if (need_a) ga = g;
        if (need_b) gb = g;
        break;
      case BinaryOp::sub:
        if (need_a) ga = g;
        if (need_b) gb = -g;
        break;
      case BinaryOp::mul:
        if (need_a) ga = g * b;
        if (need_b) gb = g * a;
        break;
      case BinaryOp::div:
        if (need_a) ga = g / b;
        if (need_b) gb = -(g * out) / b;
        break;
      case BinaryOp::pow:
        // x^0 is constant (1) even at x = 0, where b x^(b-1) would be 0 * inf.
        if (need_a) ga = drop_grad(b.eq(0.0), g * b * a.pow(b - 1.0));
        // d/db 0^b is 0 for b >= 0 (torch's one-sided choice), where out * log(0) is 0 * -inf.
        if (need_b) {
          const Tensor slope = out * a.log();
          gb = g * where(a.eq(0.0), drop_grad(b.ge(0.0), slope), slope);
        }
        break;
      case BinaryOp::maximum:
      case BinaryOp::minimum: {
        const Tensor a_wins = op == BinaryOp::maximum ? a.gt(b) : a.lt(b);
        const Tensor b_wins = op == BinaryOp::maximum ? a.lt(b) : a.gt(b);
        const Tensor tie = a.eq(b);
        if (need_a) ga = extreme_share(g, b_wins, tie);
        if (need_b) gb = extreme_share(g, a_wins, tie);
        break;
      }
    }
    return {need_a ? fit(ga, a) : Tensor(), need_b ? fit(gb, b) : Tensor()};
  };
  return BackwardFn(std::move(fn), binary_saves(op, a, b, out, need_a, need_b));
}

BackwardFn binary_scalar_backward(BinaryOp op, const Tensor& a0, double s, ScalarSide side, const Tensor& out0) {
  const Tensor a = a0.detach(), out = out0.detach();
  const bool left = side == ScalarSide::left;  // s op a
  std::vector<Tensor> saved;
  switch (op) {
    case BinaryOp::add:
    case BinaryOp::sub:
    case BinaryOp::mul: break;
    case BinaryOp::div:
      if (left) saved = {a, out};
      break;
    case BinaryOp::pow: saved = {left ? out : a}; break;
    case BinaryOp::maximum:
    case BinaryOp::minimum: saved = {a}; break;
  }
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor ga;
    switch (op) {
      case BinaryOp::add: ga = g; break;
      case BinaryOp::sub: ga = left ? -g : g; break;
      case BinaryOp::mul: ga = g * s; break;
      case BinaryOp::div: ga = left ? -(g * out) / a : g / s; break;
      case BinaryOp::pow:
        if (left) {
          ga = g * out * std::log(s);
        } else {
          // x^0 is the constant 1: no gradient at all, even at x = 0 or for an infinite g.
          ga = s == 0.0 ? Tensor::zeros(a.shape(), g.dtype(), g.device()) : g * s * a.pow(s - 1.0);
        }
        break;
      case BinaryOp::maximum:
      case BinaryOp::minimum: {
        const Tensor s_wins = op == BinaryOp::maximum ? a.lt(s) : a.gt(s);
        ga = extreme_share(g, s_wins, a.eq(s));
        break;
      }
    }
    return {fit(ga, a)};
  };
  return BackwardFn(std::move(fn), std::move(saved));
}

BackwardFn unary_backward(UnaryOp op, const Tensor& a0, const Tensor& out0, UnaryParams p) {
  const Tensor a = a0.detach(), out = out0.detach();
  std::vector<Tensor> saved;
  switch (op) {
    case UnaryOp::neg: break;
    case UnaryOp::abs:
    case UnaryOp::log:
    case UnaryOp::gelu:
    case UnaryOp::clamp: saved = {a}; break;
    case UnaryOp::exp:
    case UnaryOp::sqrt:
    case UnaryOp::relu:
    case UnaryOp::sigmoid:
    case UnaryOp::tanh: saved = {out}; break;
  }
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor ga;
    switch (op) {
      case UnaryOp::neg: ga = -g; break;
      case UnaryOp::abs: ga = g * (a.gt(0.0).to(g.dtype()) - a.lt(0.0).to(g.dtype())); break;
      case UnaryOp::exp: ga = g * out; break;
      case UnaryOp::log: ga = g / a; break;
      case UnaryOp::sqrt: ga = g * 0.5 / out; break;
      // relu selects (torch's threshold_backward: 0 where y <= 0, even for an infinite g; g where y is NaN).
      case UnaryOp::relu: ga = pointwise_backward(UnaryGradOp::relu, g, out, out); break;
      case UnaryOp::sigmoid: ga = pointwise_backward(UnaryGradOp::sigmoid, g, out, out); break;
      case UnaryOp::tanh: ga = pointwise_backward(UnaryGradOp::tanh, g, out, out); break;
      case UnaryOp::gelu: ga = pointwise_backward(UnaryGradOp::gelu, g, a, a); break;  // reads x only: Phi(x) + x phi(x)
      // torch's rule: g inside [lo, hi] (bounds included), 0 outside and for NaN x or bound.
      case UnaryOp::clamp: ga = keep_grad(a.ge(p.lo), keep_grad(a.le(p.hi), g)); break;
    }
    return {fit(ga, a)};
  };
  return BackwardFn(std::move(fn), std::move(saved));
}

BackwardFn where_backward(const Tensor& cond0, const Tensor& a0, const Tensor& b0) {
  const Tensor cond = cond0.detach(), a = a0.detach(), b = b0.detach();
  const bool need_a = wants(a0), need_b = wants(b0);
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    const Tensor zero = Tensor::zeros({}, g.dtype(), g.device());
    return {Tensor(), need_a ? fit(where(cond, g, zero), a) : Tensor(), need_b ? fit(where(cond, zero, g), b) : Tensor()};
  };
  return BackwardFn(std::move(fn), {cond});  // a and b lend only their shapes and dtypes
}

}  // namespace dm::autograd
