#pragma once
// What a dm::Model holds. Shared by the files that implement Model (training, checkpoints).
#include <memory>
#include <vector>

#include "democratising/model.hpp"
#include "democratising/sync.hpp"

namespace dm {

struct Model::State {
  std::shared_ptr<nn::Module> module;
  LossFn loss;
  std::shared_ptr<optim::Optimizer> optimizer;
  // Views of the module's flat parameter buffer, in named_parameters() order.
  nn::NamedTensors params;
  std::vector<Tensor> param_tensors;
  // Readers: forward + backward, evaluation, saving. Writer: optimizer steps, loading. A
  // writer-preferring lock, so a stream of training threads cannot starve the updates.
  mutable WriterPreferringMutex mutex;
};

}  // namespace dm
