#pragma once
// dm::Model = module + loss + optimizer.
//
// train_step, compute_gradients and apply_gradients are safe to call from many threads at
// once (asynchronous, Hogwild-style SGD): the forward and backward passes hold the parameters'
// read lock, each on its own thread-local graph; an update holds the write lock.
//
// The parameters live in one block laid out by the module's nn::ParameterLayout; gradients,
// the optimizer's state, checkpoints and parameters() share that layout.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/module.hpp"
#include "democratising/nn/parameter_layout.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/optim/optimizer.hpp"
#include "democratising/model/parameters.hpp"

namespace dm {

using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;

/// What a trainer's step does when the loss or a gradient holds NaN or infinity (a run that
/// diverged): raise a NonFiniteStepError, or skip the step. Either way the parameters are left
/// as they were. Every trainer (Model, DataParallel, the DDP trainer, ModelParallel) applies it.
enum class NonFinitePolicy { raise, skip };

/// A step refused because its loss or a gradient is not finite (a ValueError, so a caller can
/// tell it from the others and say what to do about it).
class NonFiniteStepError : public ValueError {
 public:
  using ValueError::ValueError;
};

/// The loss and optimizer of a Model.
struct ModelOptions {
  /// Default: nn::cross_entropy.
  LossFn loss = {};
  /// Default: SGD with lr 0.05 and momentum 0.9.
  std::shared_ptr<optim::Optimizer> optimizer = nullptr;
  /// What train_step does with a non-finite loss or gradient.
  NonFinitePolicy non_finite = NonFinitePolicy::raise;
  /// Before every update, scale the gradients so that their global L2 norm is at most this
  /// (optim::clip_grad_norm, after the non-finite check); 0: no clipping. Every trainer applies
  /// it to the gradient it steps with (DataParallel's and the DDP trainer's reduced one, the
  /// parameter server's update, the pipeline's accumulated one). Negative or not finite: a
  /// ValueError when the Model is made.
  double clip_grad_norm = 0.0;
};

/// Gradients by parameter name, as views of one flat buffer in the parameters' layout.
struct Gradients {
  /// One view of `flat` per parameter, by the parameter's name.
  nn::NamedTensors tensors;
  /// Every gradient in one contiguous buffer, in the parameters' layout.
  Tensor flat;
  /// The layout of `flat`, when it came from a model (null for gradients assembled by hand).
  std::shared_ptr<const nn::ParameterLayout> layout;
  /// Throws ValueError for an unknown name.
  const Tensor& operator[](const std::string& name) const;
};

/// How checkpoints treat parameters or optimizer state that hold NaN or infinity (a run that
/// diverged): by default saving refuses to replace a file with them and loading refuses them,
/// each with a ValueError naming the tensor; allow_non_finite lets them through (for debugging).
struct CheckpointOptions {
  /// Let NaN and infinity through.
  bool allow_non_finite = false;
  /// Tensors a trainer keeps beside the model (the DDP trainer's compression residuals), stored
  /// under "extra.<name>": save_checkpoint writes these, load_checkpoint replaces the contents
  /// with the file's. Null: none are written, and loading passes over any the file holds.
  nn::NamedTensors* extra = nullptr;
};

/// What Model::evaluate measured.
struct EvalResult {
  double loss = 0.0;      ///< mean over samples
  double accuracy = 0.0;  ///< fraction of argmax(output) == label
  /// How many samples were evaluated.
  std::int64_t samples = 0;
};

class Model;

/// One pass of Model::evaluate: grad off and evaluation mode on for this thread while it lives
/// (other threads may keep training the same model), loss and hits summed batch by batch.
class Evaluation {
 public:
  /// Starts evaluating `model` on this thread.
  explicit Evaluation(const Model& model) : model_(model) {}
  /// Adds one batch's loss and hits.
  void add(const Tensor& x, const Tensor& y);
  /// The mean loss and accuracy over the batches added so far.
  EvalResult result() const;

 private:
  const Model& model_;
  NoGradGuard no_grad_;
  nn::EvalModeGuard eval_;
  double loss_sum_ = 0.0;
  std::int64_t correct_ = 0;
  std::int64_t samples_ = 0;
};

/// A network, a loss and an optimizer together: training steps, evaluation, checkpoints (see the file comment).
class Model {
 public:
  /// Wraps `module` (its parameters are moved into one flat buffer) and binds the optimizer to them.
  explicit Model(std::shared_ptr<nn::Module> module, ModelOptions options = {});
  ~Model();
  /// Models move; they do not copy.
  Model(Model&&) noexcept;
  /// Models move; they do not copy.
  Model& operator=(Model&&) noexcept;

  /// Forward, loss, backward and one optimizer step; returns the loss (a 0-d tensor). A
  /// non-finite loss or gradient is handled by the options' non_finite policy, before any update.
  Tensor train_step(const Tensor& x, const Tensor& y);
  /// Forward, loss and backward only; the loss goes to *loss when given.
  Gradients compute_gradients(const Tensor& x, const Tensor& y, Tensor* loss = nullptr) const;
  /// One optimizer step with these gradients; with ModelOptions::clip_grad_norm set, they are
  /// first clipped in place (so `grads` holds what was applied).
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

  /// The layout of the parameters' block, shared by the gradients, the optimizer and checkpoints.
  const std::shared_ptr<const nn::ParameterLayout>& parameter_layout() const;
  /// A Parameters handle on this model's own block (f32; DTypeError otherwise): its updates
  /// write the model's parameters under the model's write lock, its reads take the read lock,
  /// so they interleave safely with train_step on other threads. Valid beyond the model's life.
  Parameters parameters() const;
  /// Steps train_step skipped for a non-finite loss or gradient (NonFinitePolicy::skip).
  std::int64_t skipped_steps() const;
  /// The global norm gradients are clipped to before each update (0: none), see ModelOptions.
  double clip_grad_norm() const;

  /// The network.
  nn::Module& module() const;
  /// The optimizer (bound to the network's parameters).
  optim::Optimizer& optimizer() const;
  /// Binds `optimizer` to the parameters and uses it from now on; its state starts afresh.
  void set_optimizer(std::shared_ptr<optim::Optimizer> optimizer);
  /// The loss function.
  const LossFn& loss_fn() const;

  /// Saves parameters and optimizer state as safetensors (temporary file, fsync, rename), with
  /// `metadata` stored alongside. load_checkpoint restores both and returns the metadata; a file
  /// whose names or shapes do not match this model is a FormatError. Non-finite values: see
  /// CheckpointOptions.
  void save_checkpoint(const std::string& path, const std::map<std::string, std::string>& metadata = {},
                       CheckpointOptions options = {}) const;
  /// Restores what save_checkpoint wrote and returns its metadata (see above).
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
  /// What build() takes: the Model's options.
  using Options = ModelOptions;
  /// The Model of `network` with `options`.
  static Model make(nn::Sequential&& network, const ModelOptions& options);
};

}  // namespace dm
