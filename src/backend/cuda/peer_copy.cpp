// Copies between GPUs (Tensor::to from cuda:i to cuda:j, so ModelParallel's hand-offs of
// activations and gradients between stages), ordered by events rather than by synchronising:
//
//   source default stream      ... producer kernels  [src_ready]  next micro-batch ...
//   destination copy stream                  wait(src_ready, dst_ready)  memcpy peer  [copied]
//   destination default stream ... [dst_ready: the allocation]            wait(copied)  consumer ...
//
// The copy runs on a stream of its own on the destination device, so neither device's compute
// queues behind it: the source goes on with the next micro-batch while the copy engine moves this
// one. The destination's buffer was allocated in order on its default stream, hence dst_ready.
// The source's default stream is not made to wait (that would tie the producer to the consumer's
// progress); instead the copy is remembered (pending_reads.hpp) and a release of its source
// waits for it, so the block is not handed to a new kernel before it has been read.
#include "backend/cuda/peer_copy.hpp"

#include <cuda_runtime_api.h>

#include <mutex>

#include "backend/cuda/check.hpp"
#include "backend/cuda/pending_reads.hpp"

namespace dm::cuda_backend {
namespace {

constexpr int kMaxDevices = 64;

// One copy stream per destination device, made on first use, never destroyed (the process's
// streams go with its CUDA context).
cudaStream_t copy_stream(int device) {
  static std::mutex mutex;
  static cudaStream_t streams[kMaxDevices] = {};
  std::lock_guard lock(mutex);
  if (device < 0 || device >= kMaxDevices) throw DeviceError("[cuda: copy_on_device] no device cuda:" + std::to_string(device));
  if (!streams[device]) check(cudaStreamCreateWithFlags(&streams[device], cudaStreamNonBlocking), "copy_on_device");
  return streams[device];
}

PendingReads<cudaEvent_t>& pending_reads() {
  static PendingReads<cudaEvent_t> reads;
  return reads;
}

// An event on the current device recorded on `stream`.
cudaEvent_t record(cudaStream_t stream) {
  cudaEvent_t event = nullptr;
  check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "copy_on_device");
  const cudaError_t err = cudaEventRecord(event, stream);
  if (err != cudaSuccess) cudaEventDestroy(event);
  check(err, "copy_on_device");
  return event;
}

}  // namespace

void copy_between_devices(void* dst, int dst_index, const void* src, int src_index, std::size_t nbytes) {
  check(cudaSetDevice(src_index), "copy_on_device");
  cudaEvent_t src_ready = record(nullptr);
  check(cudaSetDevice(dst_index), "copy_on_device");
  cudaEvent_t dst_ready = record(nullptr);
  const cudaStream_t stream = copy_stream(dst_index);
  // Destroying an event whose waits are queued is allowed: CUDA frees it once they are done.
  const cudaError_t waited = [&] {
    cudaError_t err = cudaStreamWaitEvent(stream, src_ready, 0);
    if (err == cudaSuccess) err = cudaStreamWaitEvent(stream, dst_ready, 0);
    return err;
  }();
  cudaEventDestroy(src_ready);
  cudaEventDestroy(dst_ready);
  check(waited, "copy_on_device");
  check(cudaMemcpyPeerAsync(dst, dst_index, src, src_index, nbytes, stream), "copy_on_device");
  cudaEvent_t copied = record(stream);
  const cudaError_t err = cudaStreamWaitEvent(nullptr, copied, 0);  // the consumers come after it
  if (err != cudaSuccess) cudaEventDestroy(copied);
  check(err, "copy_on_device");
  pending_reads().add(src, nbytes, copied);  // destroyed once done or waited for
}

void wait_for_pending_reads(const void* block, std::size_t nbytes, int index) {
  const std::vector<cudaEvent_t> reading = pending_reads().take_overlapping(
      block, nbytes, [](cudaEvent_t e) { return cudaEventQuery(e) == cudaSuccess; },
      [](cudaEvent_t e) { cudaEventDestroy(e); });
  if (reading.empty()) return;
  if (cudaSetDevice(index) != cudaSuccess) cudaGetLastError();
  for (cudaEvent_t e : reading) {
    // Without the wait the block could be reused while read; a failed wait falls back to waiting here.
    if (cudaStreamWaitEvent(nullptr, e, 0) != cudaSuccess) {
      cudaGetLastError();
      cudaEventSynchronize(e);
    }
    cudaEventDestroy(e);
  }
}

}  // namespace dm::cuda_backend
