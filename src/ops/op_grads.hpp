#pragma once
// Backward formulas of the tensor ops, one function per op family. An op calls
//   if (autograd::needs_grad({&a, &b})) autograd::record(out, name, {&a, &b}, binary_backward(op, a, b, out));
// Each formula captures detached handles (never `out` itself: a node holding its own output
// would keep itself alive) and returns gradients in each input's shape and dtype.
#include <cstdint>
#include <vector>

#include "backend/op_kinds.hpp"
#include "autograd/record.hpp"

namespace dm::autograd {

BackwardFn binary_backward(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
BackwardFn binary_scalar_backward(BinaryOp op, const Tensor& a, double scalar, ScalarSide side, const Tensor& out);
BackwardFn unary_backward(UnaryOp op, const Tensor& a, const Tensor& out, UnaryParams params);
BackwardFn where_backward(const Tensor& cond, const Tensor& a, const Tensor& b);

/// sum/mean over `dims` (all dims when empty); `scale` is 1 for sum, 1/count for mean.
BackwardFn sum_backward(const Tensor& a, const std::vector<std::int64_t>& dims, bool keepdim, double scale);
/// max/min over dims (all when empty): the gradient is shared evenly among tied extremes.
BackwardFn extreme_backward(const Tensor& a, const Tensor& out, const std::vector<std::int64_t>& dims, bool keepdim);
BackwardFn var_backward(const Tensor& a, const std::vector<std::int64_t>& dims, std::int64_t correction, bool keepdim);
BackwardFn std_backward(const Tensor& a, const Tensor& out, const std::vector<std::int64_t>& dims, std::int64_t correction,
                        bool keepdim);
BackwardFn softmax_backward(const Tensor& out, std::int64_t dim);
BackwardFn log_softmax_backward(const Tensor& out, std::int64_t dim);
BackwardFn logsumexp_backward(const Tensor& a, const Tensor& out, std::int64_t dim, bool keepdim);

BackwardFn matmul_backward(const Tensor& a, const Tensor& b);

/// Views and copies whose gradient is the incoming one reshaped to the input's shape.
BackwardFn reshape_backward(const Tensor& a);
BackwardFn transpose_backward(std::int64_t dim0, std::int64_t dim1);
BackwardFn permute_backward(const std::vector<std::int64_t>& dims);
/// slice/narrow/select: scatter the gradient into zeros through the same view `take`.
BackwardFn view_scatter_backward(const Tensor& a, std::function<Tensor(const Tensor&)> take);
BackwardFn index_select_backward(const Tensor& a, std::int64_t dim, const Tensor& index);
BackwardFn expand_backward(const Tensor& a);
BackwardFn identity_backward(const Tensor& a);  // clone, contiguous, to(dtype)
BackwardFn cat_backward(const std::vector<Tensor>& inputs, std::int64_t dim);
BackwardFn stack_backward(std::size_t count, std::int64_t dim);

}  // namespace dm::autograd
