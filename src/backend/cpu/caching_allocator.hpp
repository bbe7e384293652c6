#pragma once
#include <cstddef>

namespace dm::cpu_allocator {
/// 64-byte aligned block of at least `nbytes` (never null; throws MemoryError naming the size
/// when the system refuses it or it exceeds kMaxBufferBytes).
void* allocate(std::size_t nbytes);
/// Returns a block from allocate(nbytes) with the same nbytes.
void release(void* ptr, std::size_t nbytes);
/// The size class a request of nbytes is served from (MemoryError past kMaxBufferBytes).
std::size_t size_class(std::size_t nbytes);
}  // namespace dm::cpu_allocator
