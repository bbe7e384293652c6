// Loading cuBLAS on first use (see cublas_library.hpp).
#include "backend/cuda/cublas_library.hpp"

#include <dlfcn.h>

#include <atomic>
#include <mutex>

#include "democratising/base/error.hpp"

namespace dm::cuda_backend {
namespace {

std::atomic<bool> loaded{false};

template <class Fn>
void resolve(void* handle, const char* symbol, Fn& entry) {
  void* address = dlsym(handle, symbol);
  if (!address)
    throw DeviceError("[cuda: gemm] " + cublas_soname() + " has no symbol " + symbol + ": not the cuBLAS " +
                      std::to_string(CUBLAS_VER_MAJOR) + " this build expects");
  entry = reinterpret_cast<Fn>(address);
}

Cublas load() {
  const std::string soname = cublas_soname();
  void* handle = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  // Linking used to record the toolkit's directory in the binary; the load looks there too.
  if (!handle) handle = dlopen((std::string(DM_CUDA_LIBRARY_DIR) + "/" + soname).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw DeviceError("[cuda: gemm] cannot load " + soname + " (" + (why ? why : "unknown reason") +
                      "): put the directory holding it (the CUDA toolkit's lib64, or PyTorch's nvidia/cublas/lib) "
                      "on LD_LIBRARY_PATH");
  }
  Cublas c;
  resolve(handle, "cublasCreate_v2", c.create);
  resolve(handle, "cublasDestroy_v2", c.destroy);
  resolve(handle, "cublasSetMathMode", c.set_math_mode);
  resolve(handle, "cublasSetStream_v2", c.set_stream);
  resolve(handle, "cublasGemmEx", c.gemm_ex);
  resolve(handle, "cublasGemmStridedBatchedEx", c.gemm_strided_batched_ex);
  resolve(handle, "cublasGetStatusString", c.status_string);
  return c;  // the library stays loaded: handles live until their threads end
}

}  // namespace

std::string cublas_soname() { return "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR); }

const Cublas& cublas() {
  static std::mutex mutex;
  static Cublas library;
  if (loaded.load(std::memory_order_acquire)) return library;
  std::lock_guard lock(mutex);
  if (!loaded.load(std::memory_order_relaxed)) {
    library = load();  // a failure is tried again on the next GEMM
    loaded.store(true, std::memory_order_release);
  }
  return library;
}

bool cublas_loaded() { return loaded.load(std::memory_order_acquire); }

}  // namespace dm::cuda_backend
