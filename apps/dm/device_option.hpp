#pragma once
// --device of dm train and dm eval: "cpu", "cuda" (GPU 0) or "cuda:N".
#include <string>

#include "democratising/base/device.hpp"

namespace dm::cli {

/// The device `text` names, checked before anything else starts: UsageError for text that names
/// no device ("gpu", "cuda:x", "cuda:-1"), DeviceError (naming the flag and the reason) when it
/// names a GPU that CUDA was not built for, that no driver sees, or that does not exist.
/// `command` prefixes the messages, e.g. "dm train".
Device resolve_device(const std::string& text, const std::string& command);

}  // namespace dm::cli
