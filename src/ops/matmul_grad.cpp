// Backward of torch.matmul semantics: 1-d operands are lifted to matrices, batch dims
// broadcast, and each gradient is summed back down to its operand's shape.
#include "democratising/core/tensor.hpp"
#include "op_grads.hpp"

namespace dm::autograd {

BackwardFn matmul_backward(const Tensor& a0, const Tensor& b0) {
  const Tensor a = a0.detach(), b = b0.detach();
  const bool need_a = a0.requires_grad(), need_b = b0.requires_grad();
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    // a1 (..., n, k) @ b1 (..., k, m) = g1 (..., n, m)
    const Tensor a1 = a.dim() == 1 ? a.unsqueeze(0) : a;
    const Tensor b1 = b.dim() == 1 ? b.unsqueeze(1) : b;
    Tensor g1 = g;
    if (a.dim() == 1) g1 = g1.unsqueeze(g1.dim() == 0 ? 0 : g1.dim() - (b.dim() == 1 ? 0 : 1));
    if (b.dim() == 1) g1 = g1.unsqueeze(g1.dim());
    Tensor ga, gb;
    if (need_a) ga = reduce_to_shape(g1.matmul(b1.transpose(-1, -2)), a1.shape()).reshape(a.shape());
    if (need_b) gb = reduce_to_shape(a1.transpose(-1, -2).matmul(g1), b1.shape()).reshape(b.shape());
    return {ga, gb};
  };
  // a's gradient reads b and b's reads a: an operand whose partner needs no gradient is
  // not read, so updating a weight in place does not refuse a pass that never reads it.
  return BackwardFn(std::move(fn), {need_a ? b : Tensor(), need_b ? a : Tensor()});
}

}  // namespace dm::autograd
