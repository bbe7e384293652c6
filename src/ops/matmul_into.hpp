#pragma once
// matmul writing into storage the caller already has (a gradient buffer, say), recording no
// autograd node: out (m, n), contiguous, = lhs (m, k) @ rhs (k, n), all f32 or all f64 on the
// CPU. Operands may be strided views; the output may not share storage with them.
#include "democratising/core/tensor.hpp"

namespace dm {

void matmul_into(const Tensor& lhs, const Tensor& rhs, const Tensor& out);

}  // namespace dm
