// CPU kernels of dropout: the mask from uniform draws, and the product with it.
#include "backend/cpu/training_kernels.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {
constexpr std::int64_t kElementsPerBlock = 1 << 15;
}  // namespace

void dropout_mask(DType dtype, std::byte* mask, double keep, std::int64_t n) {
  dispatch_float(dtype, "dropout", [&]<class T>(TypeTag<T>) {
    T* m = reinterpret_cast<T*>(mask);
    const T kept = static_cast<T>(1.0 / keep), threshold = static_cast<T>(keep);
    par_for(n, kElementsPerBlock, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) m[i] = m[i] < threshold ? kept : T(0);
    });
  });
}

void multiply(DType dtype, const std::byte* a, const std::byte* b, std::byte* out, std::int64_t n) {
  dispatch_float(dtype, "multiply", [&]<class T>(TypeTag<T>) {
    const T* pa = reinterpret_cast<const T*>(a);
    const T* pb = reinterpret_cast<const T*>(b);
    T* po = reinterpret_cast<T*>(out);
    par_for(n, kElementsPerBlock, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) po[i] = pa[i] * pb[i];
    });
  });
}

}  // namespace dm::cpu
