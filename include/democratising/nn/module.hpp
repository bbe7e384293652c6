#pragma once
// nn::Module: a differentiable function with named parameters.
//
// forward() is const and may run on many threads at once (each thread records its own graph);
// parameters are leaf tensors that require grad. A finished model keeps all its parameters in
// one contiguous buffer with a view per parameter, described by one ParameterLayout (see
// flatten_parameters), so optimizers, all-reduce and checkpoints each make one pass over one block.
// Buffers are state that forward() keeps and no optimizer trains (batch norm's running
// statistics): no grad, not in the flat parameter block, saved in checkpoints; each module
// guards its own with a lock (see with_buffer_lock).
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "democratising/nn/parameter_layout.hpp"
#include "democratising/core/tensor.hpp"

namespace dm::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// A differentiable function with named parameters (see the file comment). Derive from it,
/// register parameters in the constructor, and write forward() and name().
class Module {
 public:
  virtual ~Module() = default;

  /// The layer's computation. Thread-safe: modules hold no per-call state, and the buffers
  /// a training forward updates are updated under their module's lock.
  virtual Tensor forward(const Tensor& x) const = 0;
  /// Same as forward(x).
  Tensor operator()(const Tensor& x) const { return forward(x); }

  /// Parameters by dotted name ("0.weight", "0.bias", "2.weight"...), in registration order.
  NamedTensors named_parameters() const;
  /// The parameters, in registration order.
  std::vector<Tensor> parameters() const;
  /// The number of parameter values, children included.
  std::int64_t num_parameters() const;

  /// Buffers by dotted name ("1.running_mean"...), children included, in registration order.
  /// Each is a copy taken under its module's buffer lock, so a training forward() on another
  /// thread never shows half an update.
  NamedTensors named_buffers() const;
  /// Overwrites the buffer called `name` (dotted path) with `value`'s data (same shape; the
  /// dtype is converted), under its module's buffer lock. Throws ValueError for an unknown
  /// name, ShapeError for a different shape.
  void load_buffer(const std::string& name, const Tensor& value);
  /// Makes the buffer called `name` (dotted path) the tensor `value` itself (same shape and
  /// dtype; any device), under its module's buffer lock: how a pipeline stage takes its layers'
  /// running statistics to its device. Throws ValueError for an unknown name,
  /// ShapeError/DTypeError for a different shape/dtype.
  void replace_buffer(const std::string& name, Tensor value);

  /// Whether forward() in training mode normalises with statistics over the samples of its
  /// batch (batch norm), in this module or a child. Such a model's result depends on how a batch
  /// is cut, so DataParallel gives it each batch whole and the DDP trainer refuses it.
  virtual bool uses_batch_statistics() const;

  /// Training mode (Dropout active) or evaluation mode; applies to children too.
  void train(bool on = true);
  /// Same as train(false).
  void eval() { train(false); }
  /// The module's mode, unless an EvalModeGuard is alive on the calling thread (then false).
  bool is_training() const;

  /// A short description, e.g. "Dense(784 -> 128)".
  virtual std::string name() const = 0;

  /// Overwrites the parameter called `name` (dotted path) with `value`'s data (same shape; the
  /// dtype is converted). The parameter keeps its storage, so a flat buffer stays intact.
  /// Throws ValueError for an unknown name, ShapeError for a different shape.
  void load_parameter(const std::string& name, const Tensor& value);

  /// Makes the parameter called `name` (dotted path) the tensor `value` itself (same shape and
  /// dtype; any device), e.g. a copy placed on a pipeline stage's device; it becomes a leaf that
  /// requires grad. flat_parameters() keeps naming the old buffer. Throws ValueError for an
  /// unknown name, ShapeError/DTypeError for a different shape/dtype.
  void replace_parameter(const std::string& name, Tensor value);

  /// Moves every parameter into one contiguous buffer of their common dtype, laid out by a
  /// new ParameterLayout, and returns it; each parameter becomes a leaf view of it with its
  /// values and requires_grad kept. Called by Sequential::build(); idempotent. Mixed parameter
  /// dtypes are a DTypeError.
  Tensor flatten_parameters();
  /// The flat buffer, if flatten_parameters() ran (else undefined).
  const Tensor& flat_parameters() const { return flat_; }
  /// The layout of flat_parameters(), if flatten_parameters() ran (else null).
  const std::shared_ptr<const ParameterLayout>& parameter_layout() const { return layout_; }

 protected:
  /// Registers a parameter (marks it requires_grad) and returns a reference to the stored
  /// handle, valid until the next registration. Layers that keep a parameter use its index:
  /// the n-th registration is parameter(n), which survives copies and moves of the module.
  Tensor& register_parameter(const std::string& name, Tensor value);
  /// The parameter registered `index`-th by this module (not its children).
  const Tensor& parameter(std::size_t index) const { return params_[index].second; }
  /// Registers a child module; its parameters appear as "<name>.<parameter>".
  void register_module(const std::string& name, std::shared_ptr<Module> child);
  /// Registers a buffer (it never requires grad) and returns a reference to the stored handle,
  /// valid until the next registration; the n-th registration is buffer(n).
  Tensor& register_buffer(const std::string& name, Tensor value);
  /// The buffer registered `index`-th by this module (not its children). Read or update it only
  /// inside with_buffer_lock: forward() may run on several threads at once.
  const Tensor& buffer(std::size_t index) const { return buffers_[index].second; }
  /// Runs fn holding this module's buffer lock (shared by copies of the module, which share its
  /// buffers' storage). fn runs isolated (detail::isolated): while it waits for the pool it
  /// never starts another forward() that would ask for the same lock.
  void with_buffer_lock(const std::function<void()>& fn) const;

 private:
  void collect(const std::string& prefix, NamedTensors& out) const;
  void collect_slots(std::vector<Tensor*>& out);
  void forget_flat_buffers();
  std::vector<Tensor*> parameter_slots();

  void collect_buffers(const std::string& prefix, NamedTensors& out) const;
  const Module* owner_of_buffer(const std::string& name, std::size_t* index) const;

  NamedTensors params_;
  NamedTensors buffers_;
  std::shared_ptr<std::mutex> buffer_mutex_ = std::make_shared<std::mutex>();
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  Tensor flat_;
  std::shared_ptr<const ParameterLayout> layout_;
};

/// Puts every module into evaluation mode for the calling thread only, for its lifetime,
/// without touching the modules (other threads may be training the same model meanwhile).
class EvalModeGuard {
 public:
  EvalModeGuard();
  ~EvalModeGuard();
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace dm::nn
