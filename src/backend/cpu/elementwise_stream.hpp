#pragma once
// Streaming (non-temporal) stores for large elementwise outputs. A normal store first reads
// the destination line into the cache (read-for-ownership) and later writes it back; for an
// output far larger than the caches that read is pure waste, a third more memory traffic for
// a unary op. Streaming stores skip it and go to memory through write-combining buffers.
#include <cstddef>

namespace dm::cpu {

/// Outputs at least this large (in bytes) are streamed: past the caches they would be evicted
/// before anyone read them back, so caching them buys nothing.
inline constexpr std::size_t kStreamingThreshold = std::size_t{4} << 20;

/// Copies `bytes` from src to dst, with streaming stores for the 32-byte aligned part of dst.
void stream_store(void* dst, const void* src, std::size_t bytes);
/// Orders this thread's streaming stores before its later stores (call before handing the
/// output to another thread).
void stream_fence();

}  // namespace dm::cpu
