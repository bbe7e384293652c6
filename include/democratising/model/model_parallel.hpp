#pragma once
// dm::ModelParallel: a Sequential split into pipeline stages, one stage per device.
//
//   dm::ModelParallel mp(model, dm::Device::cuda_all());   // or {Device::cpu(0), Device::cpu(1)}
//   mp.forward(x);   // every micro-batch flows stage to stage (GPipe)
//   mp.backward(y);  // loss, then every micro-batch's gradient flows back; gradients accumulate
//   mp.step();       // the model's optimizer updates every stage, then gradients are cleared
//
// Each stage runs on its own worker thread, so stage s works on micro-batch m+1 while stage
// s+1 works on micro-batch m; the ops inside a stage still run in parallel on the pool.
// Activations and gradients cross from one stage's device to the next with Tensor::to(Device).
// The loss must be a mean over the batch (as nn::cross_entropy and nn::mse_loss are): each
// micro-batch's loss is weighted by its share of the batch, so the accumulated gradients are
// the full batch's gradient and training matches single-device training.
// One thread at a time drives a ModelParallel (its stages are the concurrency).
//
// Stages are runs of the Sequential's layers, so only a Sequential (or a class derived from
// one) can be split: a model written as a Module of one's own becomes pipelined by making it a
// Sequential of blocks (each block, e.g. an nn::Residual or a Module subclass, stays whole on
// one stage). Any other module is a ValueError, and so is a parameter that a Sequential
// subclass registers outside its layers.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "democratising/base/device.hpp"
#include "democratising/model/model.hpp"

namespace dm {

/// How ModelParallel cuts batches and the model.
struct ModelParallelOptions {
  /// Micro-batches per batch (a batch smaller than this is split into one-sample micro-batches).
  /// A model with batch norm needs 1: more would normalise each micro-batch by its own statistics.
  int micro_batches = 4;
  /// Layer indices where stages 1, 2, ... begin (one fewer than there are devices, strictly
  /// increasing, each in 1..layers-1). Empty: stages balanced by parameter count.
  std::vector<std::size_t> split_points = {};
  /// What step() does when the loss of the backward() calls before it or a gradient is not finite.
  NonFinitePolicy non_finite = NonFinitePolicy::raise;
};

/// One unit of pipeline work, as recorded for schedule().
struct PipelineEvent {
  /// Which pass the work belonged to.
  enum class Phase : unsigned char { forward, backward };
  /// The pass.
  Phase phase = Phase::forward;
  /// The pipeline stage that did the work.
  std::size_t stage = 0;
  /// The micro-batch it worked on.
  std::size_t micro_batch = 0;
  /// @name Order
  //@{
  /// Positions in one counter shared by all stages: `begin` taken when the work started, `end`
  /// when it finished, so begin(b) > end(a) means b started after a had finished.
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  //@}
  /// The thread that ran it.
  std::thread::id worker;
};

/// A Sequential split into pipeline stages, one per device, trained with the GPipe schedule (see the file comment).
class ModelParallel {
 public:
  /// Splits `model`'s module (which must be an nn::Sequential) into one stage per device and
  /// places each stage's parameters on its device; `model` must outlive this object. The
  /// model's optimizer is bound to the placed parameters, its state (momentum, moments, step
  /// counts) moved with them, and the stages' buffers go with their layers. Throws
  /// ValueError for an empty device list, more devices than layers, bad split points, a
  /// module that is not a Sequential, or a parameter outside the Sequential's layers.
  ModelParallel(Model& model, std::vector<Device> devices, ModelParallelOptions options = {});
  /// Copies the trained values back into the model and gives it back its parameters.
  ~ModelParallel();
  ModelParallel(const ModelParallel&) = delete;
  ModelParallel& operator=(const ModelParallel&) = delete;

  /// Runs the batch through the pipeline in micro-batches; returns the output (on the last
  /// stage's device). The graph is kept for backward().
  Tensor forward(const Tensor& x);
  /// The loss of the last forward()'s output against `y` (same batch size), back-propagated
  /// through every stage; gradients add to those of earlier backward() calls until step().
  /// Returns the batch's loss (0-d, on the last stage's device).
  Tensor backward(const Tensor& y);
  /// One optimizer step over every stage's parameters, then clears their gradients. A
  /// non-finite loss or gradient is handled by options.non_finite, before any update.
  void step();
  /// Steps step() skipped for a non-finite loss or gradient (NonFinitePolicy::skip).
  std::int64_t skipped_steps() const;

  /// Copies the parameters' current values into the model's own buffer (also done on destruction).
  void sync_to_model();

  /// The layer range [first, last) of each stage.
  std::vector<std::pair<std::size_t, std::size_t>> stages() const;
  /// The devices of the stages, in order.
  const std::vector<Device>& devices() const;
  /// The parameters as placed on the stages, by the model's names.
  const nn::NamedTensors& parameters() const;
  /// Every forward and backward unit of the last forward()/backward() calls, in the order they finished.
  std::vector<PipelineEvent> schedule() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dm
