#pragma once
// DM_HOST_DEVICE marks a function that the CUDA kernels call as well as the CPU ones, so both
// backends share one definition of the per-element maths. The host compiler sees nothing.
#if defined(__CUDACC__)
#define DM_HOST_DEVICE __host__ __device__
#else
#define DM_HOST_DEVICE
#endif
