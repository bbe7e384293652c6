// Stands in for the CUDA backend in builds without CUDA: every entry throws a DeviceError that
// names it and says CUDA was not built.
#include "backend/cuda/cuda_backend.hpp"
#include "backend/unavailable_backend.hpp"

namespace dm::cuda_backend {
namespace {
constexpr const char* kNotBuilt = "CUDA was not built into democratising (configure with -DDM_CUDA=ON)";
}  // namespace

bool built() { return false; }

int device_count(std::string* reason) {
  if (reason) *reason = kNotBuilt;
  return 0;
}

backend::Backend& instance() {
  static backend::UnavailableBackend no_cuda("cuda", kNotBuilt);
  return no_cuda;
}

}  // namespace dm::cuda_backend
