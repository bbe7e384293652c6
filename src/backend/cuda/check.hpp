#pragma once
// CUDA errors as DeviceErrors that name the Backend entry and the runtime's own reason.
#include <cuda_runtime_api.h>

#include <string>

#include "democratising/base/error.hpp"

namespace dm::cuda_backend {

inline void check(cudaError_t err, const char* entry) {
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so the next call starts clean
    throw DeviceError(std::string("[cuda: ") + entry + "] " + cudaGetErrorString(err));
  }
}

/// After a kernel launch: a bad configuration or a missing device shows up here.
inline void check_launch(const char* entry) { check(cudaGetLastError(), entry); }

}  // namespace dm::cuda_backend
