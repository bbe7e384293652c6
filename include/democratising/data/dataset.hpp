#pragma once
// Datasets hand out whole batches: one virtual call per batch rather than per sample keeps
// the gathering a few large memcpys that can run in parallel.
#include <cstdint>
#include <vector>

#include "democratising/data/batch.hpp"
#include "democratising/core/tensor.hpp"

namespace dm::data {

/// A random-access collection of samples. get_batch must be safe to call from several
/// threads at once (the loaders call it from the pool).
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of samples.
  virtual std::int64_t size() const = 0;
  /// The samples `indices` (each in [0, size())), stacked along a new first dim.
  virtual Batch get_batch(const std::vector<std::int64_t>& indices) const = 0;
  /// One sample without the batch dim: x (...), y (...).
  Batch get(std::int64_t index) const;
};

/// Samples are the rows (first dim) of x and y, which must have the same number of rows.
class TensorDataset : public Dataset {
 public:
  /// Throws ShapeError when x or y is 0-d or their first dims differ.
  TensorDataset(Tensor x, Tensor y);
  std::int64_t size() const override;
  Batch get_batch(const std::vector<std::int64_t>& indices) const override;

  /// All inputs, (N, ...).
  const Tensor& x() const { return x_; }
  /// All targets, (N, ...).
  const Tensor& y() const { return y_; }

 private:
  Tensor x_, y_;  // contiguous CPU tensors
};

/// Copies the rows `indices` of src (first dim) into a new contiguous tensor of shape
/// (indices.size(), src.shape[1:]), in parallel for large batches. Throws ShapeError for an
/// index out of range, DeviceError for a non-CPU tensor.
Tensor gather_rows(const Tensor& src, const std::vector<std::int64_t>& indices);

}  // namespace dm::data
