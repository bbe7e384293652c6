// One GPU per rank (see gpu_assignment.hpp).
#include "gpu_assignment.hpp"

#include "democratising/base/error.hpp"

namespace dm::dist::detail {

LocalRank local_rank_among(const std::vector<std::string>& hosts, int rank) {
  if (rank < 0 || static_cast<std::size_t>(rank) >= hosts.size())
    throw ValueError("[World::nccl] rank " + std::to_string(rank) + " is not among the " +
                     std::to_string(hosts.size()) + " host names");
  const std::string& mine = hosts[static_cast<std::size_t>(rank)];
  LocalRank local{0, 0};
  for (std::size_t r = 0; r < hosts.size(); ++r) {
    if (hosts[r] != mine) continue;
    if (static_cast<int>(r) < rank) ++local.rank;
    ++local.size;
  }
  return local;
}

int gpu_for_local_rank(LocalRank local, int device_count, const std::string& no_device_reason) {
  if (device_count <= 0)
    throw DeviceError("[World::nccl] local rank " + std::to_string(local.rank) + " has no GPU: " +
                      (no_device_reason.empty() ? std::string("no CUDA device") : no_device_reason));
  if (local.size > device_count)
    throw DeviceError("[World::nccl] " + std::to_string(local.size) + " ranks on this host but " +
                      std::to_string(device_count) + " GPU(s): ranks would share a GPU; start at most " +
                      std::to_string(device_count) + " rank(s) per host (mpirun -np N --map-by ppr:" +
                      std::to_string(device_count) + ":node)");
  return local.rank;
}

}  // namespace dm::dist::detail
