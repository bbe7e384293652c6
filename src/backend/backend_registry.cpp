// Which backend computes on which device: registered here, explicitly, one line per kind.
#include "backend/backend.hpp"
#include "backend/cpu/cpu_backend.hpp"
#include "backend/cuda/cuda_backend.hpp"

namespace dm::backend {

Backend& backend_for(Device device) {
  switch (device.kind) {
    case DeviceKind::cpu: return cpu::cpu_backend();
    case DeviceKind::cuda: return cuda_backend::instance();
  }
  return cpu::cpu_backend();
}

bool is_built(DeviceKind kind) { return kind == DeviceKind::cpu || cuda_backend::built(); }

int device_count(DeviceKind kind, std::string* reason) {
  if (kind == DeviceKind::cpu) return 1;
  return cuda_backend::device_count(reason);
}

}  // namespace dm::backend
