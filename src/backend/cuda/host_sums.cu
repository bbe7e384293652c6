// CUDA kernels whose result goes back to the host: all_finite, nll_sum and squared_error_sum.
// Sums run in one block of kSumThreads threads (each thread's share in order, then CUB's
// fixed tree), in f64, so a run gives the same bits every time; the combination order is not
// the CPU's, so they agree with it to rounding.
#include <cub/block/block_reduce.cuh>

#include <string>

#include "backend/cuda/check.hpp"
#include "backend/cuda/launch.hpp"
#include "backend/cuda/training_kernels.hpp"
#include "backend/cuda/values.cuh"

namespace dm::cuda_backend::kernels {
namespace {

inline constexpr int kSumThreads = 512;

// One device scalar for a result, released (stream-ordered) after it is read back.
template <class T>
class Scalar {
 public:
  explicit Scalar(const char* entry) : entry_(entry) { check(cudaMallocAsync(&ptr_, sizeof(T), nullptr), entry); }
  ~Scalar() { cudaFreeAsync(ptr_, nullptr); }
  Scalar(const Scalar&) = delete;
  Scalar& operator=(const Scalar&) = delete;
  T* get() const { return ptr_; }
  T read() const {
    T v{};
    check(cudaMemcpyAsync(&v, ptr_, sizeof(T), cudaMemcpyDeviceToHost, nullptr), entry_);
    check(cudaStreamSynchronize(nullptr), entry_);
    return v;
  }

 private:
  const char* entry_;
  T* ptr_ = nullptr;
};

// A term per index, summed in f64 by one block.
template <class Term>
__global__ void sum_kernel(std::int64_t n, Term term, double* out) {
  using Reduce = cub::BlockReduce<double, kSumThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  double part = 0.0;
  for (std::int64_t i = threadIdx.x; i < n; i += kSumThreads) part += term(i);
  const double total = Reduce(tmp).Sum(part);
  if (threadIdx.x == 0) *out = total;
}

template <class Term>
double sum_on_device(const char* entry, std::int64_t n, Term term) {
  Scalar<double> result(entry);
  sum_kernel<Term><<<1, kSumThreads>>>(n, term, result.get());
  check_launch(entry);
  return result.read();
}

template <class T>
struct NegLogProb {
  const T* log_probs;
  const std::int64_t* labels;
  std::int64_t cols;
  __device__ double operator()(std::int64_t r) const { return -static_cast<double>(log_probs[r * cols + labels[r]]); }
};

template <class T>
struct SquaredError {
  const T *p, *t;
  __device__ double operator()(std::int64_t i) const {
    const double d = static_cast<double>(p[i]) - (t ? static_cast<double>(t[i]) : 0.0);  // null t: p^2
    return d * d;
  }
};

// Clears *finite where an element is an infinity or NaN. Every writer stores the same 0, so
// the race between them cannot change the result.
__global__ void finite_kernel(const std::byte* data, DType dtype, std::int64_t n, int* finite) {
  const std::int64_t step = std::int64_t{gridDim.x} * blockDim.x;
  for (std::int64_t i = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step)
    if (!isfinite(load<double>(data, dtype, i))) *finite = 0;
}

template <class F>
double dispatch_float(DType dtype, const char* entry, F&& f) {
  if (dtype == DType::f32) return f(float{});
  if (dtype == DType::f64) return f(double{});
  throw DTypeError(std::string("[cuda: ") + entry + "] expects f32 or f64, got " + std::string(dtype_name(dtype)));
}

}  // namespace

bool all_finite(const std::byte* data, DType dtype, std::int64_t n) {
  if (!is_floating(dtype))
    throw DTypeError("[cuda: all_finite] expects f32, f64 or bf16, got " + std::string(dtype_name(dtype)));
  if (n <= 0) return true;
  Scalar<int> finite("all_finite");
  const int one = 1;
  check(cudaMemcpyAsync(finite.get(), &one, sizeof one, cudaMemcpyHostToDevice, nullptr), "all_finite");
  finite_kernel<<<static_cast<unsigned>(grid_blocks(n)), kBlockThreads>>>(data, dtype, n, finite.get());
  check_launch("all_finite");
  return finite.read() != 0;
}

double nll_sum(DType dtype, const std::byte* log_probs, const std::int64_t* labels, std::int64_t rows,
               std::int64_t cols) {
  return dispatch_float(dtype, "nll_sum", [&]<class T>(T) {
    return sum_on_device("nll_sum", rows, NegLogProb<T>{reinterpret_cast<const T*>(log_probs), labels, cols});
  });
}

double squared_error_sum(DType dtype, const std::byte* p, const std::byte* t, std::int64_t n) {
  return dispatch_float(dtype, "squared_error_sum", [&]<class T>(T) {
    return sum_on_device("squared_error_sum", n,
                         SquaredError<T>{reinterpret_cast<const T*>(p), reinterpret_cast<const T*>(t)});
  });
}

}  // namespace dm::cuda_backend::kernels
