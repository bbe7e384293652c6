// dm::Model: forward, loss, backward and updates, safe from many threads at once. The
// forward and backward passes run under the parameters' read lock (each thread records its
// own graph), an optimizer step under the write lock.
#include "democratising/model/model.hpp"

#include <cmath>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/functional.hpp"
#include "model/gradient_step.hpp"
#include "model_state.hpp"

namespace dm {
namespace {

// Correct predictions: argmax over dim 1 of output (B, C) equal to integer labels (B). Any
// other layout has no accuracy to report, and a silent 0 would read as a model that learned nothing.
std::int64_t count_correct(const Tensor& output, const Tensor& labels) {
  if (output.dim() != 2 || output.size(1) == 0 || labels.dim() != 1 || labels.size(0) != output.size(0))
    throw ShapeError("[evaluate] accuracy needs outputs (batch, classes) and labels (batch), got outputs " +
                     output.shape().str() + " and labels " + labels.shape().str());
  if (!is_integral(labels.dtype()))
    throw DTypeError("[evaluate] labels must be integer class indices, got " + std::string(dtype_name(labels.dtype())));
  const std::vector<std::int64_t> predicted = output.argmax(1).to_vector<std::int64_t>();
  const std::vector<std::int64_t> expected = labels.to_vector<std::int64_t>();
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == expected[i];
  return correct;
}

}  // namespace

const Tensor& Gradients::operator[](const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  throw ValueError("[Gradients] no gradient named '" + name + "'");
}

Model::Model(std::shared_ptr<nn::Module> module, ModelOptions options) : state_(std::make_unique<State>()) {
  if (!module) throw ValueError("[Model] the module is null");
  if (!(options.clip_grad_norm >= 0.0) || !std::isfinite(options.clip_grad_norm))
    throw ValueError("[Model] clip_grad_norm must be 0 (off) or positive and finite, got " +
                     std::to_string(options.clip_grad_norm));
  State& s = *state_;
  s.flat = module->flatten_parameters();
  s.layout = module->parameter_layout();
  s.module = std::move(module);
  s.loss = options.loss ? std::move(options.loss) : LossFn(nn::cross_entropy);
  s.optimizer =
      options.optimizer ? std::move(options.optimizer) : std::make_shared<optim::SGD>(optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
  s.non_finite = options.non_finite;
  s.clip_grad_norm = options.clip_grad_norm;
  s.params = s.module->named_parameters();
  for (const auto& [_, p] : s.params) s.param_tensors.push_back(p);
  s.optimizer->bind(s.params, s.layout);
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

nn::Module& Model::module() const { return *state_->module; }
optim::Optimizer& Model::optimizer() const { return *state_->optimizer; }
const LossFn& Model::loss_fn() const { return state_->loss; }
const std::shared_ptr<const nn::ParameterLayout>& Model::parameter_layout() const { return state_->layout; }
std::int64_t Model::skipped_steps() const { return state_->skipped_steps.load(); }
double Model::clip_grad_norm() const { return state_->clip_grad_norm; }

Parameters Model::parameters() const { return Parameters(state_->flat, state_->mutex); }

void Model::set_optimizer(std::shared_ptr<optim::Optimizer> optimizer) {
  if (!optimizer) throw ValueError("[set_optimizer] the optimizer is null");
  std::unique_lock lock(*state_->mutex);
  optimizer->bind(state_->params, state_->layout);
  state_->optimizer = std::move(optimizer);
}

Gradients Model::compute_gradients(const Tensor& x, const Tensor& y, Tensor* loss) const {
  const State& s = *state_;
  std::shared_lock lock(*s.mutex);
  // One block in the parameters' layout, so an update, an all-reduce or a push is a single
  // pass over it; backward writes each gradient straight into its view.
  Gradients grads = detail::gradient_block(s.layout);
  std::vector<Tensor> views;
  views.reserve(grads.tensors.size());
  for (const auto& named : grads.tensors) views.push_back(named.second);
  const Tensor value = detail::gradient_step(*s.module, s.loss, s.param_tensors, x, y, views, "compute_gradients");
  if (loss) *loss = value;
  return grads;
}

void Model::apply_gradients(const Gradients& grads) {
  State& s = *state_;
  if (grads.tensors.size() != s.params.size())
    throw ValueError("[apply_gradients] " + std::to_string(grads.tensors.size()) + " gradients for " +
                     std::to_string(s.params.size()) + " parameters");
  std::vector<Tensor> ordered(s.params.size());
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    const auto& [name, p] = s.params[i];
    // Gradients made by a model of the same architecture come in the same order.
    const Tensor& g = i < grads.tensors.size() && grads.tensors[i].first == name ? grads.tensors[i].second : grads[name];
    if (g.shape() != p.shape())
      throw ShapeError("[apply_gradients] gradient '" + name + "' has shape " + g.shape().str() +
                       ", the parameter " + p.shape().str());
    ordered[i] = g;
  }
  // One pass over the block when the views are a model's; the tensors one by one otherwise.
  if (grads.flat.defined() && grads.layout)
    detail::clip_for_update({grads.flat}, s.clip_grad_norm);
  else
    detail::clip_for_update(ordered, s.clip_grad_norm);
  std::unique_lock lock(*s.mutex);
  NoGradGuard no_grad;
  s.optimizer->step(ordered);
}

Tensor Model::train_step(const Tensor& x, const Tensor& y) {
  Tensor loss;
  const Gradients grads = compute_gradients(x, y, &loss);
  if (!detail::admit_step(loss, {grads.flat}, state_->non_finite, "train_step")) {
    ++state_->skipped_steps;
    return loss;
  }
  apply_gradients(grads);
  return loss;
}

Tensor Model::predict(const Tensor& x) const {
  std::shared_lock lock(*state_->mutex);
  NoGradGuard no_grad;
  nn::EvalModeGuard eval;
  return state_->module->forward(x);
}

void Evaluation::add(const Tensor& x, const Tensor& y) {
  const Model::State& s = *model_.state_;
  Tensor output, loss;
  {
    // Per batch, so a long evaluation does not hold the updates back.
    std::shared_lock lock(*s.mutex);
    output = s.module->forward(x);
    loss = s.loss(output, y);
  }
  const std::int64_t n = x.dim() > 0 ? x.size(0) : 1;
  loss_sum_ += loss.item<double>() * static_cast<double>(n);
  correct_ += count_correct(output, y);
  samples_ += n;
}

EvalResult Evaluation::result() const {
  EvalResult result;
  result.samples = samples_;
  if (samples_ > 0) {
    result.loss = loss_sum_ / static_cast<double>(samples_);
    result.accuracy = static_cast<double>(correct_) / static_cast<double>(samples_);
  }
  return result;
}

}  // namespace dm
