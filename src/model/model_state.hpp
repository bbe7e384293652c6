#pragma once
// What a dm::Model holds. Shared by the files that implement Model (training, checkpoints).
#include <atomic>
#include <memory>
#include <vector>

#include "democratising/model/model.hpp"
#include "democratising/runtime/sync.hpp"

namespace dm {

struct Model::State {
  std::shared_ptr<nn::Module> module;
  LossFn loss;
  std::shared_ptr<optim::Optimizer> optimizer;
  NonFinitePolicy non_finite = NonFinitePolicy::raise;
  double clip_grad_norm = 0.0;
  std::atomic<std::int64_t> skipped_steps{0};
  // The module's flat parameter block and its layout; made once, when the model is.
  Tensor flat;
  std::shared_ptr<const nn::ParameterLayout> layout;
  // Views of `flat`, in layout order.
  nn::NamedTensors params;
  std::vector<Tensor> param_tensors;
  // Readers: forward + backward, evaluation, saving. Writer: optimizer steps, loading, and
  // Parameters handles on `flat` (which share it). A writer-preferring lock, so a stream of
  // training threads cannot starve the updates.
  std::shared_ptr<WriterPreferringMutex> mutex = std::make_shared<WriterPreferringMutex>();
};

}  // namespace dm
