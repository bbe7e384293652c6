// bf16 compression with error feedback (see gradient_compression.hpp), as tensor operations:
// the elementwise kernels round f32 to bf16 to nearest even and widen bf16 exactly, and their
// results do not depend on the thread count.
#include "gradient_compression.hpp"

#include "democratising/autograd/autograd.hpp"

namespace dm::dist::compression {

void compress_with_error_feedback(const Tensor& grad, Tensor& residual, Tensor& sent) {
  NoGradGuard no_grad;
  residual.add_(grad);   // v = grad + residual, rounded to f32 once
  sent.copy_(residual);  // bf16(v)
  // v - bf16(v) is exact in f32: both lie in one binade (or bf16(v) at its upper edge), so the
  // difference is a multiple of v's f32 ulp below half a bf16 ulp, which f32 holds.
  residual.sub_(sent);
}

void sum_in_rank_order(const Tensor& gathered, Tensor& out) {
  NoGradGuard no_grad;
  out.copy_(gathered.select(0, 0));
  for (std::int64_t r = 1; r < gathered.size(0); ++r) out.add_(gathered.select(0, r));
}

}  // namespace dm::dist::compression
