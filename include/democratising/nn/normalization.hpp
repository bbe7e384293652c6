#pragma once
// Batch and group normalisation over (N, C, ...) input: the ops (differentiable with respect to
// x, weight and bias, one autograd node each with a fused backward) and the layers.
//
// Batch norm in training mode normalises each channel with the statistics of the whole batch,
// so one sample's output depends on the others: a trainer that cut the batch into shards would
// change the result. Model, DataParallel and the gradient step therefore give a model that
// uses_batch_statistics() each batch whole (the ops inside are parallel on the pool by
// themselves), and the DDP trainer shares the statistics between its ranks
// (democratising/nn/batch_statistics.hpp). Group norm's statistics are per sample, so it has no
// such constraint.
#include <cstdint>
#include <string>

#include "democratising/core/tensor.hpp"
#include "democratising/nn/module.hpp"

namespace dm::nn {

/// torch.nn.functional.batch_norm: x (N, C, *) normalised per channel,
/// y = (x - mean) / sqrt(var + eps) * weight + bias. In training, mean and the biased var come
/// from the batch (over N and the trailing dims), and running_mean / running_var (C), when
/// defined, are updated in place: running = (1 - momentum) * running + momentum * batch, with
/// the unbiased batch variance, as PyTorch does (an in-place update: the caller's to
/// synchronise; the BatchNorm layers do it under their lock). Otherwise the running statistics
/// are used and must be defined. weight and bias (C) may be undefined. ShapeError naming the
/// shapes for a wrong channel count, and for one value per channel in training.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5);

/// torch.nn.functional.group_norm: the C channels of x (N, C, *) split into `groups` groups of
/// C / groups channels; each sample's group is normalised with its own mean and biased variance,
/// then scaled and shifted per channel by weight and bias (C, each may be undefined).
/// ShapeError when groups does not divide C or the affine shapes do not match.
Tensor group_norm(const Tensor& x, std::int64_t groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);

/// Batch normalisation with learnable scale ("weight", ones) and shift ("bias", zeros) and the
/// buffers "running_mean" (zeros), "running_var" (ones) and "num_batches_tracked" (i64), as
/// torch.nn.BatchNorm1d/2d with affine and track_running_stats. In training mode forward()
/// normalises with the batch's statistics and updates the running ones; in evaluation mode
/// (eval(), or an EvalModeGuard on the calling thread) it uses the running ones.
///
/// forward() may run on several threads at once: each call computes its batch's statistics
/// without a lock, then takes the layer's buffer lock only to fold them into the running
/// statistics (and to read those in evaluation mode), so every update is whole and none is lost.
/// With concurrent training calls the updates land in the order the calls take the lock.
class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& x) const override;
  std::string name() const override;
  /// Always true: training mode normalises with the batch's statistics.
  bool uses_batch_statistics() const override { return true; }
  /// The learned scale, (C).
  const Tensor& weight() const { return parameter(0); }
  /// The learned shift, (C).
  const Tensor& bias() const { return parameter(1); }
  /// The number of channels C.
  std::int64_t num_features() const { return features_; }
  /// The value added to the variance.
  double eps() const { return eps_; }
  /// The weight of a batch's statistics in the running ones.
  double momentum() const { return momentum_; }

 protected:
  /// `layer` names it in messages; inputs must have between min_dim and max_dim dims, as
  /// `input_form` ("(N, C, H, W)") says.
  BatchNorm(const char* layer, const char* input_form, int min_dim, int max_dim, std::int64_t num_features,
            double eps, double momentum, DType dtype);

 private:
  const char* layer_;
  const char* input_form_;
  int min_dim_, max_dim_;
  std::int64_t features_;
  double eps_, momentum_;
};

/// Batch normalisation of (N, C) or (N, C, L) input, see BatchNorm.
class BatchNorm1d : public BatchNorm {
 public:
  /// Over `num_features` channels, with eps added to the variance and running statistics moved
  /// by `momentum` per training batch; parameters and running statistics of `dtype`.
  explicit BatchNorm1d(std::int64_t num_features, double eps = 1e-5, double momentum = 0.1,
                       DType dtype = DType::f32)
      : BatchNorm("BatchNorm1d", "(N, C) or (N, C, L)", 2, 3, num_features, eps, momentum, dtype) {}
};

/// Batch normalisation of (N, C, H, W) input, see BatchNorm.
class BatchNorm2d : public BatchNorm {
 public:
  /// As BatchNorm1d, for images.
  explicit BatchNorm2d(std::int64_t num_features, double eps = 1e-5, double momentum = 0.1,
                       DType dtype = DType::f32)
      : BatchNorm("BatchNorm2d", "(N, C, H, W)", 4, 4, num_features, eps, momentum, dtype) {}
};

/// Group normalisation of (N, C, *) input with learnable per-channel scale ("weight", ones) and
/// shift ("bias", zeros), as torch.nn.GroupNorm; see nn::group_norm. No buffers, and the same in
/// training and evaluation mode.
class GroupNorm : public Module {
 public:
  /// `num_groups` groups over `num_channels` channels (ShapeError unless it divides them).
  GroupNorm(std::int64_t num_groups, std::int64_t num_channels, double eps = 1e-5, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const override;
  std::string name() const override;
  /// The learned scale, (C).
  const Tensor& weight() const { return parameter(0); }
  /// The learned shift, (C).
  const Tensor& bias() const { return parameter(1); }

 private:
  std::int64_t groups_, channels_;
  double eps_;
};

}  // namespace dm::nn
