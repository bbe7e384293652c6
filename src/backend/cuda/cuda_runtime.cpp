// The CUDA backend's memory and copies over the CUDA runtime; entries without a CUDA kernel
// yet throw a DeviceError naming them (see UnavailableBackend). This file is the CUDA part of
// the library (democratising::cuda): it hands itself to the core through cuda_provider.hpp.
#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_provider.hpp"
#include "backend/unavailable_backend.hpp"
#include "democratising/error.hpp"

namespace dm::cuda_backend {
namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw DeviceError(std::string("[cuda: ") + what + "] " + cudaGetErrorString(err));
}

cudaStream_t stream_of(backend::Stream s) { return reinterpret_cast<cudaStream_t>(s.handle); }

class CudaBackend final : public backend::UnavailableBackend {
 public:
  CudaBackend() : UnavailableBackend("cuda", "has no CUDA kernel in this build yet") {}

  void* allocate(std::size_t nbytes, int index) override {
    check(cudaSetDevice(index), "allocate");
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, nbytes == 0 ? 1 : nbytes);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      throw MemoryError("[cuda: allocate] out of device memory allocating " + std::to_string(nbytes) + " bytes on cuda:" +
                        std::to_string(index));
    }
    check(err, "allocate");
    return p;
  }
  void release(void* ptr, std::size_t, int index) override {
    if (!ptr) return;
    cudaSetDevice(index);
    cudaFree(ptr);
  }
  void copy_from_host(void* dst, const void* src, std::size_t nbytes, int index, backend::Stream s) override {
    check(cudaSetDevice(index), "copy_from_host");
    check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream_of(s)), "copy_from_host");
    check(cudaStreamSynchronize(stream_of(s)), "copy_from_host");
  }
  void copy_to_host(void* dst, const void* src, std::size_t nbytes, int index, backend::Stream s) override {
    check(cudaSetDevice(index), "copy_to_host");
    check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, stream_of(s)), "copy_to_host");
    check(cudaStreamSynchronize(stream_of(s)), "copy_to_host");
  }
  void copy_on_device(void* dst, int dst_index, const void* src, int src_index, std::size_t nbytes,
                      backend::Stream s) override {
    check(cudaMemcpyPeerAsync(dst, dst_index, src, src_index, nbytes, stream_of(s)), "copy_on_device");
  }
  void synchronize(int index) override {
    check(cudaSetDevice(index), "synchronize");
    check(cudaDeviceSynchronize(), "synchronize");
  }
};

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

backend::Backend& instance() {
  static CudaBackend cuda;
  return cuda;
}

}  // namespace
}  // namespace dm::cuda_backend

extern "C" const dm::cuda_backend::Provider* dm_cuda_backend_provider() {
  static constexpr dm::cuda_backend::Provider provider{&dm::cuda_backend::device_count, &dm::cuda_backend::instance};
  return &provider;
}
