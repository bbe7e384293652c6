#pragma once
// Where a tensor's storage lives. Mixing devices in one op is a DeviceError, never a silent copy.
#include <iosfwd>
#include <string>
#include <vector>

namespace dm {

enum class DeviceKind : unsigned char { cpu, cuda };

/// A device a tensor's storage can live on: a kind and an index.
struct Device {
  /// CPU or CUDA.
  DeviceKind kind = DeviceKind::cpu;
  /// Which one of its kind (a logical CPU device, or a GPU's ordinal).
  int index = 0;

  /// The host. Distinct indices name logical CPU devices (e.g. pipeline stages); they share memory.
  static Device cpu(int index = 0) { return {DeviceKind::cpu, index}; }
  /// GPU `index`; throws DeviceError if CUDA is not built or the device is absent.
  static Device cuda(int index = 0);
  /// Every visible GPU; empty without CUDA or without a device.
  static std::vector<Device> cuda_all();

  /// @name Kind tests
  //@{
  /// Whether this is a CPU (host or logical) or a CUDA device.
  bool is_cpu() const { return kind == DeviceKind::cpu; }
  bool is_cuda() const { return kind == DeviceKind::cuda; }
  //@}
  /// "cpu", "cpu:1", "cuda:0"
  std::string str() const;
  /// Same kind and index.
  friend bool operator==(const Device&, const Device&) = default;
};

std::ostream& operator<<(std::ostream& os, const Device& d);

namespace cuda {
/// Number of usable CUDA devices (0 when CUDA is not built or no driver/device is present).
int device_count();
/// Whether this build includes the CUDA backend.
bool is_built();
/// Why no device is usable ("CUDA was not built", "no CUDA device: <driver message>"), or "".
std::string unavailable_reason();
/// Waits until every GPU has finished the work queued on it (nothing to do without one).
void synchronize();
/// Lets f32 matrix products on a GPU run on TF32 tensor cores: inputs rounded to a 10-bit
/// mantissa, products accumulated in f32, several times faster. Off by default, so f32 stays
/// f32, as torch.backends.cuda.matmul.allow_tf32. Process-wide; CPU products never change.
void set_matmul_allow_tf32(bool allow);
/// Whether set_matmul_allow_tf32(true) is in force.
bool matmul_allow_tf32();
}  // namespace cuda

}  // namespace dm
