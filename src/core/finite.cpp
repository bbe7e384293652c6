// all_finite: one pass over the elements, stopping at the first NaN or infinity.
#include "democratising/finite.hpp"

#include <cmath>
#include <string>

#include "democratising/error.hpp"
#include "dispatch.hpp"

namespace dm {

bool all_finite(const Tensor& t) {
  if (!t.defined()) throw ValueError("[all_finite] called on an undefined tensor");
  if (!is_floating(t.dtype())) return true;
  if (!t.device().is_cpu()) throw DeviceError("[all_finite] is not available on " + t.device().str() + " yet");
  const Tensor c = t.contiguous();
  const std::int64_t n = c.numel();
  return dispatch_dtype(c.dtype(), [&]<class T>(TypeTag<T>) {
    const T* p = static_cast<const T*>(c.data_ptr());
    for (std::int64_t i = 0; i < n; ++i)
      if (!std::isfinite(convert<double>(p[i]))) return false;
    return true;
  });
}

}  // namespace dm
