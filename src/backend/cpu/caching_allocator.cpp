// CPU caching allocator. Requests are rounded up to a size class (four classes per power of
// two, so at most 25% is wasted); a freed block goes onto its class's free list and serves
// the next request of that class without a system call or fresh page faults. The cache is
// bounded; past the bound, blocks go back to the system.
#include "backend/cpu/caching_allocator.hpp"

#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "democratising/base/checked.hpp"
#include "democratising/base/error.hpp"
#include "democratising/backend/memory.hpp"

namespace dm {
namespace {

constexpr std::size_t kAlignment = 64;

std::size_t cache_limit_bytes() {
  if (const char* s = std::getenv("DM_CACHE_LIMIT_MB")) return static_cast<std::size_t>(std::strtoull(s, nullptr, 10)) << 20;
  return std::size_t{2} << 30;
}

bool enabled_from_env() {
  const char* s = std::getenv("DM_CACHING_ALLOCATOR");
  return !(s && std::string(s) == "0");
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free_lists;
  MemoryStats stats;
  bool enabled = enabled_from_env();
  std::size_t limit = cache_limit_bytes();

  void release_all_locked() {
    for (auto& [size, blocks] : free_lists)
      for (void* p : blocks) std::free(p);
    free_lists.clear();
    stats.cached_bytes = 0;
  }
  ~Cache() { release_all_locked(); }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destruction order
  return *c;
}

// `requested` is what the caller asked for, `bytes` its size class: the message names both.
void* system_allocate(std::size_t bytes, std::size_t requested) {
  void* p = std::aligned_alloc(kAlignment, bytes);
  if (!p)
    throw MemoryError("[allocate] the system refused " + std::to_string(requested) + " bytes (" +
                      std::to_string(requested >> 20) + " MiB, a block of " + std::to_string(bytes) + ")");
  return p;
}

}  // namespace

namespace cpu_allocator {

std::size_t size_class(std::size_t nbytes) {
  // Past kMaxBufferBytes the doubling below would wrap to 0 and never end, and rounding up
  // would wrap to a tiny class.
  if (nbytes > kMaxBufferBytes)
    throw MemoryError("[allocate] " + std::to_string(nbytes) + " bytes is more than any buffer can hold (at most " +
                      std::to_string(kMaxBufferBytes) + ")");
  if (nbytes <= kAlignment) return kAlignment;
  std::size_t p = 1;
  while (p * 2 <= nbytes) p *= 2;
  std::size_t step = p / 4 < kAlignment ? kAlignment : p / 4;
  return (nbytes + step - 1) / step * step;
}

void* allocate(std::size_t nbytes) {
  const std::size_t cls = size_class(nbytes);
  Cache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    c.stats.allocations++;
    c.stats.allocated_bytes += cls;
    if (c.stats.allocated_bytes > c.stats.peak_allocated_bytes) c.stats.peak_allocated_bytes = c.stats.allocated_bytes;
    auto it = c.free_lists.find(cls);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cached_bytes -= cls;
      c.stats.cache_hits++;
      return p;
    }
    c.stats.system_allocations++;
  }
  try {
    return system_allocate(cls, nbytes);
  } catch (...) {
    // The cache may hold enough memory to satisfy this request: give it back and retry once.
    {
      std::lock_guard lock(c.mutex);
      c.release_all_locked();
    }
    try {
      return system_allocate(cls, nbytes);
    } catch (...) {
      std::lock_guard lock(c.mutex);
      c.stats.allocated_bytes -= cls;
      throw;
    }
  }
}

void release(void* ptr, std::size_t nbytes) {
  if (!ptr) return;
  const std::size_t cls = size_class(nbytes);
  Cache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    c.stats.allocated_bytes -= cls;
    if (c.enabled && c.stats.cached_bytes + cls <= c.limit) {
      c.free_lists[cls].push_back(ptr);
      c.stats.cached_bytes += cls;
      return;
    }
  }
  std::free(ptr);
}

}  // namespace cpu_allocator

MemoryStats memory_stats() {
  std::lock_guard lock(cache().mutex);
  return cache().stats;
}

void set_caching_allocator_enabled(bool enabled) {
  std::lock_guard lock(cache().mutex);
  cache().enabled = enabled;
  if (!enabled) cache().release_all_locked();
}

bool caching_allocator_enabled() {
  std::lock_guard lock(cache().mutex);
  return cache().enabled;
}

void empty_cache() {
  std::lock_guard lock(cache().mutex);
  cache().release_all_locked();
}

void reset_memory_stats() {
  std::lock_guard lock(cache().mutex);
  auto& s = cache().stats;
  s.peak_allocated_bytes = s.allocated_bytes;
  s.allocations = s.cache_hits = s.system_allocations = 0;
}

}  // namespace dm
