#pragma once
// How a tensor is handed to a backend kernel: its memory as an Output or Operand view.
#include "backend/backend.hpp"
#include "tensor_impl.hpp"

namespace dm {

/// t as a kernel's output. `fresh`: t was just allocated, so no operand reads its memory.
inline backend::Output output_of(const TensorImpl& t, bool fresh) {
  return {t.data(), t.dtype, t.shape, t.strides, fresh};
}
/// A freshly allocated result.
inline backend::Output output_of(const Tensor& t) { return output_of(*t.impl(), true); }

/// t read through `strides` over the output's shape (its own strides, or broadcast ones).
inline backend::Operand operand_of(const TensorImpl& t, const Strides& strides) { return {t.data(), t.dtype, strides}; }
inline backend::Operand operand_of(const TensorImpl& t) { return {t.data(), t.dtype, t.strides}; }

/// The backend that computes on t's device.
inline backend::Backend& backend_of(const TensorImpl& t) { return backend::backend_for(t.storage->device()); }

}  // namespace dm
