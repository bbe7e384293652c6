// CPU kernel: whether a flat buffer holds only finite values. An infinity or a NaN is a value
// whose exponent bits are all ones; OR-ing that test over a block (integer operations, no
// branch per element) lets the compiler vectorise the loop; blocks run on the pool.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "backend/cpu/training_kernels.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

constexpr std::int64_t kBlock = 1 << 16;

template <class T>
bool block_finite(const T* p, std::int64_t n) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr Bits kExponent = static_cast<Bits>(sizeof(T) == 4 ? 0x7f800000ull : 0x7ff0000000000000ull);
  Bits bad = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, p + i, sizeof bits);
    bad |= static_cast<Bits>((bits & kExponent) == kExponent);
  }
  return bad == 0;
}

}  // namespace

bool all_finite(const std::byte* data, DType dtype, std::int64_t n) {
  if (dtype == DType::bf16) {  // widened 16 bits at a time: rare enough to stay scalar
    const bf16* p = reinterpret_cast<const bf16*>(data);
    for (std::int64_t i = 0; i < n; ++i)
      if (!std::isfinite(static_cast<float>(p[i]))) return false;
    return true;
  }
  std::atomic<bool> finite{true};
  dispatch_float(dtype, "all_finite", [&]<class T>(TypeTag<T>) {
    const T* p = reinterpret_cast<const T*>(data);
    par_for(n, kBlock, [&](std::int64_t b, std::int64_t e) {
      if (!block_finite(p + b, e - b)) finite.store(false, std::memory_order_relaxed);
    });
  });
  return finite.load(std::memory_order_relaxed);
}

}  // namespace dm::cpu
