#pragma once
// Constructors of the transports behind dm::dist::World.
#include <memory>
#include <vector>

#include "democratising/distributed/world.hpp"

namespace dm::dist::detail {

/// n transports sharing one in-process group, rank i at index i.
std::vector<std::shared_ptr<Transport>> make_local_transports(int n, const WorldOptions& options);
/// This process's rank of MPI_COMM_WORLD (on a communicator of its own).
std::shared_ptr<Transport> make_mpi_transport(const WorldOptions& options);
/// This process's rank of MPI_COMM_WORLD with an NCCL communicator on the GPU of its local rank;
/// a DeviceError when NCCL was not built in or there is no GPU (nccl_registry.cpp).
std::shared_ptr<Transport> make_nccl_transport(const WorldOptions& options);

}  // namespace dm::dist::detail
