#pragma once
// dm::Model = module + loss + optimizer.
//
// train_step, compute_gradients and apply_gradients are safe to call from many threads at
// once (asynchronous, Hogwild-style SGD): the forward and backward passes hold the parameters'
// read lock, each on its own thread-local graph; an update holds the write lock.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "democratising/autograd.hpp"
#include "democratising/nn/module.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/optim/optimizer.hpp"

namespace dm {

using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;

struct ModelOptions {
  /// Default: nn::cross_entropy.
  LossFn loss = {};
  /// Default: SGD with lr 0.05 and momentum 0.9.
  std::shared_ptr<optim::Optimizer> optimizer = nullptr;
};

/// Gradients by parameter name, as views of one flat buffer in the parameters' layout.
struct Gradients {
  nn::NamedTensors tensors;
  Tensor flat;
  /// Throws ValueError for an unknown name.
  const Tensor& operator[](const std::string& name) const;
};

/// How checkpoints treat parameters or optimizer state that hold NaN or infinity (a run that
/// diverged): by default saving refuses to replace a file with them and loading refuses them,
/// each with a ValueError naming the tensor; allow_non_finite lets them through (for debugging).
struct CheckpointOptions {
  bool allow_non_finite = false;
};

struct EvalResult {
  double loss = 0.0;      // mean over samples
  double accuracy = 0.0;  // fraction of argmax(output) == label
  std::int64_t samples = 0;
};

class Model;

/// One pass of Model::evaluate: grad off and evaluation mode on for this thread while it lives
/// (other threads may keep training the same model), loss and hits summed batch by batch.
class Evaluation {
 public:
  explicit Evaluation(const Model& model) : model_(model) {}
  void add(const Tensor& x, const Tensor& y);
  EvalResult result() const;

 private:
  const Model& model_;
  NoGradGuard no_grad_;
  nn::EvalModeGuard eval_;
  double loss_sum_ = 0.0;
  std::int64_t correct_ = 0;
  std::int64_t samples_ = 0;
};

class Model {
 public:
  explicit Model(std::shared_ptr<nn::Module> module, ModelOptions options = {});
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  /// Forward, loss, backward and one optimizer step; returns the loss (a 0-d tensor).
  Tensor train_step(const Tensor& x, const Tensor& y);
  /// Forward, loss and backward only; the loss goes to *loss when given.
  Gradients compute_gradients(const Tensor& x, const Tensor& y, Tensor* loss = nullptr) const;
  /// One optimizer step with these gradients.
  void apply_gradients(const Gradients& grads);
  /// Mean loss and accuracy over every batch of `batches` (a data::DataLoader, or any range of
  /// batches with tensors .x and .y), in evaluation mode, without grad. A template so that the
  /// model layer needs nothing from the data layer above it.
  template <class Batches>
  EvalResult evaluate(const Batches& batches) const {
    Evaluation run(*this);
    for (const auto& batch : batches) run.add(batch.x, batch.y);
    return run.result();
  }
  /// The module's output in evaluation mode, without grad.
  Tensor predict(const Tensor& x) const;

  nn::Module& module() const;
  optim::Optimizer& optimizer() const;
  void set_optimizer(std::shared_ptr<optim::Optimizer> optimizer);
  const LossFn& loss_fn() const;

  /// Saves parameters and optimizer state as safetensors (temporary file, fsync, rename), with
  /// `metadata` stored alongside. load_checkpoint restores both and returns the metadata; a file
  /// whose names or shapes do not match this model is a FormatError. Non-finite values: see
  /// CheckpointOptions.
  void save_checkpoint(const std::string& path, const std::map<std::string, std::string>& metadata = {},
                       CheckpointOptions options = {}) const;
  std::map<std::string, std::string> load_checkpoint(const std::string& path, CheckpointOptions options = {});

 private:
  friend class Evaluation;
  struct State;
  std::unique_ptr<State> state_;
};

/// Sequential::build(): the builder's last step, which flattens the network's parameters into
/// one buffer and makes a Model of it.
template <>
struct nn::Finish<nn::Sequential> {
  using Options = ModelOptions;
  static Model make(nn::Sequential&& network, const ModelOptions& options);
};

}  // namespace dm
