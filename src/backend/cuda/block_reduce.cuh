#pragma once
// Block-wide reductions whose result every thread of the block receives: CUB's reduction in
// its fixed tree, then a broadcast through shared memory. The order of combination depends
// only on the block size, so results are the same bits on every run.
#include <cub/block/block_reduce.cuh>

namespace dm::cuda_backend {

template <class A, int Threads>
using BlockReduce = cub::BlockReduce<A, Threads>;

template <int Threads, class A, class Op>
__device__ A block_fold(A part, Op op, typename BlockReduce<A, Threads>::TempStorage& tmp, A* shared) {
  const A total = BlockReduce<A, Threads>(tmp).Reduce(part, op);
  if (threadIdx.x == 0) *shared = total;
  __syncthreads();
  const A result = *shared;
  __syncthreads();  // tmp and *shared may be reused next
  return result;
}

template <int Threads, class A>
__device__ A block_sum(A part, typename BlockReduce<A, Threads>::TempStorage& tmp, A* shared) {
  const A total = BlockReduce<A, Threads>(tmp).Sum(part);
  if (threadIdx.x == 0) *shared = total;
  __syncthreads();
  const A result = *shared;
  __syncthreads();
  return result;
}

}  // namespace dm::cuda_backend
