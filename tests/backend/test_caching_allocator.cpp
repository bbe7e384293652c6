// The CPU caching allocator: reuse of freed blocks, 64-byte alignment, size classes, and
// switching the cache off and on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "backend/cpu/caching_allocator.hpp"
#include "democratising/democratising.hpp"
#include "support/within_deadline.hpp"

using dm::DType;
using dm::Tensor;

namespace {

// Leaves caching switched on when a test ends, whatever happened in between.
class CachingEnabledGuard {
 public:
  CachingEnabledGuard() = default;
  ~CachingEnabledGuard() { dm::set_caching_allocator_enabled(true); }
  CachingEnabledGuard(const CachingEnabledGuard&) = delete;
  CachingEnabledGuard& operator=(const CachingEnabledGuard&) = delete;
};

}  // namespace

TEST(Allocator, FreedBlockIsReusedAsACacheHit) {
  CachingEnabledGuard guard;
  dm::set_caching_allocator_enabled(true);
  const dm::Shape shape = {12345};  // an odd size that no other live tensor is likely to use
  void* first = nullptr;
  {
    const Tensor t = Tensor::empty(shape);
    first = t.data_ptr();
  }
  const dm::MemoryStats before = dm::memory_stats();
  EXPECT_GE(before.cached_bytes, 12345u * 4u);
  const Tensor again = Tensor::empty(shape);
  const dm::MemoryStats after = dm::memory_stats();
  EXPECT_EQ(after.cache_hits, before.cache_hits + 1);
  EXPECT_EQ(after.system_allocations, before.system_allocations);
  EXPECT_EQ(after.allocations, before.allocations + 1);
  EXPECT_EQ(again.data_ptr(), first);  // the same block came back
}

TEST(Allocator, LiveBytesAndPeakFollowTensors) {
  const dm::MemoryStats before = dm::memory_stats();
  dm::MemoryStats during;
  {
    const Tensor t = Tensor::empty({1 << 16}, DType::f64);
    during = dm::memory_stats();
    EXPECT_GE(during.allocated_bytes, before.allocated_bytes + (std::uint64_t{1} << 19));
    EXPECT_GE(during.peak_allocated_bytes, during.allocated_bytes);
  }
  EXPECT_EQ(dm::memory_stats().allocated_bytes, during.allocated_bytes - dm::cpu_allocator::size_class(std::size_t{1} << 19));
  dm::reset_memory_stats();
  const dm::MemoryStats reset = dm::memory_stats();
  EXPECT_EQ(reset.allocations, 0u);
  EXPECT_EQ(reset.cache_hits, 0u);
  EXPECT_EQ(reset.peak_allocated_bytes, reset.allocated_bytes);
}

TEST(Allocator, DataIs64ByteAlignedForManySizes) {
  std::vector<Tensor> live;  // kept alive so every request gets its own block
  for (std::int64_t n = 0; n < 300; ++n) live.push_back(Tensor::empty({n}, DType::u8));
  for (std::int64_t n : {1000, 4097, 65535, 65536, 100003, 1 << 20, 3 << 20}) live.push_back(Tensor::empty({n}, DType::u8));
  for (std::int64_t n = 1; n < 50; n += 7) live.push_back(Tensor::empty({n, 3}, DType::bf16));
  for (const Tensor& t : live)
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data_ptr()) % 64, 0u) << t.numel() << " elements";
}

TEST(Allocator, SizeClassesBoundTheWaste) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65},
                        std::size_t{1000}, std::size_t{4096}, std::size_t{5000}, std::size_t{123457},
                        std::size_t{1} << 30}) {
    const std::size_t c = dm::cpu_allocator::size_class(n);
    EXPECT_GE(c, n);
    EXPECT_EQ(c % 64, 0u) << n;
    // Four classes per power of two, but never finer than the 64-byte alignment.
    EXPECT_LE(c, n + std::max<std::size_t>(64, n / 4)) << n;
    if (n >= 256) {
      EXPECT_LE(c, n + n / 4) << n;
    }
  }
}

TEST(Allocator, DisablingTheCacheGivesSystemAllocationsAndEmptiesIt) {
  CachingEnabledGuard guard;
  dm::set_caching_allocator_enabled(true);
  { const Tensor warm = Tensor::empty({4321}); }  // leaves at least one block cached
  EXPECT_GT(dm::memory_stats().cached_bytes, 0u);

  dm::set_caching_allocator_enabled(false);
  EXPECT_FALSE(dm::caching_allocator_enabled());
  EXPECT_EQ(dm::memory_stats().cached_bytes, 0u);
  const dm::MemoryStats before = dm::memory_stats();
  { const Tensor t = Tensor::empty({4321}); }
  { const Tensor t = Tensor::empty({4321}); }
  const dm::MemoryStats after = dm::memory_stats();
  EXPECT_EQ(after.system_allocations, before.system_allocations + 2);
  EXPECT_EQ(after.cache_hits, before.cache_hits);
  EXPECT_EQ(after.cached_bytes, 0u);  // freed blocks went straight back

  dm::set_caching_allocator_enabled(true);
  EXPECT_TRUE(dm::caching_allocator_enabled());
  { const Tensor t = Tensor::empty({4321}); }
  EXPECT_GT(dm::memory_stats().cached_bytes, 0u);
  dm::empty_cache();
  EXPECT_EQ(dm::memory_stats().cached_bytes, 0u);
}

TEST(Allocator, RefusesRequestsBeyondTheAddressSpaceWithAMemoryError) {
  // Above 2^63 the size-class search used to double past the top bit to 0 and loop forever:
  // the call runs on a thread of its own so that a regression fails instead of hanging.
  for (const std::size_t bytes : {std::numeric_limits<std::size_t>::max(), std::size_t{1} << 63}) {
    const auto thrown = dm::testing::outcome_within(10.0, [bytes]() -> std::string {
      try {
        (void)dm::cpu_allocator::allocate(bytes);
        return "";
      } catch (const dm::MemoryError& e) {
        return std::string("MemoryError: ") + e.what();
      } catch (const std::exception& e) {
        return std::string("other: ") + e.what();
      }
    });
    ASSERT_TRUE(thrown.has_value()) << bytes << " bytes: did not return within 10 s";
    EXPECT_EQ(thrown->rfind("MemoryError: [allocate] " + std::to_string(bytes), 0), 0u) << *thrown;
  }
}
