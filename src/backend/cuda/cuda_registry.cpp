// The core's answers for CUDA devices: those of the CUDA part when the program links it (see
// cuda_provider.hpp), otherwise a backend whose every entry throws a DeviceError that names it
// and says CUDA was not built.
#include "backend/cuda/cuda_backend.hpp"
#include "backend/cuda/cuda_provider.hpp"
#include "backend/unavailable_backend.hpp"

// Null in a program without the CUDA part.
extern "C" const dm::cuda_backend::Provider* dm_cuda_backend_provider() __attribute__((weak));

namespace dm::cuda_backend {
namespace {
constexpr const char* kNotBuilt =
    "CUDA was not built into democratising (configure with -DDM_CUDA=ON and link democratising::cuda)";

const Provider* provider() { return dm_cuda_backend_provider ? dm_cuda_backend_provider() : nullptr; }
}  // namespace

bool built() { return provider() != nullptr; }

int device_count(std::string* reason) {
  if (const Provider* p = provider()) return p->device_count(reason);
  if (reason) *reason = kNotBuilt;
  return 0;
}

backend::Backend& instance() {
  if (const Provider* p = provider()) return p->instance();
  static backend::UnavailableBackend no_cuda("cuda", kNotBuilt);
  return no_cuda;
}

}  // namespace dm::cuda_backend
