#pragma once
// Optimizers update parameters in place from gradients, under NoGradGuard.
//
// A Model binds its optimizer to its parameters once, with their nn::ParameterLayout: the
// optimizer's state is then laid out the same way, and when the gradients come as one block in
// that layout too, a step is one fused pass over parameters, gradients and state.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "democratising/nn/module.hpp"
#include "democratising/nn/parameter_layout.hpp"

namespace dm::optim {

/// Updates bound parameters in place from their gradients; SGD, Adam and AdamW derive from it.
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  /// Binds the parameters to update (in this order); resets the state. With a layout, the
  /// parameters are its views of one block (a model's) and the state is allocated in the same
  /// layout; ValueError when the layout does not describe them.
  virtual void bind(const nn::NamedTensors& parameters, std::shared_ptr<const nn::ParameterLayout> layout = nullptr);
  /// One update with grads[i] for parameter i (same shapes; undefined = no gradient).
  virtual void step(const std::vector<Tensor>& grads) = 0;
  /// One update using each parameter's accumulated grad().
  void step();
  /// The bound parameters, in order.
  const nn::NamedTensors& parameters() const { return params_; }
  /// Their layout, when bound with one (else null).
  const std::shared_ptr<const nn::ParameterLayout>& layout() const { return layout_; }
  /// Clears each bound parameter's grad().
  void zero_grad();

  /// The learning rate of the next step.
  double lr() const { return lr_; }
  /// Sets the learning rate (a schedule calls this before each step).
  void set_lr(double lr) { lr_ = lr; }
  /// Steps taken so far.
  std::int64_t steps() const { return steps_; }

  /// State for checkpoints, as copies: "step" (i64, one count per parameter, as torch keeps
  /// them: a parameter without a gradient in a step does not advance), then per parameter
  /// "momentum_buffer.<param>" (SGD with momentum) or "exp_avg.<param>" and
  /// "exp_avg_sq.<param>" (Adam). load_state is the inverse; it throws FormatError naming what
  /// is missing or mis-shaped, and ignores names it does not know.
  virtual nn::NamedTensors state() const = 0;
  /// Restores what state() returned (see above).
  virtual void load_state(const nn::NamedTensors& state) = 0;
  /// "sgd", "adam" or "adamw".
  virtual std::string name() const = 0;

 protected:
  /// Starts with learning rate `lr`.
  explicit Optimizer(double lr) : lr_(lr) {}
  /// The bound parameters.
  nn::NamedTensors params_;
  /// The parameters' layout (null when bound without one).
  std::shared_ptr<const nn::ParameterLayout> layout_;
  /// The learning rate.
  double lr_;
  /// Steps taken.
  std::int64_t steps_ = 0;
  /// Steps each bound parameter has taken (bind() sizes and zeroes it).
  std::vector<std::int64_t> param_steps_;
};

/// Hyperparameters of SGD, as torch.optim.SGD names them.
struct SGDOptions {
  /// Learning rate.
  double lr = 0.01;
  /// Momentum factor (0: plain SGD).
  double momentum = 0.0;
  /// Dampening of the momentum.
  double dampening = 0.0;
  /// L2 penalty added to the gradient.
  double weight_decay = 0.0;
  /// Nesterov momentum (needs a momentum and no dampening).
  bool nesterov = false;
};

/// torch.optim.SGD's update rule, including momentum, dampening, Nesterov and weight decay.
class SGD : public Optimizer {
 public:
  /// SGD with these hyperparameters.
  explicit SGD(SGDOptions options = {});
  void bind(const nn::NamedTensors& parameters, std::shared_ptr<const nn::ParameterLayout> layout = nullptr) override;
  using Optimizer::step;
  void step(const std::vector<Tensor>& grads) override;
  nn::NamedTensors state() const override;
  void load_state(const nn::NamedTensors& state) override;
  std::string name() const override { return "sgd"; }
  /// The hyperparameters.
  const SGDOptions& options() const { return options_; }

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_;
};

/// Hyperparameters of Adam and AdamW, as torch.optim names them.
struct AdamOptions {
  /// Learning rate.
  double lr = 1e-3;
  /// Decay rate of the first moment estimate.
  double beta1 = 0.9;
  /// Decay rate of the second moment estimate.
  double beta2 = 0.999;
  /// Added to the denominator for numerical stability.
  double eps = 1e-8;
  double weight_decay = 0.0;  ///< Adam: L2 added to the gradient; AdamW: decoupled decay
};

/// torch.optim.Adam (decoupled = false) and torch.optim.AdamW (decoupled = true).
class Adam : public Optimizer {
 public:
  /// Adam, or AdamW's update when decoupled_weight_decay.
  explicit Adam(AdamOptions options = {}, bool decoupled_weight_decay = false);
  void bind(const nn::NamedTensors& parameters, std::shared_ptr<const nn::ParameterLayout> layout = nullptr) override;
  using Optimizer::step;
  void step(const std::vector<Tensor>& grads) override;
  nn::NamedTensors state() const override;
  void load_state(const nn::NamedTensors& state) override;
  std::string name() const override { return decoupled_ ? "adamw" : "adam"; }

 private:
  AdamOptions options_;
  bool decoupled_;
  std::vector<Tensor> m_, v_;
};

/// AdamW with torch's default weight decay of 0.01.
class AdamW : public Adam {
 public:
  /// AdamW with these hyperparameters.
  explicit AdamW(AdamOptions options = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01})
      : Adam(options, true) {}
};

/// Makes an optimizer by name ("sgd", "adam", "adamw") with a learning rate and momentum
/// (SGD only); throws ValueError for an unknown name.
std::shared_ptr<Optimizer> make_optimizer(const std::string& name, double lr, double momentum = 0.9);

}  // namespace dm::optim
