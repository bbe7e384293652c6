// CUDA GEMM through cuBLAS. cuBLAS is column-major, our matrices row-major: a row-major
// (m x n) C is a column-major (n x m) C^T, so C = A B is computed as C^T = B^T A^T with the
// operands swapped. A non-transposed row-major operand read column-major is already its own
// transpose (op N); a transposed one (stored column-major) needs op T.
//
// One cuBLAS handle per device per thread, created on first use: handles are not safe to
// share between threads issuing work at once. f32 computes in f32 unless the user allowed TF32
// (dm::cuda::set_matmul_allow_tf32), bf16 operands and results accumulate in f32 on the tensor
// cores, f64 computes in f64. cuBLAS itself is loaded on the first GEMM (cublas_library.hpp).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <climits>
#include <string>

#include "backend/cuda/check.hpp"
#include "backend/cuda/cublas_library.hpp"
#include "backend/cuda/kernels.hpp"
#include "democratising/base/device.hpp"

namespace dm::cuda_backend::kernels {
namespace {

void check_blas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw DeviceError(std::string("[cuda: gemm] ") + what + ": " + cublas().status_string(status));
}

class Handles {
 public:
  ~Handles() {
    for (cublasHandle_t h : handles_)
      if (h) cublas().destroy(h);
  }
  cublasHandle_t get(int device) {
    if (device < 0 || device >= kMaxDevices) throw DeviceError("[cuda: gemm] device index " + std::to_string(device));
    if (!handles_[device]) {
      check_blas(cublas().create(&handles_[device]), "cublasCreate");
      check_blas(cublas().set_math_mode(handles_[device], CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    }
    return handles_[device];
  }

 private:
  static constexpr int kMaxDevices = 64;
  cublasHandle_t handles_[kMaxDevices] = {};
};

int as_int(std::int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw DeviceError(std::string("[cuda: gemm] ") + what + " " + std::to_string(v) + " exceeds cuBLAS's int range");
  return static_cast<int>(v);
}

// Batch item b's offset in elements (none given: every item at 0).
std::int64_t offset(std::span<const std::int64_t> offsets, std::int64_t b) {
  return offsets.empty() ? 0 : offsets[static_cast<std::size_t>(b)];
}

// The common step between consecutive batch items' offsets, or -1 when they are not evenly spaced.
std::int64_t uniform_stride(std::span<const std::int64_t> offsets, std::int64_t batch) {
  if (batch <= 1 || offsets.empty()) return 0;
  const std::int64_t stride = offset(offsets, 1) - offset(offsets, 0);
  for (std::int64_t b = 2; b < batch; ++b)
    if (offset(offsets, b) - offset(offsets, b - 1) != stride) return -1;
  return stride;
}

}  // namespace

void gemm(DType dtype, const GemmShape& shape, const backend::GemmOperand& a, const backend::GemmOperand& b,
          std::byte* c, double alpha, double beta) {
  if (dtype != DType::f32 && dtype != DType::f64 && dtype != DType::bf16)
    throw DTypeError("[cuda: gemm] expects f32, f64 or bf16, got " + std::string(dtype_name(dtype)));
  if (shape.batch == 0 || shape.m == 0 || shape.n == 0) return;
  int device = 0;
  check(cudaGetDevice(&device), "gemm");
  thread_local Handles handles;
  cublasHandle_t handle = handles.get(device);
  check_blas(cublas().set_stream(handle, nullptr), "cublasSetStream");

  // f64 computes in f64; f32 and bf16 accumulate in f32 (with alpha and beta as float), f32 on
  // TF32 tensor cores only when the user allowed it.
  const bool f64 = dtype == DType::f64;
  const cudaDataType_t type = f64 ? CUDA_R_64F : dtype == DType::bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t compute = f64 ? CUBLAS_COMPUTE_64F
                                      : dtype == DType::f32 && dm::cuda::matmul_allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                                                             : CUBLAS_COMPUTE_32F;
  const float alpha32 = static_cast<float>(alpha), beta32 = static_cast<float>(beta);
  const void* alpha_p = f64 ? static_cast<const void*>(&alpha) : static_cast<const void*>(&alpha32);
  const void* beta_p = f64 ? static_cast<const void*>(&beta) : static_cast<const void*>(&beta32);
  const std::size_t item = itemsize(dtype);

  const int m = as_int(shape.m, "m"), n = as_int(shape.n, "n"), k = as_int(shape.k, "k");
  // cuBLAS wants ld >= rows of the stored column-major matrix even when k == 0.
  const int lda = as_int(std::max<std::int64_t>(a.ld, 1), "lda"), ldb = as_int(std::max<std::int64_t>(b.ld, 1), "ldb");
  const cublasOperation_t op_a = a.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = b.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const std::int64_t c_stride = shape.m * shape.n;

  const std::int64_t stride_a = uniform_stride(a.batch_offsets, shape.batch);
  const std::int64_t stride_b = uniform_stride(b.batch_offsets, shape.batch);
  if (stride_a >= 0 && stride_b >= 0) {
    const std::byte* a0 = a.data + offset(a.batch_offsets, 0) * static_cast<std::int64_t>(item);
    const std::byte* b0 = b.data + offset(b.batch_offsets, 0) * static_cast<std::int64_t>(item);
    check_blas(cublas().gemm_strided_batched_ex(handle, op_b, op_a, n, m, k, alpha_p, b0, type, ldb, stride_b, a0, type, lda,
                                          stride_a, beta_p, c, type, n, c_stride, as_int(shape.batch, "batch"), compute,
                                          CUBLAS_GEMM_DEFAULT),
               "cublasGemmStridedBatchedEx");
  } else {
    for (std::int64_t i = 0; i < shape.batch; ++i) {
      const std::byte* ai = a.data + offset(a.batch_offsets, i) * static_cast<std::int64_t>(item);
      const std::byte* bi = b.data + offset(b.batch_offsets, i) * static_cast<std::int64_t>(item);
      std::byte* ci = c + i * c_stride * static_cast<std::int64_t>(item);
      check_blas(cublas().gemm_ex(handle, op_b, op_a, n, m, k, alpha_p, bi, type, ldb, ai, type, lda, beta_p, ci, type, n,
                              compute, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
    }
  }
}

}  // namespace dm::cuda_backend::kernels
