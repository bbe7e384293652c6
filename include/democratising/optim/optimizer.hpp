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

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  /// Steps taken so far.
  std::int64_t steps() const { return steps_; }

  /// State for checkpoints, as copies: "step" (i64, one count per parameter, as torch keeps
  /// them: a parameter without a gradient in a step does not advance), then per parameter
  /// "momentum_buffer.<param>" (SGD with momentum) or "exp_avg.<param>" and
  /// "exp_avg_sq.<param>" (Adam). load_state is the inverse; it throws FormatError naming what
  /// is missing or mis-shaped, and ignores names it does not know.
  virtual nn::NamedTensors state() const = 0;
  virtual void load_state(const nn::NamedTensors& state) = 0;
  virtual std::string name() const = 0;

 protected:
  explicit Optimizer(double lr) : lr_(lr) {}
  nn::NamedTensors params_;
  std::shared_ptr<const nn::ParameterLayout> layout_;
  double lr_;
  std::int64_t steps_ = 0;
  /// Steps each bound parameter has taken (bind() sizes and zeroes it).
  std::vector<std::int64_t> param_steps_;
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

/// torch.optim.SGD's update rule, including momentum, dampening, Nesterov and weight decay.
class SGD : public Optimizer {
 public:
  explicit SGD(SGDOptions options = {});
  void bind(const nn::NamedTensors& parameters, std::shared_ptr<const nn::ParameterLayout> layout = nullptr) override;
  using Optimizer::step;
  void step(const std::vector<Tensor>& grads) override;
  nn::NamedTensors state() const override;
  void load_state(const nn::NamedTensors& state) override;
  std::string name() const override { return "sgd"; }
  const SGDOptions& options() const { return options_; }

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // Adam: L2 added to the gradient; AdamW: decoupled decay
};

/// torch.optim.Adam (decoupled = false) and torch.optim.AdamW (decoupled = true).
class Adam : public Optimizer {
 public:
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
  explicit AdamW(AdamOptions options = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01})
      : Adam(options, true) {}
};

/// Makes an optimizer by name ("sgd", "adam", "adamw") with a learning rate and momentum
/// (SGD only); throws ValueError for an unknown name.
std::shared_ptr<Optimizer> make_optimizer(const std::string& name, double lr, double momentum = 0.9);

}  // namespace dm::optim
