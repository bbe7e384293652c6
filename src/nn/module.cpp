// Module bookkeeping: parameter and buffer registration and naming, modes, and the flat
// parameter buffer.
#include "democratising/nn/module.hpp"

#include <string>

#include "core/tensor_impl.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/runtime/isolated.hpp"

namespace dm::nn {
namespace {
// Set by EvalModeGuard: evaluation on one thread must not flip a mode that training threads
// read at the same time.
thread_local bool eval_forced = false;
}  // namespace

EvalModeGuard::EvalModeGuard() : previous_(eval_forced) { eval_forced = true; }
EvalModeGuard::~EvalModeGuard() { eval_forced = previous_; }

bool Module::is_training() const { return training_ && !eval_forced; }

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError("[register_parameter] parameter names must be non-empty and contain no '.', got '" + name + "'");
  for (const auto& [existing, _] : params_)
    if (existing == name) throw ValueError("[register_parameter] parameter '" + name + "' is already registered");
  if (!value.defined()) throw ValueError("[register_parameter] parameter '" + name + "' is undefined");
  value.set_requires_grad(true);
  params_.emplace_back(name, std::move(value));
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError("[register_buffer] buffer names must be non-empty and contain no '.', got '" + name + "'");
  for (const auto& [existing, _] : buffers_)
    if (existing == name) throw ValueError("[register_buffer] buffer '" + name + "' is already registered");
  for (const auto& [existing, _] : params_)
    if (existing == name) throw ValueError("[register_buffer] '" + name + "' is already a parameter");
  if (!value.defined()) throw ValueError("[register_buffer] buffer '" + name + "' is undefined");
  buffers_.emplace_back(name, value.detach());
  return buffers_.back().second;
}

void Module::with_buffer_lock(const std::function<void()>& fn) const {
  std::lock_guard lock(*buffer_mutex_);
  dm::detail::isolated([&] { fn(); });
}

void Module::collect_buffers(const std::string& prefix, NamedTensors& out) const {
  if (!buffers_.empty())
    with_buffer_lock([&] {
      NoGradGuard no_grad;
      for (const auto& [name, t] : buffers_) out.emplace_back(prefix + name, t.clone());
    });
  for (const auto& [name, child] : children_) child->collect_buffers(prefix + name + ".", out);
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect_buffers("", out);
  return out;
}

const Module* Module::owner_of_buffer(const std::string& name, std::size_t* index) const {
  for (std::size_t i = 0; i < buffers_.size(); ++i)
    if (buffers_[i].first == name) {
      *index = i;
      return this;
    }
  for (const auto& [child_name, child] : children_)
    if (name.size() > child_name.size() && name.compare(0, child_name.size(), child_name) == 0 &&
        name[child_name.size()] == '.')
      if (const Module* owner = child->owner_of_buffer(name.substr(child_name.size() + 1), index)) return owner;
  return nullptr;
}

void Module::load_buffer(const std::string& name, const Tensor& value) {
  impl_of(value, "load_buffer");
  std::size_t index = 0;
  const Module* owner = owner_of_buffer(name, &index);
  if (!owner) throw ValueError("[load_buffer] no buffer named '" + name + "'");
  Tensor target = owner->buffers_[index].second;
  if (target.shape() != value.shape())
    throw ShapeError("[load_buffer] '" + name + "' has shape " + target.shape().str() + ", got a value of shape " +
                     value.shape().str());
  owner->with_buffer_lock([&] {
    NoGradGuard no_grad;
    target.copy_(value);
  });
}

void Module::replace_buffer(const std::string& name, Tensor value) {
  impl_of(value, "replace_buffer");
  std::size_t index = 0;
  // This module is not const, so neither is the owner found among its children.
  auto* owner = const_cast<Module*>(owner_of_buffer(name, &index));
  if (!owner) throw ValueError("[replace_buffer] no buffer named '" + name + "'");
  const Tensor& current = owner->buffers_[index].second;
  if (current.shape() != value.shape())
    throw ShapeError("[replace_buffer] '" + name + "' has shape " + current.shape().str() + ", got a value of shape " +
                     value.shape().str());
  if (current.dtype() != value.dtype())
    throw DTypeError("[replace_buffer] '" + name + "' is " + std::string(dtype_name(current.dtype())) +
                     ", got a value of dtype " + std::string(dtype_name(value.dtype())));
  owner->with_buffer_lock([&] { owner->buffers_[index].second = std::move(value); });
}

bool Module::uses_batch_statistics() const {
  for (const auto& [_, child] : children_)
    if (child->uses_batch_statistics()) return true;
  return false;
}

void Module::register_module(const std::string& name, std::shared_ptr<Module> child) {
  if (!child) throw ValueError("[register_module] module '" + name + "' is null");
  for (const auto& [existing, _] : children_)
    if (existing == name) throw ValueError("[register_module] module '" + name + "' is already registered");
  children_.emplace_back(name, std::move(child));
}

void Module::collect(const std::string& prefix, NamedTensors& out) const {
  for (const auto& [name, t] : params_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters()) out.push_back(std::move(t));
  return out;
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (const auto& [_, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
}

void Module::load_parameter(const std::string& name, const Tensor& value) {
  impl_of(value, "load_parameter");
  for (const auto& [pname, p] : named_parameters()) {
    if (pname != name) continue;
    if (p.shape() != value.shape())
      throw ShapeError("[load_parameter] '" + name + "' has shape " + p.shape().str() + ", got a value of shape " +
                       value.shape().str());
    NoGradGuard no_grad;
    // A detached view writes the same storage without touching the leaf's autograd state.
    p.detach().copy_(value);
    return;
  }
  throw ValueError("[load_parameter] no parameter named '" + name + "'");
}

void Module::replace_parameter(const std::string& name, Tensor value) {
  impl_of(value, "replace_parameter");
  const std::vector<Tensor*> slots = parameter_slots();
  const NamedTensors named = named_parameters();  // same order as the slots
  for (std::size_t i = 0; i < named.size(); ++i) {
    if (named[i].first != name) continue;
    const Tensor& current = *slots[i];
    if (current.shape() != value.shape())
      throw ShapeError("[replace_parameter] '" + name + "' has shape " + current.shape().str() +
                       ", got a value of shape " + value.shape().str());
    if (current.dtype() != value.dtype())
      throw DTypeError("[replace_parameter] '" + name + "' is " + std::string(dtype_name(current.dtype())) +
                       ", got a value of dtype " + std::string(dtype_name(value.dtype())));
    value.set_requires_grad(true);
    *slots[i] = std::move(value);
    return;
  }
  throw ValueError("[replace_parameter] no parameter named '" + name + "'");
}

void Module::collect_slots(std::vector<Tensor*>& out) {
  for (auto& [_, t] : params_) out.push_back(&t);
  for (auto& [_, child] : children_) child->collect_slots(out);
}

std::vector<Tensor*> Module::parameter_slots() {
  std::vector<Tensor*> out;
  collect_slots(out);
  return out;
}

void Module::forget_flat_buffers() {
  flat_ = Tensor();
  layout_.reset();
  for (auto& [_, child] : children_) child->forget_flat_buffers();
}

Tensor Module::flatten_parameters() {
  const std::vector<Tensor*> slots = parameter_slots();
  // Already flat when every parameter is, in order, its entry's view of flat_.
  if (flat_.defined() && layout_) {
    std::vector<Tensor> current;
    current.reserve(slots.size());
    for (const Tensor* p : slots) current.push_back(*p);
    if (layout_->describes(current, flat_)) return flat_;
  }

  const NamedTensors named = named_parameters();  // the same order as the slots
  std::shared_ptr<const ParameterLayout> layout = ParameterLayout::of(named);
  const Device device = slots.empty() ? Device::cpu() : slots.front()->device();
  for (const Tensor* p : slots)
    if (p->device() != device)
      throw DeviceError("[flatten_parameters] parameters live on " + device.str() + " and " + p->device().str());

  Tensor flat = layout->allocate_for_overwrite(device);
  std::vector<Tensor> views = layout->views(flat);
  for (std::size_t i = 0; i < slots.size(); ++i) {
    views[i].copy_(slots[i]->detach());
    if (slots[i]->requires_grad()) views[i].set_requires_grad(true);
  }
  // Only now that every copy succeeded do the handles change, so a failure leaves the module as it was.
  for (std::size_t i = 0; i < slots.size(); ++i) *slots[i] = std::move(views[i]);
  forget_flat_buffers();
  flat_ = flat;
  layout_ = std::move(layout);
  return flat_;
}

}  // namespace dm::nn
