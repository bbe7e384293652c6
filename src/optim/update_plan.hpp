#pragma once
// How an optimizer step reaches its elementwise kernel.
//
// A model keeps its parameters in one flat buffer with a view per parameter, and
// Model::compute_gradients hands back gradients laid out the same way; the optimizer's own
// state (momentum, Adam's moments) is allocated the same way at bind(). When all of that
// holds, a step is ONE loop over the whole block. Otherwise each parameter is updated on its
// own. Both paths call the same kernel on the same values element by element, so they give
// bitwise identical results.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autograd/version.hpp"
#include "democratising/core/tensor.hpp"
#include "democratising/nn/module.hpp"
#include "democratising/nn/parameter_layout.hpp"

namespace dm::optim::detail {

/// A contiguous run of memory that a list of tensors tiles in order.
struct FlatSpan {
  void* data = nullptr;
  std::int64_t numel = 0;
  DType dtype = DType::f32;
};

/// The span covered by `tensors` when they are contiguous pieces of one storage, of one
/// dtype, each starting where the previous one ends; nullopt otherwise.
std::optional<FlatSpan> flat_span(const std::vector<Tensor>& tensors);

/// f32 for bf16 (computed in f32, stored back), else the dtype itself.
DType compute_dtype(DType dtype);

/// Throws (naming `op`) unless every parameter is a defined floating tensor with a unique name.
/// Parameters may live on several devices (pipeline stages): each is updated by its device's
/// backend, and only parameters of one device are fused into one pass.
void check_parameters(const nn::NamedTensors& params, const char* op);

/// Throws unless there is one gradient per parameter, each undefined or of its parameter's
/// shape, floating and on its parameter's device.
void check_gradients(const nn::NamedTensors& params, const std::vector<Tensor>& grads, const char* op);

/// Zero state tensors shaped like the parameters in their compute dtype: the views of one block
/// in `layout` when the parameters are bound with one, else of one flat buffer when all
/// parameters share a compute dtype (so the fused path applies to them too).
std::vector<Tensor> make_state_like(const nn::NamedTensors& params, const nn::ParameterLayout* layout = nullptr);

/// The parameters' tensors without their names.
std::vector<Tensor> tensors_of(const nn::NamedTensors& params);

// ---- checkpoint state -----------------------------------------------------------------------

/// "step": the per-parameter step counts as an i64 tensor of shape (n).
Tensor steps_to_tensor(const std::vector<std::int64_t>& steps);

/// Named tensors by name, for load_state lookups.
std::map<std::string, Tensor> index_by_name(const nn::NamedTensors& state);

/// Reads "step" back (shape (n), integral values >= 0); FormatError naming `op` otherwise.
std::vector<std::int64_t> load_steps(const std::map<std::string, Tensor>& state, std::size_t n, const char* op);

/// The tensor called `name`, which must have `shape`; FormatError naming `op` otherwise.
const Tensor& require_state(const std::map<std::string, Tensor>& state, const std::string& name, const Shape& shape,
                            const char* op);

// ---- the two paths --------------------------------------------------------------------------

/// The memory of one contiguous piece: the parameter, its gradient and S state buffers, all
/// of one compute dtype (f32 or f64) and `numel` elements.
template <std::size_t S>
struct UpdateView {
  Device device;
  DType dtype;
  std::byte* param;
  const std::byte* grad;
  std::array<std::byte*, S> state;
  std::int64_t numel;
};

/// Runs kernel(step, UpdateView<S>) over every parameter that has a gradient, where `step` is
/// that parameter's step count before this update; the kernel makes one backend call. One call
/// over the whole block when params, grads and every state list tile flat spans of one
/// f32/f64 dtype and every parameter is at the same step; one per parameter otherwise
/// (non-contiguous or bf16 parameters are updated on a contiguous compute-dtype copy that is
/// written back). Returns whether the fused path ran.
template <std::size_t S, class Kernel>
bool run_update(const nn::NamedTensors& params, const std::vector<Tensor>& grads,
                const std::array<const std::vector<Tensor>*, S>& states, const std::vector<std::int64_t>& steps,
                Kernel&& kernel);

// ---- implementation -------------------------------------------------------------------------

/// The fused block, if the fused path applies (see run_update).
template <std::size_t S>
std::optional<std::array<FlatSpan, S + 2>> fused_spans(const nn::NamedTensors& params, const std::vector<Tensor>& grads,
                                                       const std::array<const std::vector<Tensor>*, S>& states,
                                                       const std::vector<std::int64_t>& steps) {
  if (params.empty()) return std::nullopt;
  for (std::size_t i = 0; i < params.size(); ++i)
    if (!grads[i].defined() || steps[i] != steps[0]) return std::nullopt;
  std::array<FlatSpan, S + 2> spans{};
  const auto p = flat_span(tensors_of(params));
  const auto g = flat_span(grads);
  if (!p || !g || (p->dtype != DType::f32 && p->dtype != DType::f64)) return std::nullopt;
  spans[0] = *p;
  spans[1] = *g;
  if constexpr (S > 0) {
    for (std::size_t s = 0; s < S; ++s) {
      const auto st = flat_span(*states[s]);
      if (!st) return std::nullopt;
      spans[s + 2] = *st;
    }
  }
  for (const FlatSpan& span : spans)
    if (span.dtype != p->dtype || span.numel != p->numel) return std::nullopt;
  return spans;
}

inline std::byte* bytes_of(void* p) { return static_cast<std::byte*>(p); }

template <std::size_t S, class Kernel>
bool run_update(const nn::NamedTensors& params, const std::vector<Tensor>& grads,
                const std::array<const std::vector<Tensor>*, S>& states, const std::vector<std::int64_t>& steps,
                Kernel&& kernel) {
  // The kernels write through raw pointers, past the in-place ops: count the writes here, so
  // a graph that saved a parameter cannot run its backward on the updated values unawares.
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!grads[i].defined()) continue;
    autograd::bump_version(params[i].second);
    if constexpr (S > 0)
      for (std::size_t s = 0; s < S; ++s) autograd::bump_version((*states[s])[i]);
  }
  if (const auto spans = fused_spans(params, grads, states, steps)) {
    UpdateView<S> whole{params[0].second.device(), (*spans)[0].dtype, bytes_of((*spans)[0].data), bytes_of((*spans)[1].data), {},
                        (*spans)[0].numel};
    if constexpr (S > 0)
      for (std::size_t s = 0; s < S; ++s) whole.state[s] = bytes_of((*spans)[s + 2].data);
    kernel(steps[0], whole);
    return true;
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!grads[i].defined()) continue;
    const Tensor& param = params[i].second;
    const DType cd = compute_dtype(param.dtype());
    // A working copy only when the parameter cannot be written through a plain pointer.
    Tensor work = param.to(cd).contiguous();
    const bool write_back = work.data_ptr() != param.data_ptr() || work.dtype() != param.dtype();
    const Tensor grad = grads[i].to(cd).contiguous();
    UpdateView<S> whole{param.device(), cd, bytes_of(work.data_ptr()), bytes_of(grad.data_ptr()), {}, work.numel()};
    if constexpr (S > 0)
      for (std::size_t s = 0; s < S; ++s) whole.state[s] = bytes_of((*states[s])[i].data_ptr());
    kernel(steps[i], whole);
    if (write_back) {
      Tensor target = param;  // a handle to the same storage: the update lands in the model's buffer
      target.copy_(work);
    }
  }
  return false;
}

}  // namespace dm::optim::detail
