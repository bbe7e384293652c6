#pragma once
// Typed views of the raw buffers the Backend entries take (host or device memory alike),
// shared by the CPU and CUDA layer kernels.
#include <cstddef>

#include "backend/host_device.hpp"

namespace dm::backend {

template <class T>
DM_HOST_DEVICE const T* typed(const std::byte* p) {
  return reinterpret_cast<const T*>(p);
}
template <class T>
DM_HOST_DEVICE T* typed(std::byte* p) {
  return reinterpret_cast<T*>(p);
}

}  // namespace dm::backend
