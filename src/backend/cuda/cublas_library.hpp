#pragma once
// cuBLAS, loaded with dlopen on the first GEMM rather than by the dynamic loader at program
// start: mapping libcublas and libcublasLt (hundreds of MB) cost every run of a CUDA build about
// 0.1 s, dm --help and CPU training included. The header gives the types; only the entries the
// GEMM calls are resolved.
#include <cublas_api.h>

#include <string>

namespace dm::cuda_backend {

struct Cublas {
  cublasStatus_t (*create)(cublasHandle_t* handle) = nullptr;
  cublasStatus_t (*destroy)(cublasHandle_t handle) = nullptr;
  cublasStatus_t (*set_math_mode)(cublasHandle_t handle, cublasMath_t mode) = nullptr;
  cublasStatus_t (*set_stream)(cublasHandle_t handle, cudaStream_t stream) = nullptr;
  cublasStatus_t (*gemm_ex)(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* a, cudaDataType a_type, int lda, const void* b,
                            cudaDataType b_type, int ldb, const void* beta, void* c, cudaDataType c_type, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t algo) = nullptr;
  cublasStatus_t (*gemm_strided_batched_ex)(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                            int m, int n, int k, const void* alpha, const void* a, cudaDataType a_type,
                                            int lda, long long stride_a, const void* b, cudaDataType b_type, int ldb,
                                            long long stride_b, const void* beta, void* c, cudaDataType c_type,
                                            int ldc, long long stride_c, int batch, cublasComputeType_t compute,
                                            cublasGemmAlgo_t algo) = nullptr;
  const char* (*status_string)(cublasStatus_t status) = nullptr;
};

/// "libcublas.so.<major>" of the cuBLAS this build was compiled against.
std::string cublas_soname();

/// The process's cuBLAS, loaded on first use (thread-safe). A library that cannot be loaded, or
/// lacks an entry, is a DeviceError naming it.
const Cublas& cublas();

/// Whether cuBLAS has been loaded (tests: not before the first GEMM).
bool cublas_loaded();

}  // namespace dm::cuda_backend
