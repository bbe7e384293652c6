#pragma once
// The kernel launchers the .cu files define and CudaBackend (cuda_runtime.cpp) calls, with
// the Backend entries' arguments and meaning (see backend/backend.hpp). Each launches on the
// calling thread's default stream and throws a DeviceError naming its entry on any CUDA error.
#include <cstdint>

#include "backend/backend.hpp"

namespace dm::cuda_backend::kernels {

using backend::Operand;
using backend::Output;

// elementwise.cu
void unary(UnaryOp op, const Output& out, const Operand& a, UnaryParams params, DType compute);
void binary(BinaryOp op, const Output& out, const Operand& a, const Operand& b, DType compute);
void binary_scalar(BinaryOp op, const Output& out, const Operand& a, double scalar, ScalarSide side, DType compute);
void compare(CompareOp op, const Output& out, const Operand& a, const Operand& b, DType compute);
void compare_scalar(CompareOp op, const Output& out, const Operand& a, double scalar, DType compute);
void where(const Output& out, const Operand& cond, const Operand& a, const Operand& b);
// copy_fill.cu
void copy(const Output& out, const Operand& src);
void fill(const Output& out, double value);
// random_fill.cu
void random_uniform(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double low,
                    double high);
void random_normal(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double mean,
                   double std);
void random_int(std::int64_t* out, std::int64_t n, std::uint64_t seed, std::uint64_t start, std::int64_t low,
                std::int64_t high);
// gemm.cpp
void gemm(DType dtype, const GemmShape& shape, const backend::GemmOperand& a, const backend::GemmOperand& b,
          std::byte* c, double alpha, double beta);
// reduce.cu
void reduce_sum(SumKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::int64_t correction,
                std::byte* out);
void reduce_extreme(Extreme kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* values,
                    std::int64_t* indices);
void softmax(SoftmaxKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out);
void logsumexp(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out);

}  // namespace dm::cuda_backend::kernels
