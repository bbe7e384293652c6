// The CUDA backend: memory from each device's stream-ordered pool, copies over the CUDA
// runtime, and the kernels of the .cu files beside this one (kernels.hpp, training_kernels.hpp,
// layer_kernels.hpp). An entry without a CUDA kernel yet throws a DeviceError naming it (see
// UnavailableBackend).
//
// Kernel entries take no device index: each runs on the device that holds its output, made
// current first, so a thread may alternate between devices.
//
// This file is the CUDA part of the library (democratising::cuda): it hands itself to the
// core's registry through cuda_provider.hpp.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <limits>
#include <mutex>
#include <string>

#include "backend/cuda/check.hpp"
#include "backend/cuda/cuda_provider.hpp"
#include "backend/cuda/kernels.hpp"
#include "backend/cuda/layer_kernels.hpp"
#include "backend/cuda/peer_copy.hpp"
#include "backend/cuda/training_kernels.hpp"
#include "backend/unavailable_backend.hpp"
#include "democratising/base/error.hpp"

namespace dm::cuda_backend {
namespace {

int count_devices(std::string* reason) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (reason) *reason = std::string("no CUDA device: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  if (n == 0 && reason) *reason = "no CUDA device is present";
  return n;
}

cudaStream_t stream_of(backend::Stream s) { return reinterpret_cast<cudaStream_t>(s.handle); }

// Throws a DeviceError naming `entry` when no device can run it (no driver, no GPU): without
// this, a kernel launch would fail later with a less direct reason.
void require_device(const char* entry) {
  static std::string reason;
  static const int count = count_devices(&reason);
  if (count == 0) throw DeviceError(std::string("[cuda: ") + entry + "] " + reason);
}

// Makes the device holding `p` current (null, or memory not from a device, leaves it as it is).
void use_device_of(const void* p, const char* entry) {
  require_device(entry);
  if (!p) return;
  cudaPointerAttributes attr{};
  check(cudaPointerGetAttributes(&attr, p), entry);
  if (attr.type != cudaMemoryTypeDevice) return;
  int current = -1;
  check(cudaGetDevice(&current), entry);
  if (current != attr.device) check(cudaSetDevice(attr.device), entry);
}

// Lets each device's default pool keep freed memory instead of returning it to the driver at
// every synchronisation, so steady-state training allocates without system calls.
void keep_pool_memory(int index) {
  static std::mutex mu;
  static bool done[64] = {};
  std::lock_guard lock(mu);
  if (index < 0 || index >= 64 || done[index]) return;
  cudaMemPool_t pool;
  check(cudaDeviceGetDefaultMemPool(&pool, index), "allocate");
  std::uint64_t threshold = std::numeric_limits<std::uint64_t>::max();
  check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold), "allocate");
  done[index] = true;
}

// Scratch memory on the current device's default stream, freed in stream order: work queued
// before the free may still use it.
struct StreamOrderedBuffer {
  void* data = nullptr;
  StreamOrderedBuffer(std::size_t nbytes, const char* entry) {
    check(cudaMallocAsync(&data, nbytes == 0 ? 1 : nbytes, nullptr), entry);
  }
  ~StreamOrderedBuffer() {
    if (cudaFreeAsync(data, nullptr) != cudaSuccess) cudaGetLastError();
  }
  StreamOrderedBuffer(const StreamOrderedBuffer&) = delete;
  StreamOrderedBuffer& operator=(const StreamOrderedBuffer&) = delete;
};

// Indices the op layer checked on the host (index_select's, the losses' labels), copied for a
// kernel. A copy from pageable memory returns once the bytes are staged, so the host array may
// go at once; the device copy is freed in stream order after the kernels that read it.
class DeviceIndices {
 public:
  DeviceIndices(const std::int64_t* host, std::int64_t n, const char* entry)
      : buffer_(static_cast<std::size_t>(n) * sizeof(std::int64_t), entry) {
    if (n > 0)
      check(cudaMemcpyAsync(buffer_.data, host, static_cast<std::size_t>(n) * sizeof(std::int64_t),
                            cudaMemcpyHostToDevice, nullptr),
            entry);
  }
  const std::int64_t* get() const { return static_cast<const std::int64_t*>(buffer_.data); }

 private:
  StreamOrderedBuffer buffer_;
};

class CudaBackend final : public backend::UnavailableBackend {
 public:
  CudaBackend() : UnavailableBackend("cuda", "has no CUDA kernel in this build yet") {}

  // ---- memory: stream-ordered on the device's default stream, where the kernels run ----------
  void* allocate(std::size_t nbytes, int index) override {
    check(cudaSetDevice(index), "allocate");
    keep_pool_memory(index);
    void* p = nullptr;
    const cudaError_t err = cudaMallocAsync(&p, nbytes == 0 ? 1 : nbytes, nullptr);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      throw MemoryError("[cuda: allocate] out of device memory allocating " + std::to_string(nbytes) + " bytes on cuda:" +
                        std::to_string(index));
    }
    check(err, "allocate");
    return p;
  }
  void release(void* ptr, std::size_t nbytes, int index) override {
    if (!ptr) return;
    wait_for_pending_reads(ptr, nbytes, index);  // a copy to another GPU may still read it
    if (cudaSetDevice(index) != cudaSuccess || cudaFreeAsync(ptr, nullptr) != cudaSuccess) cudaGetLastError();
  }
  void copy_from_host(void* dst, const void* src, std::size_t nbytes, int index, backend::Stream s) override {
    check(cudaSetDevice(index), "copy_from_host");
    check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream_of(s)), "copy_from_host");
    check(cudaStreamSynchronize(stream_of(s)), "copy_from_host");
  }
  void copy_to_host(void* dst, const void* src, std::size_t nbytes, int index, backend::Stream s) override {
    check(cudaSetDevice(index), "copy_to_host");
    check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, stream_of(s)), "copy_to_host");
    check(cudaStreamSynchronize(stream_of(s)), "copy_to_host");
  }
  void copy_on_device(void* dst, int dst_index, const void* src, int src_index, std::size_t nbytes,
                      backend::Stream s) override {
    if (nbytes == 0) return;
    // Between two GPUs on the default streams: event-ordered on a copy stream (peer_copy.cpp).
    if (s.handle == 0 && dst_index != src_index) return copy_between_devices(dst, dst_index, src, src_index, nbytes);
    check(cudaSetDevice(dst_index), "copy_on_device");  // stream 0 is then the destination's
    check(cudaMemcpyPeerAsync(dst, dst_index, src, src_index, nbytes, stream_of(s)), "copy_on_device");
  }
  void synchronize(int index) override {
    check(cudaSetDevice(index), "synchronize");
    check(cudaDeviceSynchronize(), "synchronize");
  }

  // ---- elementwise -------------------------------------------------------------------------
  void unary(UnaryOp op, const backend::Output& out, const backend::Operand& a, UnaryParams params,
             DType compute) override {
    use_device_of(out.data, "unary");
    kernels::unary(op, out, a, params, compute);
  }
  void binary(BinaryOp op, const backend::Output& out, const backend::Operand& a, const backend::Operand& b,
              DType compute) override {
    use_device_of(out.data, "binary");
    kernels::binary(op, out, a, b, compute);
  }
  void binary_scalar(BinaryOp op, const backend::Output& out, const backend::Operand& a, double scalar,
                     ScalarSide side, DType compute) override {
    use_device_of(out.data, "binary_scalar");
    kernels::binary_scalar(op, out, a, scalar, side, compute);
  }
  void compare(CompareOp op, const backend::Output& out, const backend::Operand& a, const backend::Operand& b,
               DType compute) override {
    use_device_of(out.data, "compare");
    kernels::compare(op, out, a, b, compute);
  }
  void compare_scalar(CompareOp op, const backend::Output& out, const backend::Operand& a, double scalar,
                      DType compute) override {
    use_device_of(out.data, "compare_scalar");
    kernels::compare_scalar(op, out, a, scalar, compute);
  }
  void where(const backend::Output& out, const backend::Operand& cond, const backend::Operand& a,
             const backend::Operand& b) override {
    use_device_of(out.data, "where");
    kernels::where(out, cond, a, b);
  }
  void copy(const backend::Output& out, const backend::Operand& src) override {
    use_device_of(out.data, "copy");
    kernels::copy(out, src);
  }
  void fill(const backend::Output& out, double value) override {
    use_device_of(out.data, "fill");
    kernels::fill(out, value);
  }

  // ---- reductions --------------------------------------------------------------------------
  void reduce_sum(SumKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::int64_t correction,
                  std::byte* out) override {
    use_device_of(out, "reduce_sum");
    kernels::reduce_sum(kind, in, dtype, g, correction, out);
  }
  void reduce_extreme(Extreme kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* values,
                      std::int64_t* indices) override {
    use_device_of(values ? static_cast<const void*>(values) : indices, "reduce_extreme");
    kernels::reduce_extreme(kind, in, dtype, g, values, indices);
  }
  void softmax(SoftmaxKind kind, const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) override {
    use_device_of(out, "softmax");
    kernels::softmax(kind, in, dtype, g, out);
  }
  void logsumexp(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out) override {
    use_device_of(out, "logsumexp");
    kernels::logsumexp(in, dtype, g, out);
  }

  // ---- matrix products ---------------------------------------------------------------------
  void gemm(DType dtype, const GemmShape& shape, const backend::GemmOperand& a, const backend::GemmOperand& b,
            std::byte* c, double alpha, double beta, Schedule) override {
    use_device_of(c, "gemm");
    kernels::gemm(dtype, shape, a, b, c, alpha, beta);
  }
  bool gemm_takes_bf16() const override { return true; }

  // ---- random numbers ----------------------------------------------------------------------
  void random_uniform(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double low,
                      double high) override {
    use_device_of(out, "random_uniform");
    kernels::random_uniform(out, dtype, n, seed, start, low, high);
  }
  void random_normal(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double mean,
                     double std) override {
    use_device_of(out, "random_normal");
    kernels::random_normal(out, dtype, n, seed, start, mean, std);
  }
  void random_int(std::int64_t* out, std::int64_t n, std::uint64_t seed, std::uint64_t start, std::int64_t low,
                  std::int64_t high) override {
    use_device_of(out, "random_int");
    kernels::random_int(out, n, seed, start, low, high);
  }

  // ---- gathers and fused training kernels --------------------------------------------------
  void index_select(const backend::Output& out, const std::byte* src, const Strides& src_strides, int dim,
                    const std::int64_t* index) override {
    use_device_of(out.data, "index_select");
    kernels::index_select(out, src, src_strides, dim, DeviceIndices(index, out.shape[dim], "index_select").get());
  }
  void layer_norm_forward(DType dtype, const std::byte* x, const std::byte* w, const std::byte* b, std::byte* y,
                          std::byte* mean, std::byte* rstd, std::int64_t rows, std::int64_t d, double eps) override {
    use_device_of(y, "layer_norm_forward");
    kernels::layer_norm_forward(dtype, x, w, b, y, mean, rstd, rows, d, eps);
  }
  void layer_norm_backward(DType dtype, const std::byte* g, const std::byte* x, const std::byte* w,
                           const std::byte* mean, const std::byte* rstd, std::byte* dx, std::byte* dw, std::byte* db,
                           std::int64_t rows, std::int64_t d) override {
    use_device_of(g, "layer_norm_backward");
    kernels::layer_norm_backward(dtype, g, x, w, mean, rstd, dx, dw, db, rows, d);
  }
  void cross_entropy_forward(DType dtype, const std::byte* logits, const std::int64_t* labels, std::byte* probs,
                             double* row_loss, std::int64_t rows, std::int64_t cols) override {
    use_device_of(probs, "cross_entropy_forward");
    kernels::cross_entropy_forward(dtype, logits, DeviceIndices(labels, rows, "cross_entropy_forward").get(), probs, row_loss,
                                   rows, cols);
  }
  bool all_finite(const std::byte* data, DType dtype, std::int64_t n) override {
    use_device_of(data, "all_finite");
    return kernels::all_finite(data, dtype, n);
  }
  double nll_sum(DType dtype, const std::byte* log_probs, const std::int64_t* labels, std::int64_t rows,
                 std::int64_t cols) override {
    use_device_of(log_probs, "nll_sum");
    return kernels::nll_sum(dtype, log_probs, DeviceIndices(labels, rows, "nll_sum").get(), rows, cols);
  }
  double squared_error_sum(DType dtype, const std::byte* p, const std::byte* t, std::int64_t n) override {
    use_device_of(p, "squared_error_sum");
    return kernels::squared_error_sum(dtype, p, t, n);
  }
  void unary_backward(UnaryGradOp op, DType dtype, const std::byte* g, const std::byte* x, const std::byte* y,
                      std::byte* dx, std::int64_t n) override {
    use_device_of(dx, "unary_backward");
    kernels::unary_backward(op, dtype, g, x, y, dx, n);
  }
  void bias_add_rows(DType dtype, std::byte* y, const std::byte* b, std::int64_t rows, std::int64_t cols) override {
    use_device_of(y, "bias_add_rows");
    kernels::bias_add_rows(dtype, y, b, rows, cols);
  }
  void sum_rows(DType dtype, const std::byte* g, std::byte* out, std::int64_t rows, std::int64_t cols) override {
    use_device_of(out, "sum_rows");
    kernels::sum_rows(dtype, g, out, rows, cols);
  }
  void dropout_mask(DType dtype, std::byte* mask, double keep, std::int64_t n) override {
    use_device_of(mask, "dropout_mask");
    kernels::dropout_mask(dtype, mask, keep, n);
  }
  void multiply(DType dtype, const std::byte* a, const std::byte* b, std::byte* out, std::int64_t n) override {
    use_device_of(out, "multiply");
    kernels::multiply(dtype, a, b, out, n);
  }
  void scaled_difference(DType dtype, const std::byte* p, const std::byte* t, std::byte* out, double scale,
                         std::int64_t n) override {
    use_device_of(out, "scaled_difference");
    kernels::scaled_difference(dtype, p, t, out, scale, n);
  }
  void nll_backward(DType dtype, std::byte* out, const std::int64_t* labels, double value, std::int64_t rows,
                    std::int64_t cols) override {
    use_device_of(out, "nll_backward");
    kernels::nll_backward(dtype, out, DeviceIndices(labels, rows, "nll_backward").get(), value, rows, cols);
  }
  void cross_entropy_backward(DType dtype, const std::byte* probs, const std::int64_t* labels, std::byte* dlogits,
                              double scale, std::int64_t rows, std::int64_t cols) override {
    use_device_of(dlogits, "cross_entropy_backward");
    kernels::cross_entropy_backward(dtype, probs, DeviceIndices(labels, rows, "cross_entropy_backward").get(), dlogits,
                                    scale, rows, cols);
  }
  void sgd_step(DType dtype, std::byte* p, const std::byte* g, std::byte* buf, std::int64_t n,
                const backend::SgdStep& step) override {
    use_device_of(p, "sgd_step");
    kernels::sgd_step(dtype, p, g, buf, n, step);
  }
  void adam_step(DType dtype, std::byte* p, const std::byte* g, std::byte* m, std::byte* v, std::int64_t n,
                 const backend::AdamStep& step) override {
    use_device_of(p, "adam_step");
    kernels::adam_step(dtype, p, g, m, v, n, step);
  }
  void add_scaled_many(float* p, std::span<const float* const> deltas, float alpha, std::int64_t n) override {
    use_device_of(p, "add_scaled_many");
    kernels::add_scaled_many(p, deltas, alpha, n);
  }
  void weighted_sum(DType dtype, std::byte* out, std::span<const std::byte* const> sources,
                    std::span<const double> weights, std::int64_t n) override {
    use_device_of(out, "weighted_sum");
    kernels::weighted_sum(dtype, out, sources, weights, n);
  }

  // ---- the model layers' kernels (conv2d.cu, the pooling files, batch_norm.cu, group_norm.cu,
  // embedding.cu, attention.cu) ------------------------------------------------------------------
  void conv2d_forward(DType dtype, const backend::Conv2dGeometry& geo, const std::byte* x, const std::byte* w,
                      const std::byte* bias, std::byte* y) override {
    use_device_of(y, "conv2d_forward");
    kernels::conv2d_forward(dtype, geo, x, w, bias, y);
  }
  void conv2d_backward(DType dtype, const backend::Conv2dGeometry& geo, const std::byte* g, const std::byte* x,
                       const std::byte* w, std::byte* dx, std::byte* dw, std::byte* db) override {
    use_device_of(g, "conv2d_backward");
    kernels::conv2d_backward(dtype, geo, g, x, w, dx, dw, db);
  }
  void max_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* x, std::byte* y,
                          std::int64_t* indices) override {
    use_device_of(y, "max_pool2d_forward");
    kernels::max_pool2d_forward(dtype, geo, x, y, indices);
  }
  void max_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* g,
                           const std::int64_t* indices, std::byte* dx) override {
    use_device_of(dx, "max_pool2d_backward");
    kernels::max_pool2d_backward(dtype, geo, g, indices, dx);
  }
  void avg_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, bool count_include_pad, const std::byte* x,
                          std::byte* y) override {
    use_device_of(y, "avg_pool2d_forward");
    kernels::avg_pool2d_forward(dtype, geo, count_include_pad, x, y);
  }
  void avg_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, bool count_include_pad, const std::byte* g,
                           std::byte* dx) override {
    use_device_of(dx, "avg_pool2d_backward");
    kernels::avg_pool2d_backward(dtype, geo, count_include_pad, g, dx);
  }
  void adaptive_avg_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* x,
                                   std::byte* y) override {
    use_device_of(y, "adaptive_avg_pool2d_forward");
    kernels::adaptive_avg_pool2d_forward(dtype, geo, x, y);
  }
  void adaptive_avg_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* g,
                                    std::byte* dx) override {
    use_device_of(dx, "adaptive_avg_pool2d_backward");
    kernels::adaptive_avg_pool2d_backward(dtype, geo, g, dx);
  }
  void embedding_backward(DType dtype, const std::byte* g, const std::int64_t* indices, std::int64_t n,
                          std::int64_t num, std::int64_t dim, std::byte* dw) override {
    use_device_of(dw, "embedding_backward");
    kernels::embedding_backward(dtype, g, indices, n, num, dim, dw);
  }
  void attention_forward(DType dtype, const backend::AttentionGeometry& geo, const std::byte* q, const std::byte* k,
                         const std::byte* v, std::byte* out, std::byte* lse) override {
    use_device_of(out, "attention_forward");
    kernels::attention_forward(dtype, geo, q, k, v, out, lse);
  }
  void attention_backward(DType dtype, const backend::AttentionGeometry& geo, const std::byte* g, const std::byte* q,
                          const std::byte* k, const std::byte* v, const std::byte* lse, std::byte* dq, std::byte* dk,
                          std::byte* dv) override {
    use_device_of(q, "attention_backward");
    kernels::attention_backward(dtype, geo, g, q, k, v, lse, dq, dk, dv);
  }
  void batch_norm_forward(DType dtype, const backend::NormGeometry& geo, const std::byte* x, const std::byte* w,
                          const std::byte* b, const std::byte* running_mean, const std::byte* running_var,
                          bool training, double eps, std::byte* y, std::byte* mean, std::byte* invstd,
                          std::byte* unbiased_var) override {
    use_device_of(y, "batch_norm_forward");
    kernels::batch_norm_forward(dtype, geo, x, w, b, running_mean, running_var, training, eps, y, mean, invstd,
                                unbiased_var);
  }
  void batch_norm_backward(DType dtype, const backend::NormGeometry& geo, const std::byte* g, const std::byte* x,
                           const std::byte* w, const std::byte* mean, const std::byte* invstd, bool training,
                           std::byte* dx, std::byte* dw, std::byte* db) override {
    use_device_of(g, "batch_norm_backward");
    kernels::batch_norm_backward(dtype, geo, g, x, w, mean, invstd, training, dx, dw, db);
  }
  void batch_norm_statistics(DType dtype, const backend::NormGeometry& geo, const std::byte* x,
                             std::byte* stats) override {
    use_device_of(stats, "batch_norm_statistics");
    kernels::batch_norm_statistics(dtype, geo, x, stats);
  }
  void batch_norm_combine_statistics(std::int64_t parts, std::int64_t channels, const std::byte* gathered, double eps,
                                     std::byte* combined) override {
    use_device_of(combined, "batch_norm_combine_statistics");
    kernels::batch_norm_combine_statistics(parts, channels, gathered, eps, combined);
  }
  void batch_norm_normalize(DType dtype, const backend::NormGeometry& geo, const std::byte* x, const std::byte* w,
                            const std::byte* b, const std::byte* mean, const std::byte* invstd,
                            std::byte* y) override {
    use_device_of(y, "batch_norm_normalize");
    kernels::batch_norm_normalize(dtype, geo, x, w, b, mean, invstd, y);
  }
  void batch_norm_backward_sums(DType dtype, const backend::NormGeometry& geo, const std::byte* g, const std::byte* x,
                                const std::byte* mean, const std::byte* invstd, std::byte* sums) override {
    use_device_of(sums, "batch_norm_backward_sums");
    kernels::batch_norm_backward_sums(dtype, geo, g, x, mean, invstd, sums);
  }
  void batch_norm_backward_input(DType dtype, const backend::NormGeometry& geo, const std::byte* g, const std::byte* x,
                                 const std::byte* w, const std::byte* mean, const std::byte* invstd,
                                 const std::byte* sums, double count, std::byte* dx) override {
    use_device_of(dx, "batch_norm_backward_input");
    kernels::batch_norm_backward_input(dtype, geo, g, x, w, mean, invstd, sums, count, dx);
  }
  void group_norm_forward(DType dtype, const backend::NormGeometry& geo, const std::byte* x, const std::byte* w,
                          const std::byte* b, double eps, std::byte* y, std::byte* mean, std::byte* rstd) override {
    use_device_of(y, "group_norm_forward");
    kernels::group_norm_forward(dtype, geo, x, w, b, eps, y, mean, rstd);
  }
  void group_norm_backward(DType dtype, const backend::NormGeometry& geo, const std::byte* g, const std::byte* x,
                           const std::byte* w, const std::byte* mean, const std::byte* rstd, std::byte* dx,
                           std::byte* dw, std::byte* db) override {
    use_device_of(g, "group_norm_backward");
    kernels::group_norm_backward(dtype, geo, g, x, w, mean, rstd, dx, dw, db);
  }
};

backend::Backend& the_backend() {
  static CudaBackend cuda;
  return cuda;
}

}  // namespace
}  // namespace dm::cuda_backend

extern "C" const dm::cuda_backend::Provider* dm_cuda_backend_provider() {
  static constexpr dm::cuda_backend::Provider provider{&dm::cuda_backend::count_devices, &dm::cuda_backend::the_backend};
  return &provider;
}
