#pragma once
// The CPU caching allocator: 64-byte aligned blocks in size classes; freed blocks are kept for
// reuse so training loops do not pay page faults on every result.
#include <cstddef>
#include <cstdint>

namespace dm {

/// Counters of the CPU caching allocator.
struct MemoryStats {
  std::uint64_t allocated_bytes = 0;   ///< held by live tensors (rounded to size class)
  /// The most allocated_bytes has been since the last reset_memory_stats().
  std::uint64_t peak_allocated_bytes = 0;
  std::uint64_t cached_bytes = 0;      ///< freed blocks kept for reuse
  std::uint64_t allocations = 0;       ///< requests served
  std::uint64_t cache_hits = 0;        ///< requests served from the cache
  std::uint64_t system_allocations = 0;  ///< requests that went to the operating system
};

/// A snapshot of the CPU allocator's counters.
MemoryStats memory_stats();
/// Turns caching on or off (default on; DM_CACHING_ALLOCATOR=0 turns it off at start-up).
/// Turning it off also releases the cache.
void set_caching_allocator_enabled(bool enabled);
bool caching_allocator_enabled();
/// Returns every cached block to the operating system.
void empty_cache();
/// Resets the peak and the counters (not the live figures).
void reset_memory_stats();

}  // namespace dm
