#pragma once
// Copies between two GPUs ordered by events (see peer_copy.cpp).
#include <cstddef>

namespace dm::cuda_backend {

/// nbytes from `src` on device src_index to `dst` on device dst_index, without blocking the host:
/// after the kernels already queued on the source's default stream, and before any kernel
/// queued later on the destination's.
void copy_between_devices(void* dst, int dst_index, const void* src, int src_index, std::size_t nbytes);

/// Called before `block` (nbytes on device `index`) goes back to the pool: makes the device's
/// default stream, where the free is ordered, wait for the copies still reading from it.
void wait_for_pending_reads(const void* block, std::size_t nbytes, int index);

}  // namespace dm::cuda_backend
