#pragma once
// How the NCCL transport, a part of its own (democratising::nccl, which needs the CUDA runtime),
// reaches World::nccl in the distributed part, which must not: as with the CUDA backend
// (backend/cuda/cuda_provider.hpp), the NCCL part defines dm_nccl_transport_provider() and the
// distributed part declares it weak, finding it null in a program built without CUDA.
#include <memory>

#include "democratising/distributed/world.hpp"

namespace dm::dist::detail {

struct NcclProvider {
  /// This process's rank of the MPI job, with an NCCL communicator on its GPU.
  std::shared_ptr<Transport> (*make_transport)(const WorldOptions& options);
};

}  // namespace dm::dist::detail

/// Defined by the NCCL part (nccl/nccl_transport.cpp); declared weak only in nccl_registry.cpp.
extern "C" const dm::dist::detail::NcclProvider* dm_nccl_transport_provider();
