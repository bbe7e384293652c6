#pragma once
// How the CUDA backend, a library of its own (democratising::cuda, which needs the CUDA
// runtime), reaches the registry of the core library, which must not need it: the CUDA library
// defines dm_cuda_backend_provider(); the core declares it weak and, in a program that does not
// link the CUDA part, finds it null and answers for CUDA devices with a backend that says CUDA
// was not built. No #ifdef, and no static initialiser whose order could matter.
#include <string>

#include "backend/backend.hpp"

namespace dm::cuda_backend {

struct Provider {
  /// Usable devices; on 0, *reason says why (driver missing, no device...).
  int (*device_count)(std::string* reason);
  /// The backend for CUDA devices.
  backend::Backend& (*instance)();
};

}  // namespace dm::cuda_backend

/// Defined by the CUDA part (cuda_runtime.cpp); declared weak only where the core looks it up
/// (cuda_registry.cpp), so that the definition itself stays an ordinary one.
extern "C" const dm::cuda_backend::Provider* dm_cuda_backend_provider();
