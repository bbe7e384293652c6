#pragma once
// Whether a tensor holds only finite numbers: the test a training loop and a checkpoint apply
// so that a run that diverged (NaN or infinity) is noticed instead of saved.
#include "democratising/core/tensor.hpp"

namespace dm {

/// True when no element is NaN or infinite. Integer and bool tensors are always finite; any
/// strides and any floating dtype are accepted; CPU only (DeviceError otherwise).
bool all_finite(const Tensor& t);

}  // namespace dm
