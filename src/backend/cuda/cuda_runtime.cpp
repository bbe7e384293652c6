// CUDA runtime entry points: device discovery, memory and copies. Kernels live beside this
// file, one per op family.
#include <cuda_runtime_api.h>

#include "democratising/error.hpp"
#include "cuda_backend.hpp"

namespace dm::cuda_backend {
namespace {
void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw DeviceError(std::string("[") + what + "] " + cudaGetErrorString(err));
}
}  // namespace

bool built() { return true; }

int device_count(std::string* reason) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (reason) *reason = std::string("no CUDA device: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  if (n == 0 && reason) *reason = "no CUDA device is present";
  return n;
}

void* allocate(int device, std::size_t nbytes) {
  check(cudaSetDevice(device), "cuda allocate");
  void* p = nullptr;
  check(cudaMalloc(&p, nbytes == 0 ? 1 : nbytes), "cuda allocate");
  return p;
}

void release(int device, void* ptr, std::size_t) {
  if (!ptr) return;
  cudaSetDevice(device);
  cudaFree(ptr);
}

void copy_to_host(void* dst, const void* src, std::size_t nbytes, int device) {
  check(cudaSetDevice(device), "cuda copy");
  check(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost), "cuda copy");
}

void copy_from_host(void* dst, const void* src, std::size_t nbytes, int device) {
  check(cudaSetDevice(device), "cuda copy");
  check(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice), "cuda copy");
}

void synchronize(int device) {
  check(cudaSetDevice(device), "cuda synchronize");
  check(cudaDeviceSynchronize(), "cuda synchronize");
}
}  // namespace dm::cuda_backend
