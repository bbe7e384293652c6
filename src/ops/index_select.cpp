// index_select: gathers whole slices along one dim by a list of indices (a copy).
#include <algorithm>
#include <string>
#include <vector>

#include "autograd/differentiable.hpp"
#include "core/dispatch.hpp"
#include "core/strided_loop.hpp"
#include "core/tensor_impl.hpp"
#include "democratising/error.hpp"
#include "democratising/runtime.hpp"
#include "democratising/tensor.hpp"

namespace dm {
namespace {

/// The values of a 1-d i32/i64 index as i64, each checked against [0, size).
std::vector<std::int64_t> checked_indices(const TensorImpl& index, std::int64_t size, int dim, const Shape& shape) {
  std::vector<std::int64_t> rows(static_cast<std::size_t>(index.shape.numel()));
  const std::int64_t step = index.strides[0];
  dispatch_dtype(index.dtype, [&]<class I>(TypeTag<I>) {
    if constexpr (std::is_same_v<I, std::int32_t> || std::is_same_v<I, std::int64_t>) {
      const I* p = reinterpret_cast<const I*>(index.data());
      for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(p[static_cast<std::int64_t>(i) * step]);
    }
  });
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i] < 0 || rows[i] >= size)
      throw ShapeError("[index_select] index " + std::to_string(rows[i]) + " (at position " + std::to_string(i) +
                       ") out of range for dim " + std::to_string(dim) + " of size " + std::to_string(size) +
                       " (shape " + shape.str() + ")");
  return rows;
}

}  // namespace

Tensor Tensor::index_select(std::int64_t dim, const Tensor& index) const {
  const auto& src = impl_of(*this, "index_select");
  const auto& idx = impl_of(index, "index_select");
  if (src.shape.size() == 0) throw ShapeError("[index_select] cannot be applied to a 0-d tensor");
  const int d = normalize_dim(dim, src.shape.size(), "index_select");
  if (idx.dtype != DType::i32 && idx.dtype != DType::i64)
    throw DTypeError("[index_select] index must be i32 or i64, got " + std::string(dtype_name(idx.dtype)));
  if (idx.shape.size() != 1)
    throw ShapeError("[index_select] index must be 1-d, got shape " + idx.shape.str());
  const Device device = common_device({this, &index}, "index_select");
  if (!device.is_cpu()) throw DeviceError("[index_select] is not available on " + device.str() + " yet");

  const std::vector<std::int64_t> rows = checked_indices(idx, src.shape[d], d, src.shape);
  Shape out_shape = src.shape;
  out_shape[d] = static_cast<std::int64_t>(rows.size());
  Tensor out = make_tensor(out_shape, src.dtype, device);
  const TensorImpl& dst = *out.impl();

  // In its own row-major order the output is (outer, k, inner): out[o, r, i] = src[o, rows[r], i],
  // with `outer` the dims before d and `inner` those after it. The loop walks the output in
  // that order, in parallel blocks of elements, so reads stay close together whatever d is
  // and both many short rows (embedding lookups) and a few long ones share out the pool.
  const Shape outer_shape(src.shape.begin(), src.shape.begin() + d);
  const Strides outer_strides(src.strides.begin(), src.strides.begin() + d);
  const Shape inner_shape(src.shape.begin() + d + 1, src.shape.end());
  const Strides inner_src_strides(src.strides.begin() + d + 1, src.strides.end());
  const Strides inner_dst_strides = contiguous_strides(inner_shape);
  const std::int64_t inner = inner_shape.numel();
  const auto k = static_cast<std::int64_t>(rows.size());
  const std::int64_t total = out_shape.numel();
  if (total == 0)  // nothing to copy, but the graph still runs through here
    return autograd::differentiable(out, *this, "index_select",
                                    [&] { return autograd::index_select_backward(*this, d, index); });
  const StridedPlan<2> inner_plan(inner_shape, {&inner_dst_strides, &inner_src_strides});
  const std::int64_t index_stride = src.strides[d];
  // Offset in src of outer position o (row-major over outer_shape).
  auto outer_offset = [&](std::int64_t o) {
    std::int64_t off = 0;
    for (int a = outer_shape.size() - 1; a >= 0; --a) {
      off += (o % outer_shape[a]) * outer_strides[a];
      o /= outer_shape[a];
    }
    return off;
  };

  const std::int64_t* row_index = rows.data();

  dispatch_dtype(src.dtype, [&]<class T>(TypeTag<T>) {
    T* out_data = reinterpret_cast<T*>(dst.data());
    const T* in_data = reinterpret_cast<const T*>(src.data());
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
  return autograd::differentiable(out, *this, "index_select",
                                  [&] { return autograd::index_select_backward(*this, d, index); });
}

}  // namespace dm
