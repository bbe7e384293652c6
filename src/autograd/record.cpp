// Grad mode, recording, and the Tensor methods that read or change autograd state.
#include "record.hpp"

#include <string>

#include "core/tensor_impl.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"

namespace dm {
namespace {
thread_local bool grad_enabled = true;

bool tracked(const Tensor& t) {
  const auto& meta = t.impl()->autograd;
  return meta && meta->requires_grad;
}
}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }

namespace autograd {

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && tracked(*t)) return true;
  return false;
}

namespace {

SavedVersion saved_version(const Tensor& t) {
  const TensorImpl& im = *t.impl();
  return SavedVersion{im.storage, im.storage->version(), im.shape};
}

template <class Range>
void record_range(Tensor& out, const char* name, const Range& inputs, BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->backward = std::move(backward.function());
  for (const Tensor* t : inputs) {
    Edge e;
    if (t && t->defined() && tracked(*t)) {
      const auto& meta = t->impl()->autograd;
      if (meta->grad_fn) {
        e.fn = meta->grad_fn;
        e.version_produced = meta->grad_fn->output_version;
        e.version_consumed = t->impl()->storage->version();
      } else {
        e.leaf = meta;
      }
      e.shape = t->shape();
    }
    node->inputs.push_back(std::move(e));
  }
  // What the backward function will read: as declared, or else every input.
  if (backward.saves_declared()) {
    for (const Tensor& t : backward.saved())
      if (t.defined()) node->saved.push_back(saved_version(t));
  } else {
    for (const Tensor* t : inputs)
      if (t && t->defined()) node->saved.push_back(saved_version(*t));
  }
  node->output_version = out.impl()->storage->version();
  auto meta = std::make_shared<AutogradMeta>();
  meta->requires_grad = true;
  meta->grad_fn = std::move(node);
  out.impl()->autograd = std::move(meta);
}
}  // namespace

void record(Tensor& out, const char* name, std::initializer_list<const Tensor*> inputs, BackwardFn backward) {
  record_range(out, name, inputs, std::move(backward));
}

void record_many(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn backward) {
  std::vector<const Tensor*> pointers;
  for (const auto& t : inputs) pointers.push_back(&t);
  record_range(out, name, pointers, std::move(backward));
}

Tensor reduce_to_shape(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int extra = grad.dim() - shape.size();
  std::vector<std::int64_t> dims;
  for (int d = 0; d < grad.dim(); ++d)
    if (d < extra || (shape[d - extra] == 1 && grad.shape()[d] != 1)) dims.push_back(d);
  Tensor summed = dims.empty() ? grad : grad.sum(dims, /*keepdim=*/true);
  return summed.reshape(shape);
}

}  // namespace autograd

Tensor& Tensor::set_requires_grad(bool enabled) {
  auto& im = const_cast<TensorImpl&>(impl_of(*this, "set_requires_grad"));
  if (im.autograd && im.autograd->grad_fn)
    throw ValueError(std::string("[set_requires_grad] only leaves can be marked; this tensor comes from ") +
                     im.autograd->grad_fn->name + " (detach() it first)");
  if (enabled && !is_floating(im.dtype))
    throw DTypeError(std::string("[set_requires_grad] only floating tensors can require grad, got ") +
                     std::string(dtype_name(im.dtype)));
  if (!im.autograd) im.autograd = std::make_shared<AutogradMeta>();
  im.autograd->requires_grad = enabled;
  if (enabled) im.storage->mark_grad_leaf();
  return *this;
}

bool Tensor::requires_grad() const { return tracked(*this) || (impl_of(*this, "requires_grad"), false); }

bool Tensor::is_leaf() const {
  const auto& meta = impl_of(*this, "is_leaf").autograd;
  return !meta || !meta->grad_fn;
}

Tensor Tensor::grad() const {
  const auto& meta = impl_of(*this, "grad").autograd;
  if (!meta) return Tensor();
  std::lock_guard lock(meta->grad_mutex);
  return meta->grad;
}

void Tensor::set_grad(const Tensor& grad) const {
  auto& im = const_cast<TensorImpl&>(impl_of(*this, "set_grad"));
  if (grad.defined() && grad.shape() != im.shape)
    throw ShapeError("[set_grad] gradient of shape " + grad.shape().str() + " for a tensor of shape " + im.shape.str());
  if (!im.autograd) im.autograd = std::make_shared<AutogradMeta>();
  std::lock_guard lock(im.autograd->grad_mutex);
  im.autograd->grad = grad;
}

Tensor Tensor::detach() const {
  const auto& im = impl_of(*this, "detach");
  return make_view(*this, im.shape, im.strides, im.offset);
}

const char* Tensor::grad_fn_name() const {
  const auto& meta = impl_of(*this, "grad_fn_name").autograd;
  return meta && meta->grad_fn ? meta->grad_fn->name : "";
}

}  // namespace dm
