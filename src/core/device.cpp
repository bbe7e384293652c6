#include "democratising/base/device.hpp"

#include <atomic>
#include <ostream>

#include "democratising/base/error.hpp"
#include "backend/backend.hpp"

namespace dm {

std::string Device::str() const {
  if (is_cpu()) return index == 0 ? "cpu" : "cpu:" + std::to_string(index);
  return "cuda:" + std::to_string(index);
}

std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

Device Device::cuda(int index) {
  std::string reason;
  const int n = backend::device_count(DeviceKind::cuda, &reason);
  if (n == 0) throw DeviceError("[Device::cuda] cuda:" + std::to_string(index) + " is unavailable: " + reason);
  if (index < 0 || index >= n)
    throw DeviceError("[Device::cuda] cuda:" + std::to_string(index) + " does not exist (" + std::to_string(n) +
                      " device(s) visible)");
  return {DeviceKind::cuda, index};
}

std::vector<Device> Device::cuda_all() {
  std::vector<Device> out;
  const int n = backend::device_count(DeviceKind::cuda, nullptr);
  for (int i = 0; i < n; ++i) out.push_back({DeviceKind::cuda, i});
  return out;
}

namespace cuda {
int device_count() { return backend::device_count(DeviceKind::cuda, nullptr); }
bool is_built() { return backend::is_built(DeviceKind::cuda); }
std::string unavailable_reason() {
  std::string reason;
  return backend::device_count(DeviceKind::cuda, &reason) > 0 ? std::string() : reason;
}
void synchronize() {
  for (const Device& d : Device::cuda_all()) backend::backend_for(d).synchronize(d.index);
}

namespace {
std::atomic<bool> allow_tf32{false};
}  // namespace
void set_matmul_allow_tf32(bool allow) { allow_tf32.store(allow, std::memory_order_relaxed); }
bool matmul_allow_tf32() { return allow_tf32.load(std::memory_order_relaxed); }
}  // namespace cuda

}  // namespace dm
