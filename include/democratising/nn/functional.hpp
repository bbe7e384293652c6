#pragma once
// Differentiable building blocks with fused forward and backward passes. Each records one
// autograd node with a hand-written backward; they accept f32, f64 and bf16 (computed in
// f32) CPU tensors.
#include "democratising/nn/conv.hpp"
#include "democratising/core/tensor.hpp"

namespace dm::nn {

/// y = x W^T + b; x (..., in), W (out, in), b (out) or undefined. One GEMM forward, two back.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

/// Mean cross-entropy of logits (B, C) against integer labels (B) in [0, C) (i32/i64/u8).
/// Fused log-softmax + NLL: the backward is (softmax - onehot) / B. A label out of range is
/// a ValueError naming it.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

/// Mean negative log-likelihood of log-probabilities (B, C) against integer labels (B).
Tensor nll_loss(const Tensor& log_probs, const Tensor& labels);

/// Mean squared error, mean over all elements; shapes must match.
Tensor mse_loss(const Tensor& prediction, const Tensor& target);

/// Layer normalisation over the trailing dims `normalized_shape` of x:
/// y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance, as
/// torch.nn.functional.layer_norm. weight and bias (of shape normalized_shape) may be undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

/// In training, zeroes each element with probability p (mask from the global generator) and
/// scales the rest by 1/(1-p); otherwise returns x. p outside [0, 1) is a ValueError.
Tensor dropout(const Tensor& x, double p, bool training = true);

}  // namespace dm::nn
