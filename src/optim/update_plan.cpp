#include "optim/update_plan.hpp"

#include <set>

#include "democratising/base/error.hpp"

namespace dm::optim::detail {

std::optional<FlatSpan> flat_span(const std::vector<Tensor>& tensors) {
  if (tensors.empty()) return std::nullopt;
  const Tensor& first = tensors.front();
  std::int64_t numel = 0;
  for (const Tensor& t : tensors) {
    if (!t.defined() || t.device() != first.device() || !t.is_contiguous() || t.dtype() != first.dtype() ||
        !t.shares_storage_with(first) || t.storage_offset() != first.storage_offset() + numel)
      return std::nullopt;
    numel += t.numel();
  }
  return FlatSpan{first.data_ptr(), numel, first.dtype()};
}

DType compute_dtype(DType dtype) { return dtype == DType::bf16 ? DType::f32 : dtype; }

void check_parameters(const nn::NamedTensors& params, const char* op) {
  std::set<std::string> names;
  for (const auto& [name, t] : params) {
    if (!t.defined()) throw ValueError(std::string("[") + op + "] parameter '" + name + "' is undefined");
    if (!is_floating(t.dtype()))
      throw DTypeError(std::string("[") + op + "] parameter '" + name + "' must be floating, got " +
                       std::string(dtype_name(t.dtype())));
    if (!names.insert(name).second) throw ValueError(std::string("[") + op + "] duplicate parameter name '" + name + "'");
  }
}

void check_gradients(const nn::NamedTensors& params, const std::vector<Tensor>& grads, const char* op) {
  if (grads.size() != params.size())
    throw ValueError(std::string("[") + op + "] got " + std::to_string(grads.size()) + " gradients for " +
                     std::to_string(params.size()) + " parameters");
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& g = grads[i];
    if (!g.defined()) continue;
    const auto& [name, p] = params[i];
    if (g.shape() != p.shape())
      throw ShapeError(std::string("[") + op + "] gradient of shape " + g.shape().str() + " for parameter '" + name +
                       "' of shape " + p.shape().str());
    if (!is_floating(g.dtype()))
      throw DTypeError(std::string("[") + op + "] gradient for '" + name + "' must be floating, got " +
                       std::string(dtype_name(g.dtype())));
    if (g.device() != p.device())
      throw DeviceError(std::string("[") + op + "] gradient for '" + name + "' is on " + g.device().str() +
                        ", the parameter on " + p.device().str());
  }
}

std::vector<Tensor> tensors_of(const nn::NamedTensors& params) {
  std::vector<Tensor> out;
  out.reserve(params.size());
  for (const auto& named : params) out.push_back(named.second);
  return out;
}

std::vector<Tensor> make_state_like(const nn::NamedTensors& params, const nn::ParameterLayout* layout) {
  std::vector<Tensor> out;
  if (params.empty()) return out;
  if (layout) return layout->views(layout->allocate(compute_dtype(layout->dtype()), params.front().second.device()));
  // Each state tensor lives where its parameter does (a pipeline's stages may be on several
  // devices); one flat block when they share a dtype and a device.
  const DType dtype = compute_dtype(params.front().second.dtype());
  const Device device = params.front().second.device();
  bool one_block = true;
  std::int64_t total = 0;
  for (const auto& named : params) {
    one_block = one_block && compute_dtype(named.second.dtype()) == dtype && named.second.device() == device;
    total += named.second.numel();
  }
  if (!one_block) {
    for (const auto& [_, p] : params) out.push_back(Tensor::zeros(p.shape(), compute_dtype(p.dtype()), p.device()));
    return out;
  }
  const Tensor flat = Tensor::zeros({total}, dtype, device);
  std::int64_t offset = 0;
  for (const auto& named : params) {
    const std::int64_t n = named.second.numel();
    out.push_back(flat.narrow(0, offset, n).view(named.second.shape()));
    offset += n;
  }
  return out;
}

Tensor steps_to_tensor(const std::vector<std::int64_t>& steps) {
  return Tensor::from_vector(steps, Shape{static_cast<std::int64_t>(steps.size())});
}

std::map<std::string, Tensor> index_by_name(const nn::NamedTensors& state) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : state) out[name] = t;
  return out;
}

const Tensor& require_state(const std::map<std::string, Tensor>& state, const std::string& name, const Shape& shape,
                            const char* op) {
  const auto it = state.find(name);
  if (it == state.end() || !it->second.defined())
    throw FormatError(std::string("[") + op + "] optimizer state is missing '" + name + "'");
  if (it->second.shape() != shape)
    throw FormatError(std::string("[") + op + "] optimizer state '" + name + "' has shape " + it->second.shape().str() +
                      ", expected " + shape.str());
  return it->second;
}

std::vector<std::int64_t> load_steps(const std::map<std::string, Tensor>& state, std::size_t n, const char* op) {
  const Tensor& t = require_state(state, "step", Shape{static_cast<std::int64_t>(n)}, op);
  if (is_floating(t.dtype()))
    throw FormatError(std::string("[") + op + "] optimizer state 'step' must be integral, got " +
                      std::string(dtype_name(t.dtype())));
  std::vector<std::int64_t> steps = t.to_vector<std::int64_t>();
  for (const std::int64_t s : steps)
    if (s < 0) throw FormatError(std::string("[") + op + "] optimizer state 'step' holds a negative count");
  return steps;
}

}  // namespace dm::optim::detail
