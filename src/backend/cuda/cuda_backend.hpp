#pragma once
// The CUDA side of the device seam. Without the CUDA part, cuda_registry.cpp answers these by
// saying CUDA was not built (its backend throws a DeviceError from every entry), so no other file
// needs an #ifdef.
#include <string>

#include "backend/backend.hpp"

namespace dm::cuda_backend {
bool built();
/// Usable devices; on 0, *reason says why (driver missing, no device...).
int device_count(std::string* reason);
/// The backend registered for CUDA devices.
backend::Backend& instance();
}  // namespace dm::cuda_backend
