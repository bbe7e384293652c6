#pragma once
// Which GPU an NCCL rank drives: one GPU per rank, the ranks of one host numbered 0, 1, ... in
// rank order and each given the GPU of that number. Plain host logic, so that it is tested
// without a GPU.
#include <string>
#include <vector>

namespace dm::dist::detail {

/// A rank's place among the ranks of its own host.
struct LocalRank {
  int rank = 0;  // in [0, size)
  int size = 1;  // ranks on this host
};

/// Bytes of one host name in the exchange that finds the local ranks (longer names are cut:
/// hosts of one job differ well before that).
inline constexpr std::size_t kHostNameBytes = 256;

/// `rank`'s place among the ranks whose host name equals its own; `hosts` holds every rank's
/// host name in rank order.
LocalRank local_rank_among(const std::vector<std::string>& hosts, int rank);

/// The CUDA device index for `local` on a host with `device_count` usable GPUs. A DeviceError
/// when there is none (`no_device_reason` says why) or when the host's ranks outnumber its GPUs
/// (two ranks on one GPU would serialise, and NCCL refuses them one communicator).
int gpu_for_local_rank(LocalRank local, int device_count, const std::string& no_device_reason);

}  // namespace dm::dist::detail
