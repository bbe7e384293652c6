// Backward formulas of the elementwise ops.
#include <cmath>
#include <cstddef>

#include "backend/backend.hpp"
#include "democratising/tensor.hpp"
#include "op_grads.hpp"

namespace dm::autograd {
namespace {

// Casts a gradient to the input's dtype and sums it down to the input's shape.
Tensor fit(const Tensor& g, const Tensor& input) {
  Tensor r = reduce_to_shape(g, input.shape());
  return r.dtype() == input.dtype() ? r : r.to(input.dtype());
}

bool wants(const Tensor& t) { return t.requires_grad(); }

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
        if (need_a) ga = g * b * a.pow(b - 1.0);
        if (need_b) gb = g * out * a.log();
        break;
      case BinaryOp::maximum:
      case BinaryOp::minimum: {
        // Ties share the gradient evenly, as torch does.
        const Tensor wins = op == BinaryOp::maximum ? a.gt(b) : a.lt(b);
        const Tensor ties = a.eq(b);
        const Tensor share_a = wins + ties * 0.5;  // bool -> float weights
        if (need_a) ga = g * share_a;
        if (need_b) gb = g * (1.0 - share_a);
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
      case BinaryOp::pow: ga = left ? g * out * std::log(s) : g * s * a.pow(s - 1.0); break;
      case BinaryOp::maximum:
      case BinaryOp::minimum: {
        const Tensor keep = op == BinaryOp::maximum ? a.gt(s) : a.lt(s);
        ga = g * (keep + a.eq(s) * 0.5);
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
      // relu selects (torch's threshold_backward: 0 where inactive, even for an infinite g).
      case UnaryOp::relu: ga = pointwise_backward(UnaryGradOp::relu, g, out, out); break;
      case UnaryOp::sigmoid: ga = pointwise_backward(UnaryGradOp::sigmoid, g, out, out); break;
      case UnaryOp::tanh: ga = pointwise_backward(UnaryGradOp::tanh, g, out, out); break;
      case UnaryOp::gelu: ga = pointwise_backward(UnaryGradOp::gelu, g, a, a); break;  // reads x only: Phi(x) + x phi(x)
      case UnaryOp::clamp: ga = g * (a.ge(p.lo) * a.le(p.hi)); break;
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
