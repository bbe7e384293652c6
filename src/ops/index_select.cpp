// index_select: gathers whole slices along one dim by a list of indices (a copy).
#include <algorithm>
#include <string>
#include <vector>

#include "autograd/differentiable.hpp"
#include "ops/op_grads.hpp"
#include "base/dispatch.hpp"
#include "backend/backend.hpp"
#include "core/kernel_args.hpp"
#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

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
  // The indices are checked on the host (a copy of them when they live on a device).
  const Tensor host_index = index.device().is_cpu() ? index : index.to(Device::cpu());

  const std::vector<std::int64_t> rows = checked_indices(*host_index.impl(), src.shape[d], d, src.shape);
  Shape out_shape = src.shape;
  out_shape[d] = static_cast<std::int64_t>(rows.size());
  Tensor out = make_tensor(out_shape, src.dtype, device);
  if (out_shape.numel() > 0)  // else nothing to copy, but the graph still runs through here
    backend::backend_for(device).index_select(output_of(out), src.data(), src.strides, d, rows.data());
  return autograd::differentiable(out, *this, "index_select",
                                  [&] { return autograd::index_select_backward(*this, d, index); });
}

}  // namespace dm
