#pragma once
// The few NCCL types and values the NCCL transport uses, spelled out here so that the host-side
// parts (the loader, the error mapping) build and are tested without nccl.h. They are NCCL's
// stable ABI; nccl_transport.cpp, which includes nccl.h, checks each against it at compile time.
#include <cstddef>

namespace dm::dist::nccl {

using Result = int;        // ncclResult_t
using Comm = void*;        // ncclComm_t
using Stream = void*;      // cudaStream_t
using DataType = int;      // ncclDataType_t
using RedOp = int;         // ncclRedOp_t

inline constexpr Result kSuccess = 0;
inline constexpr Result kUnhandledCudaError = 1;
inline constexpr Result kSystemError = 2;
inline constexpr Result kInternalError = 3;
inline constexpr Result kInvalidArgument = 4;
inline constexpr Result kInvalidUsage = 5;
inline constexpr Result kRemoteError = 6;
inline constexpr Result kInProgress = 7;

inline constexpr DataType kInt8 = 0;
inline constexpr DataType kInt32 = 2;
inline constexpr DataType kInt64 = 4;
inline constexpr DataType kFloat32 = 7;
inline constexpr DataType kFloat64 = 8;
inline constexpr DataType kBfloat16 = 9;

inline constexpr RedOp kSum = 0;
inline constexpr RedOp kMax = 2;
inline constexpr RedOp kMin = 3;

inline constexpr std::size_t kUniqueIdBytes = 128;
struct UniqueId {
  char internal[kUniqueIdBytes];
};

}  // namespace dm::dist::nccl
