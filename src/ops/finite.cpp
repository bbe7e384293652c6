// all_finite: one backend pass over the elements.
#include "democratising/ops/finite.hpp"

#include <string>

#include "democratising/base/error.hpp"
#include "backend/backend.hpp"

namespace dm {

bool all_finite(const Tensor& t) {
  if (!t.defined()) throw ValueError("[all_finite] called on an undefined tensor");
  if (!is_floating(t.dtype())) return true;
  const Tensor c = t.contiguous();
  return backend::backend_for(c.device()).all_finite(static_cast<const std::byte*>(c.data_ptr()), c.dtype(), c.numel());
}

}  // namespace dm
