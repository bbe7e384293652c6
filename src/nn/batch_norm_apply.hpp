#pragma once
// batch_norm split in two, so that the BatchNorm layers can compute a batch's statistics
// without a lock and hold their buffer lock only while folding them into the running ones.
#include "democratising/core/tensor.hpp"

namespace dm::nn::detail {

struct BatchNormResult {
  Tensor y;
  /// Training only: the batch's mean and unbiased variance (C), in the compute dtype.
  Tensor batch_mean, batch_var;
};

/// nn::batch_norm without the running update: checks (messages start with "[op]"), the
/// forward kernel and the autograd node. In training the running statistics are not read and
/// may be undefined.
BatchNormResult batch_norm_apply(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                                 const Tensor& weight, const Tensor& bias, bool training, double eps, const char* op);

/// running = (1 - momentum) * running + momentum * batch, for the mean and the variance;
/// each running tensor may be undefined (then left alone).
void update_running_stats(const Tensor& running_mean, const Tensor& running_var, const BatchNormResult& batch,
                          double momentum);

}  // namespace dm::nn::detail
