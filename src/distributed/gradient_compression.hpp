#pragma once
// bf16 gradient compression with error feedback, for the DDP trainer's buckets.
//
// Each rank sends its gradient rounded to bf16 (half the bytes of f32) and keeps, per element,
// what the rounding lost; that residual is added to the next step's gradient before it is
// rounded. What a rank sends over T steps then adds up to the sum of its true gradients minus
// only the last residual (at most half a bf16 ulp of the last value sent), so rounding errors
// do not pile up from step to step (Seide et al., 1-bit SGD, 2014; Karimireddy et al., 2019).
//
// The ranks exchange the bf16 values themselves (an all-gather) and each adds them up in f32
// in rank order: the same additions in the same order on every rank, so every rank holds the
// same bits, as the uncompressed all-reduce guarantees too.
#include "democratising/core/tensor.hpp"

namespace dm::dist::compression {

/// v = grad + residual; sent = bf16(v), rounded to nearest even; residual = v - sent (exact
/// in f32). grad and residual: f32 (n); sent: bf16 (n); all contiguous, in distinct storage.
void compress_with_error_feedback(const Tensor& grad, Tensor& residual, Tensor& sent);

/// out (n, f32) = gathered[0] + gathered[1] + ... + gathered[ranks - 1], added in that order,
/// each addition rounded to f32. gathered: bf16 (ranks, n), contiguous.
void sum_in_rank_order(const Tensor& gathered, Tensor& out);

}  // namespace dm::dist::compression
