#pragma once
// The CUDA backend's entry points. With CUDA off, no_cuda.cpp implements each one by throwing
// a DeviceError that says CUDA was not built, so no other file needs an #ifdef.
#include <cstddef>
#include <string>

namespace dm::cuda_backend {
bool built();
/// Usable devices; on 0, *reason says why (driver missing, no device...).
int device_count(std::string* reason);
void* allocate(int device, std::size_t nbytes);
void release(int device, void* ptr, std::size_t nbytes);
/// Copies between host and device or device and device, then waits for the copy.
void copy_to_host(void* dst, const void* src, std::size_t nbytes, int device);
void copy_from_host(void* dst, const void* src, std::size_t nbytes, int device);
void synchronize(int device);
}  // namespace dm::cuda_backend
