#pragma once
// Constructors of the two backends behind dm::dist::World.
#include <memory>
#include <vector>

#include "democratising/dist/world.hpp"

namespace dm::dist::detail {

/// n backends sharing one in-process group, rank i at index i.
std::vector<std::shared_ptr<Backend>> make_local_backends(int n, const WorldOptions& options);
/// This process's rank of MPI_COMM_WORLD (on a communicator of its own).
std::shared_ptr<Backend> make_mpi_backend(const WorldOptions& options);

}  // namespace dm::dist::detail
