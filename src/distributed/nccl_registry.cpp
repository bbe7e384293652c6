// World::nccl: the checks that need no GPU, then the NCCL part when the program links it (see
// nccl_provider.hpp). A missing GPU is said here, before MPI starts or any collective runs.
#include "democratising/base/device.hpp"
#include "democratising/base/error.hpp"
#include "nccl_provider.hpp"
#include "transports.hpp"

// Null in a program without the NCCL part.
extern "C" const dm::dist::detail::NcclProvider* dm_nccl_transport_provider() __attribute__((weak));

namespace dm::dist::detail {

std::shared_ptr<Transport> make_nccl_transport(const WorldOptions& options) {
  if (!dm_nccl_transport_provider)
    throw DeviceError(
        "[World::nccl] NCCL was not built into democratising (configure with -DDM_CUDA=ON and link "
        "democratising::nccl)");
  if (dm::cuda::device_count() == 0)
    throw DeviceError("[World::nccl] collectives of CUDA tensors need a GPU on every rank: " +
                      dm::cuda::unavailable_reason());
  return dm_nccl_transport_provider()->make_transport(options);
}

}  // namespace dm::dist::detail
