// dm::Parameters: updates to one flat f32 buffer (its own, or a model's), singly or fused under
// one write lock.
#include "democratising/model/parameters.hpp"

#include <mutex>
#include <string>
#include <vector>

#include "autograd/version.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "backend/backend.hpp"

namespace dm {
namespace {

void check_cpu_f32(const Tensor& t, const char* op, const std::string& what) {
  if (!t.defined()) throw ValueError(std::string("[") + op + "] " + what + " is an undefined tensor");
  if (t.device() != Device::cpu())
    throw DeviceError(std::string("[") + op + "] " + what + " is on " + t.device().str() + ", the parameters on cpu");
  if (t.dtype() != DType::f32)
    throw DTypeError(std::string("[") + op + "] " + what + " is " + std::string(dtype_name(t.dtype())) +
                     ", the parameters f32");
}

// Contiguous f32 CPU values of `delta`, checked against the parameters; copies only when
// the layout requires it or when the delta shares the parameters' storage (it would change
// under the update otherwise).
Tensor checked_delta(const Tensor& delta, const Tensor& values, std::int64_t numel, const char* op,
                            const std::string& what) {
  check_cpu_f32(delta, op, what);
  if (delta.numel() != numel)
    throw ShapeError(std::string("[") + op + "] " + what + " " + delta.shape().str() + " has " +
                     std::to_string(delta.numel()) + " values, the parameters " + std::to_string(numel));
  if (delta.shares_storage_with(values)) return delta.clone();
  return delta.is_contiguous() ? delta : delta.contiguous();
}

}  // namespace

Parameters::Parameters(const Tensor& initial) : mutex_(std::make_shared<WriterPreferringMutex>()) {
  check_cpu_f32(initial, "Parameters", "the initial value");
  numel_ = initial.numel();
  values_ = initial.reshape({numel_}).clone();  // our own storage: nobody else writes it
}

Parameters::Parameters(Tensor values, std::shared_ptr<WriterPreferringMutex> mutex)
    : values_(std::move(values)), mutex_(std::move(mutex)) {
  check_cpu_f32(values_, "Parameters", "the model's parameters");
  if (values_.dim() != 1 || !values_.is_contiguous())
    throw ShapeError("[Parameters] a model's parameters must be one contiguous block, got " + values_.shape().str());
  numel_ = values_.numel();
}

void Parameters::update(const Tensor& delta, float alpha) {
  const Tensor d = checked_delta(delta, values_, numel_, "Parameters::update", "the update");
  const float* sources[] = {d.data<float>()};
  std::unique_lock lock(*mutex_);
  autograd::bump_version(values_);  // a raw write, counted like an in-place op
  backend::backend_for(values_.device()).add_scaled_many(values_.data<float>(), sources, alpha, numel_);
}

void Parameters::update_batch(std::span<const Tensor> deltas, float alpha) {
  // Every check (and any copy) before the lock, so a bad update changes nothing and the
  // writers hold the lock only for the arithmetic.
  std::vector<Tensor> checked;
  checked.reserve(deltas.size());
  for (std::size_t k = 0; k < deltas.size(); ++k)
    checked.push_back(checked_delta(deltas[k], values_, numel_, "Parameters::update_batch",
                                    "update " + std::to_string(k)));
  if (checked.empty()) return;
  std::vector<const float*> sources;
  sources.reserve(checked.size());
  for (const Tensor& d : checked) sources.push_back(d.data<float>());

  std::unique_lock lock(*mutex_);
  autograd::bump_version(values_);  // a raw write, counted like an in-place op
  backend::backend_for(values_.device()).add_scaled_many(values_.data<float>(), sources, alpha, numel_);
}

void Parameters::assign(const Tensor& values) {
  const Tensor v = checked_delta(values, values_, numel_, "Parameters::assign", "the values");
  std::unique_lock lock(*mutex_);
  NoGradGuard no_grad;
  Tensor(values_).copy_(v.reshape({numel_}));  // counted like any in-place op
}

Tensor Parameters::snapshot() const {
  std::shared_lock lock(*mutex_);
  return values_.clone();
}

}  // namespace dm
