#pragma once
// NCCL's results as our errors: what NCCL says, with the operation and rank.
#include <string>

#include "nccl_api.hpp"

namespace dm::dist::nccl {

/// "ncclSuccess", "ncclSystemError", ...; "NCCL result <n>" for one this build does not know.
std::string result_name(Result result);

/// Throws the error a failed `result` of `op` on `rank` means: a DeviceError for CUDA and system
/// failures (the GPU or the machine), a ValueError for an argument NCCL refused, a
/// DistributedError for the rest (a peer failed, NCCL's own state). `detail` is NCCL's text,
/// when there is one. Success and "in progress" are no failure: it returns for those.
void throw_if_failed(Result result, const char* op, int rank, const std::string& detail = {});

}  // namespace dm::dist::nccl
