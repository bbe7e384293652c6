// CUDA kernel: index_select, a gather of whole slices along one dim. One thread per output
// element: its coordinates give the source offset, with the coordinate along `dim` replaced
// by the index it names.
#include "backend/cuda/check.hpp"
#include "backend/cuda/launch.hpp"
#include "backend/cuda/training_kernels.hpp"

namespace dm::cuda_backend::kernels {
namespace {

struct Gather {
  int ndim, dim;
  std::int64_t size[kMaxDims];
  std::int64_t src_stride[kMaxDims];
};

// Elements are moved as their bytes (Bits of the element's size): no conversion happens.
template <class Bits>
__global__ void gather_kernel(Gather g, Bits* out, const Bits* src, const std::int64_t* index, std::int64_t n) {
  const std::int64_t step = std::int64_t{gridDim.x} * blockDim.x;
  for (std::int64_t i = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    std::int64_t rest = i, off = 0;
    for (int d = g.ndim - 1; d >= 0; --d) {
      const std::int64_t c = rest % g.size[d];
      rest /= g.size[d];
      off += (d == g.dim ? index[c] : c) * g.src_stride[d];
    }
    out[i] = src[off];
  }
}

template <class Bits>
void launch(const Gather& g, std::byte* out, const std::byte* src, const std::int64_t* index, std::int64_t n) {
  gather_kernel<Bits><<<static_cast<unsigned>(grid_blocks(n)), kBlockThreads>>>(
      g, reinterpret_cast<Bits*>(out), reinterpret_cast<const Bits*>(src), index, n);
}

}  // namespace

void index_select(const backend::Output& out, const std::byte* src, const Strides& src_strides, int dim,
                  const std::int64_t* index) {
  const std::int64_t n = out.shape.numel();
  if (n == 0) return;
  Gather g{out.shape.size(), dim, {}, {}};
  for (int d = 0; d < g.ndim; ++d) {
    g.size[d] = out.shape[d];
    g.src_stride[d] = src_strides[d];
  }
  // out is contiguous, so element i sits at out + i.
  switch (itemsize(out.dtype)) {
    case 1: launch<std::uint8_t>(g, out.data, src, index, n); break;
    case 2: launch<std::uint16_t>(g, out.data, src, index, n); break;
    case 4: launch<std::uint32_t>(g, out.data, src, index, n); break;
    default: launch<std::uint64_t>(g, out.data, src, index, n); break;
  }
  check_launch("index_select");
}

}  // namespace dm::cuda_backend::kernels
