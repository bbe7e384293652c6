#pragma once
// Where dm's training steps and evaluations run. On the CPU: synchronous data-parallel steps on
// the pool (DataParallel) and Model::evaluate. On a GPU: the model placed on that device as a
// one-stage ModelParallel, which copies each batch over and the trained values back.
#include <cstdint>
#include <memory>

#include "democratising/data/dataloader.hpp"
#include "democratising/model/data_parallel.hpp"
#include "democratising/base/device.hpp"
#include "democratising/model/model.hpp"

namespace dm {
class ModelParallel;
}

namespace dm::cli {

class Placement {
 public:
  /// `model` must outlive this object. On a GPU its parameters are copied there now (a
  /// DeviceError when that fails), with the optimizer's state (a resumed run's included).
  Placement(Model& model, Device device, DataParallelOptions options);
  ~Placement();
  Placement(const Placement&) = delete;
  Placement& operator=(const Placement&) = delete;

  /// One optimizer step on the batch (host tensors); returns the batch's mean loss. A non-finite
  /// loss (or, on the CPU, gradient) is handled by options.non_finite.
  double train_step(const Tensor& x, const Tensor& y);
  /// Mean loss and accuracy over the loader, in evaluation mode, on the device.
  EvalResult evaluate(const data::DataLoader& loader);
  /// Makes the model's own (host) parameters hold the trained values, e.g. before a checkpoint.
  void sync_to_model();
  /// Steps skipped for a non-finite loss or gradient so far.
  std::int64_t skipped_steps() const;
  Device device() const { return device_; }

 private:
  Model* model_;
  Device device_;
  DataParallelOptions options_;
  std::unique_ptr<DataParallel> cpu_;
  std::unique_ptr<ModelParallel> gpu_;
  std::int64_t gpu_skipped_ = 0;
};

}  // namespace dm::cli
