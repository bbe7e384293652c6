// Stands in for the CUDA backend in builds without CUDA.
#include "democratising/error.hpp"
#include "cuda_backend.hpp"

namespace dm::cuda_backend {
namespace {
[[noreturn]] void not_built(const char* what) {
  throw DeviceError(std::string("[") + what + "] CUDA was not built into democratising (configure with -DDM_CUDA=ON)");
}
}  // namespace

bool built() { return false; }
int device_count(std::string* reason) {
  if (reason) *reason = "CUDA was not built into democratising (configure with -DDM_CUDA=ON)";
  return 0;
}
void* allocate(int, std::size_t) { not_built("cuda allocate"); }
void release(int, void*, std::size_t) {}
void copy_to_host(void*, const void*, std::size_t, int) { not_built("cuda copy"); }
void copy_from_host(void*, const void*, std::size_t, int) { not_built("cuda copy"); }
void synchronize(int) { not_built("cuda synchronize"); }
}  // namespace dm::cuda_backend
