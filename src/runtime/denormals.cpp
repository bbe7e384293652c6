#include "democratising/runtime/denormals.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace dm {

#if defined(__x86_64__) || defined(__i386__)
namespace {
// MXCSR: flush-to-zero (bit 15) and denormals-are-zero (bit 6). The SSE control register
// governs every SSE and AVX instruction, so f32 and f64 alike.
constexpr unsigned kFlushBits = (1u << 15) | (1u << 6);
}  // namespace

bool flush_denormals(bool on) {
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(on ? (csr | kFlushBits) : (csr & ~kFlushBits));
  return true;
}

bool flushing_denormals() { return (_mm_getcsr() & kFlushBits) == kFlushBits; }
#else
bool flush_denormals(bool) { return false; }
bool flushing_denormals() { return false; }
#endif

}  // namespace dm
