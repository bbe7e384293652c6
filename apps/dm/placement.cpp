#include "placement.hpp"

#include <cmath>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/model/model_parallel.hpp"

namespace dm::cli {

Placement::Placement(Model& model, Device device, DataParallelOptions options)
    : model_(&model), device_(device), options_(options) {
  if (device.is_cpu()) {
    cpu_ = std::make_unique<DataParallel>(model, options);
  } else {
    // One stage holding every layer: the whole batch goes through at once.
    gpu_ = std::make_unique<ModelParallel>(model, std::vector<Device>{device}, ModelParallelOptions{.micro_batches = 1});
  }
}

Placement::~Placement() = default;

double Placement::train_step(const Tensor& x, const Tensor& y) {
  if (cpu_) return cpu_->train_step(x, y).item<double>();
  gpu_->forward(x);
  const double loss = gpu_->backward(y).to(Device::cpu()).item<double>();
  // Only the loss is checked here: the device's gradients stay where they are.
  if (!std::isfinite(loss)) {
    if (options_.non_finite == NonFinitePolicy::raise)
      throw NonFiniteStepError("the loss is " + std::to_string(loss) + ": the run diverged");
    model_->optimizer().zero_grad();
    ++gpu_skipped_;
    return loss;
  }
  gpu_->step();
  return loss;
}

EvalResult Placement::evaluate(const data::DataLoader& loader) {
  if (cpu_) return model_->evaluate(loader);
  // The stages run on their own threads, where a caller's guards do not reach: the module's
  // own mode switches Dropout off, and each forward pass replaces the last one's graph.
  model_->module().eval();
  struct Restore {
    Model* model;
    ~Restore() { model->module().train(); }
  } restore{model_};
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  EvalResult result;
  for (const Batch& batch : loader) {
    const Tensor output = gpu_->forward(batch.x);
    const std::int64_t n = batch.x.size(0);
    NoGradGuard no_grad;
    loss_sum += model_->loss_fn()(output, batch.y.to(output.device())).to(Device::cpu()).item<double>() *
                static_cast<double>(n);
    const std::vector<std::int64_t> predicted = output.argmax(1).to(Device::cpu()).to_vector<std::int64_t>();
    const std::vector<std::int64_t> labels = batch.y.to(DType::i64).to_vector<std::int64_t>();
    for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == labels[i];
    result.samples += n;
  }
  if (result.samples > 0) {
    result.loss = loss_sum / static_cast<double>(result.samples);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(result.samples);
  }
  return result;
}

void Placement::sync_to_model() {
  if (gpu_) gpu_->sync_to_model();
}

std::int64_t Placement::skipped_steps() const { return cpu_ ? cpu_->skipped_steps() : gpu_skipped_; }

}  // namespace dm::cli
