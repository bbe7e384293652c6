// Streaming stores: 32-byte (AVX) alongside the AVX2 loops, 16-byte (SSE2) otherwise.
#include "backend/cpu/elementwise_stream.hpp"

#include <cstdint>
#include <cstring>

#include "backend/cpu/elementwise_isa.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dm::cpu {
namespace {

#if defined(__x86_64__)
// dst is 32-byte aligned, bytes a multiple of 32.
[[gnu::target("avx")]] void stream_body_avx(std::byte* dst, const std::byte* src, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; i += 32)
    _mm256_stream_ps(reinterpret_cast<float*>(dst + i), _mm256_loadu_ps(reinterpret_cast<const float*>(src + i)));
}

// dst is 16-byte aligned, bytes a multiple of 16.
void stream_body_sse2(std::byte* dst, const std::byte* src, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; i += 16)
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
}
#endif

}  // namespace

void stream_store(void* dst_void, const void* src_void, std::size_t bytes) {
  auto* dst = static_cast<std::byte*>(dst_void);
  const auto* src = static_cast<const std::byte*>(src_void);
#if defined(__x86_64__)
  const std::size_t align = has_avx2_fma() ? 32 : 16;
  const std::size_t misalign = reinterpret_cast<std::uintptr_t>(dst) % align;
  std::size_t head = misalign == 0 ? 0 : align - misalign;
  if (head > bytes) head = bytes;
  std::memcpy(dst, src, head);
  const std::size_t body = (bytes - head) / align * align;
  if (align == 32) {
    stream_body_avx(dst + head, src + head, body);
  } else {
    stream_body_sse2(dst + head, src + head, body);
  }
  std::memcpy(dst + head + body, src + head + body, bytes - head - body);
#else
  std::memcpy(dst, src, bytes);
#endif
}

void stream_fence() {
#if defined(__x86_64__)
  _mm_sfence();
#endif
}

}  // namespace dm::cpu
