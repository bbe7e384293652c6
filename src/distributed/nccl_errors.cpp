// NCCL results mapped onto dm::Error subclasses (see nccl_errors.hpp).
#include "nccl_errors.hpp"

#include "democratising/base/error.hpp"

namespace dm::dist::nccl {

std::string result_name(Result result) {
  switch (result) {
    case kSuccess: return "ncclSuccess";
    case kUnhandledCudaError: return "ncclUnhandledCudaError";
    case kSystemError: return "ncclSystemError";
    case kInternalError: return "ncclInternalError";
    case kInvalidArgument: return "ncclInvalidArgument";
    case kInvalidUsage: return "ncclInvalidUsage";
    case kRemoteError: return "ncclRemoteError";
    case kInProgress: return "ncclInProgress";
    default: return "NCCL result " + std::to_string(result);
  }
}

void throw_if_failed(Result result, const char* op, int rank, const std::string& detail) {
  if (result == kSuccess || result == kInProgress) return;
  std::string what = std::string("[") + op + "] rank " + std::to_string(rank) + ": NCCL failed with " +
                     result_name(result);
  if (!detail.empty()) what += " (" + detail + ")";
  switch (result) {
    case kUnhandledCudaError:
    case kSystemError: throw DeviceError(what);
    case kInvalidArgument: throw ValueError(what);
    case kRemoteError: throw DistributedError(what + ": another rank failed or left");
    default: throw DistributedError(what);
  }
}

}  // namespace dm::dist::nccl
