// Finding the (outer, reduce, inner) block of a reduction inside a strided tensor.
//
// A dense tensor (every element at a distinct offset, no gaps) is a permutation of a
// contiguous layout. Ordering its non-trivial dims by decreasing stride gives memory order;
// if the reduced dims form one run in that order, the tensor already is the block
// (outer = kept dims before the run, inner = kept dims after it) and nothing is copied: a
// transposed matrix summed over either dim is read in place. Anything else (gaps, broadcast
// strides, reduced dims split by kept ones) is first copied with the kept dims moved in front.
#include "reduce_layout.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"

namespace dm::reduction {
namespace {

bool is_reduced(DimMask mask, int d) { return ((mask >> d) & 1u) != 0; }

// Fills `out` from the memory order of `t`; false when `t` is not dense or its reduced
// dims are not adjacent in memory.
bool plan_in_place(const TensorImpl& t, DimMask reduced, ReduceLayout& out) {
  const int nd = t.shape.size();
  std::vector<int> order;  // non-trivial dims, outermost in memory first
  for (int d = 0; d < nd; ++d)
    if (t.shape[d] != 1) order.push_back(d);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return t.strides[a] > t.strides[b]; });

  std::int64_t expected = 1;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (t.strides[*it] != expected) return false;
    expected *= t.shape[*it];
  }

  // Memory order must read: kept..., reduced..., kept...
  ReduceGeometry g;
  int phase = 0;  // 0: outer kept dims, 1: reduced run, 2: inner kept dims
  for (int d : order) {
    const bool r = is_reduced(reduced, d);
    if (phase == 0 && r) phase = 1;
    if (phase == 1 && !r) phase = 2;
    if (phase == 2 && r) return false;
    (phase == 0 ? g.outer : phase == 1 ? g.reduce : g.inner) *= t.shape[d];
  }

  Strides kept = t.shape;
  for (int d = 0; d < nd; ++d) kept[d] = 0;
  std::int64_t running = 1;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (is_reduced(reduced, *it)) continue;
    kept[*it] = running;
    running *= t.shape[*it];
  }
  out.geometry = g;
  out.kept_strides = kept;
  return true;
}

}  // namespace

const TensorImpl& reduction_input(const Tensor& x, const char* op) { return impl_of(x, op); }

ReduceLayout plan_reduce_layout(const Tensor& x, DimMask reduced) {
  ReduceLayout layout;
  const TensorImpl& im = *x.impl();
  if (plan_in_place(im, reduced, layout)) {
    layout.dense = x;
    return layout;
  }
  // Copy with kept dims first, then reduced dims (each group in logical order); the copy is
  // contiguous in that order, so viewing it back in the input's dim order makes it dense
  // with the reduced dims innermost.
  const int nd = im.shape.size();
  std::vector<int> perm;
  for (int d = 0; d < nd; ++d)
    if (!is_reduced(reduced, d)) perm.push_back(d);
  for (int d = 0; d < nd; ++d)
    if (is_reduced(reduced, d)) perm.push_back(d);
  Shape perm_shape, perm_strides;
  for (int d : perm) {
    perm_shape.push_back(im.shape[d]);
    perm_strides.push_back(im.strides[d]);
  }
  const Tensor packed = make_view(x, perm_shape, perm_strides, im.offset).contiguous();
  const TensorImpl& pk = *packed.impl();
  Strides back = im.shape;
  for (int j = 0; j < nd; ++j) back[perm[static_cast<std::size_t>(j)]] = pk.strides[j];
  layout.dense = make_view(packed, im.shape, back, pk.offset);
  // A contiguous copy ordered kept-then-reduced always plans in place.
  if (!plan_in_place(*layout.dense.impl(), reduced, layout))
    throw Error("[reduce] internal error: packed copy of " + im.shape.str() + " is not a reduction block");
  return layout;
}

Shape reduced_shape(const Shape& shape, DimMask reduced, bool keepdim) {
  Shape out;
  for (int d = 0; d < shape.size(); ++d) {
    if (!is_reduced(reduced, d)) {
      out.push_back(shape[d]);
    } else if (keepdim) {
      out.push_back(1);
    }
  }
  return out;
}

Tensor arrange_reduced_output(const Tensor& block, const Shape& input_shape, const ReduceLayout& layout,
                              DimMask reduced, bool keepdim) {
  const Shape kept_shape = reduced_shape(input_shape, reduced, true);
  const Tensor ordered = make_view(block, kept_shape, layout.kept_strides, block.storage_offset()).contiguous();
  if (keepdim) return ordered;
  const Shape squeezed = reduced_shape(input_shape, reduced, false);
  return make_view(ordered, squeezed, contiguous_strides(squeezed), ordered.storage_offset());
}

}  // namespace dm::reduction
