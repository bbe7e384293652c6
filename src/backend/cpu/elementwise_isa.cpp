// Run-time choice of the instruction set for the elementwise loops.
#include <atomic>

#include "backend/cpu/elementwise.hpp"
#include "backend/cpu/elementwise_isa.hpp"

namespace dm::cpu {
namespace {
std::atomic<bool> baseline_forced{false};
}  // namespace

bool has_avx2_fma() {
#if defined(__x86_64__)
  static const bool cpu_has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return cpu_has && !baseline_forced.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

void force_baseline_simd(bool on) { baseline_forced.store(on, std::memory_order_relaxed); }

}  // namespace dm::cpu
