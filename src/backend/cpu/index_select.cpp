// CPU kernel: index_select, a gather of whole slices along one dim.
#include <algorithm>

#include "backend/backend.hpp"
#include "base/dispatch.hpp"
#include "backend/strided_loop.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {

void index_select(const backend::Output& out, const std::byte* src, const Strides& src_strides, int dim,
                  const std::int64_t* index) {
  // In its own row-major order the output is (outer, k, inner): out[o, r, i] = src[o, rows[r], i],
  // with `outer` the dims before d and `inner` those after it. The loop walks the output in
  // that order, in parallel blocks of elements, so reads stay close together whatever d is
  // and both many short rows (embedding lookups) and a few long ones share out the pool.
  const Shape& out_shape = out.shape;
  const int d = dim;
  const Shape outer_shape(out_shape.begin(), out_shape.begin() + d);
  const Strides outer_strides(src_strides.begin(), src_strides.begin() + d);
  const Shape inner_shape(out_shape.begin() + d + 1, out_shape.end());
  const Strides inner_src_strides(src_strides.begin() + d + 1, src_strides.end());
  const Strides inner_dst_strides = contiguous_strides(inner_shape);
  const std::int64_t inner = inner_shape.numel();
  const std::int64_t k = out_shape[d];
  const std::int64_t total = out_shape.numel();
  if (total == 0) return;
  const StridedPlan<2> inner_plan(inner_shape, {&inner_dst_strides, &inner_src_strides});
  const std::int64_t index_stride = src_strides[d];
  // Offset in src of outer position o (row-major over outer_shape).
  auto outer_offset = [&](std::int64_t o) {
    std::int64_t off = 0;
    for (int a = outer_shape.size() - 1; a >= 0; --a) {
      off += (o % outer_shape[a]) * outer_strides[a];
      o /= outer_shape[a];
    }
    return off;
  };

  const std::int64_t* row_index = index;

  dispatch_dtype(out.dtype, [&]<class T>(TypeTag<T>) {
    T* out_data = reinterpret_cast<T*>(out.data);
    const T* in_data = reinterpret_cast<const T*>(src);
    par_for(total, kElementwiseGrain, [&, k, inner, index_stride, row_index](std::int64_t begin, std::int64_t end) {
      const std::int64_t first_pair = begin / inner;
      std::int64_t i0 = begin - first_pair * inner;  // where the first row starts, inside it
      std::int64_t o = first_pair / k, r = first_pair - o * k;
      std::int64_t pos = begin;
      while (pos < end) {
        const T* src_outer = in_data + outer_offset(o);
        if (inner == 1) {
          // Single elements (selecting along the last dim): a tight gather over r.
          const std::int64_t stop = std::min(end, pos + (k - r));
          for (; pos < stop; ++pos, ++r) out_data[pos] = src_outer[row_index[r] * index_stride];
        } else {
          for (; r < k && pos < end; ++r) {
            const T* src_row = src_outer + row_index[r] * index_stride;
            T* dst_row = out_data + (pos - i0);
            const std::int64_t i1 = std::min(inner, i0 + (end - pos));
            inner_plan.for_each_run(i0, i1, [&](const auto& off, std::int64_t n, const auto& step) {
              if (step[0] == 1 && step[1] == 1) {
                std::copy_n(src_row + off[1], n, dst_row + off[0]);
              } else {
                for (std::int64_t i = 0; i < n; ++i) dst_row[off[0] + i * step[0]] = src_row[off[1] + i * step[1]];
              }
            });
            pos += i1 - i0;
            i0 = 0;
          }
        }
        if (r == k) {
          r = 0;
          ++o;
        }
      }
    });
  });
}

}  // namespace dm::cpu
