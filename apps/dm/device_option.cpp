#include "device_option.hpp"

#include <charconv>

#include "commands.hpp"
#include "democratising/base/error.hpp"

namespace dm::cli {

Device resolve_device(const std::string& text, const std::string& command) {
  const std::string flag = "[" + command + "] --device";
  if (text == "cpu") return Device::cpu();
  const std::string prefix = "cuda";
  if (text.compare(0, prefix.size(), prefix) != 0)
    throw UsageError(flag + ": expected cpu, cuda or cuda:N, got '" + text + "'");
  int index = 0;
  if (text.size() > prefix.size()) {
    // Digits only: from_chars alone would also take "cuda:+1" or "cuda:1x" in part.
    const std::string digits = text.substr(prefix.size() + 1);
    const bool colon = text[prefix.size()] == ':';
    const bool all_digits = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (!colon || !all_digits || ec != std::errc() || end != digits.data() + digits.size())
      throw UsageError(flag + ": expected cpu, cuda or cuda:N with N a GPU number, got '" + text + "'");
  }
  if (!cuda::is_built())
    throw DeviceError(flag + " " + text + ": this dm was built without CUDA (configure with -DDM_CUDA=ON); use --device cpu");
  try {
    return Device::cuda(index);
  } catch (const DeviceError& e) {
    throw DeviceError(flag + " " + text + ": " + e.what() + "; use --device cpu");
  }
}

}  // namespace dm::cli
