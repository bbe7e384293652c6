#pragma once
// Turns a strided tensor and a set of reduced dims into the dense (outer, reduce, inner)
// block that the backends' reduction kernels read (see ReduceGeometry in backend/op_kinds.hpp), copying only when the
// reduced elements cannot be reached that way in place.
#include <cstdint>

#include "democratising/base/shape.hpp"
#include "democratising/core/tensor.hpp"
#include "backend/op_kinds.hpp"

namespace dm::reduction {

/// Bit d set: dim d is reduced.
using DimMask = std::uint32_t;

struct ReduceLayout {
  /// The input itself when it is dense (a permutation of a contiguous layout) and its reduced
  /// dims are adjacent in memory; otherwise a dense copy. Same logical shape as the input;
  /// its data() is the first element of the (outer, reduce, inner) block.
  Tensor dense;
  ReduceGeometry geometry;
  /// For each input dim, its stride inside the kernel's (outer, inner) output block; 0 for
  /// reduced dims (size 1 in the keepdim output).
  Strides kept_strides;
};

/// The impl of `x`, after checking it is defined (a ValueError naming `op` otherwise).
const TensorImpl& reduction_input(const Tensor& x, const char* op);

/// Plans a reduction of `x` (numel > 0) over the dims in `reduced`. The reduce axis
/// visits elements in memory order, which is the logical order when `x` is contiguous or
/// when a single dim is reduced.
ReduceLayout plan_reduce_layout(const Tensor& x, DimMask reduced);

/// The shape of a reduction's result: reduced dims become 1 (keepdim) or disappear.
Shape reduced_shape(const Shape& shape, DimMask reduced, bool keepdim);

/// Wraps the kernel's (outer, inner) output `block` (a contiguous tensor) as the reduction's
/// result in logical dim order: a contiguous tensor of reduced_shape(..., keepdim).
Tensor arrange_reduced_output(const Tensor& block, const Shape& input_shape, const ReduceLayout& layout,
                              DimMask reduced, bool keepdim);

}  // namespace dm::reduction
