// Datasets over tensors, and the row gather that every batch goes through.
#include "democratising/data/dataset.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::data {
namespace {

// Below this many bytes per block a parallel copy costs more in scheduling than it saves.
constexpr std::int64_t kBytesPerBlock = std::int64_t{256} << 10;

Tensor cpu_rows(const Tensor& t, const char* op, const char* what) {
  if (!t.defined()) throw ValueError(std::string("[") + op + "] " + what + " is undefined");
  if (!t.device().is_cpu())
    throw DeviceError(std::string("[") + op + "] " + what + " must be a CPU tensor, got " + t.device().str());
  if (t.dim() < 1) throw ShapeError(std::string("[") + op + "] " + what + " needs a sample dim, got a 0-d tensor");
  return t.contiguous();
}

}  // namespace

Tensor gather_rows(const Tensor& src, const std::vector<std::int64_t>& indices) {
  const Tensor rows = cpu_rows(src, "gather_rows", "the source");
  const std::int64_t n = rows.size(0);
  for (std::int64_t i : indices)
    if (i < 0 || i >= n)
      throw ShapeError("[gather_rows] index " + std::to_string(i) + " is out of range for " + std::to_string(n) +
                       " rows of " + rows.shape().str());

  Shape out_shape = rows.shape();
  out_shape[0] = static_cast<std::int64_t>(indices.size());
  Tensor out = make_tensor(out_shape, rows.dtype(), Device::cpu());
  // src (n, row_bytes) -> out (k, row_bytes), k = indices.size()
  const std::int64_t row_elems = out_shape.numel() == 0 ? 0 : out_shape.numel() / out_shape[0];
  const auto row_bytes = static_cast<std::size_t>(row_elems) * itemsize(rows.dtype());
  if (row_bytes == 0) return out;
  const auto* in = static_cast<const std::byte*>(rows.data_ptr());
  auto* dst = static_cast<std::byte*>(out.data_ptr());
  const std::int64_t k = out_shape[0];
  const std::int64_t grain = std::max<std::int64_t>(1, kBytesPerBlock / static_cast<std::int64_t>(row_bytes));
  par_for(k, grain, [&](std::int64_t b, std::int64_t e) {
    // Runs of consecutive indices (the unshuffled order) become one memcpy each.
    std::int64_t i = b;
    while (i < e) {
      std::int64_t run = 1;
      while (i + run < e && indices[static_cast<std::size_t>(i + run)] == indices[static_cast<std::size_t>(i)] + run)
        ++run;
      std::memcpy(dst + static_cast<std::size_t>(i) * row_bytes,
                  in + static_cast<std::size_t>(indices[static_cast<std::size_t>(i)]) * row_bytes,
                  static_cast<std::size_t>(run) * row_bytes);
      i += run;
    }
  });
  return out;
}

Batch Dataset::get(std::int64_t index) const {
  const Batch one = get_batch({index});
  // Drop the batch dim of size 1: a view over the same storage.
  auto drop_first = [](const Tensor& t) {
    const TensorImpl& im = *t.impl();
    Shape shape = im.shape;
    Strides strides = im.strides;
    shape.erase(0);
    strides.erase(0);
    return make_view(t, shape, strides, im.offset);
  };
  return {drop_first(one.x), drop_first(one.y)};
}

TensorDataset::TensorDataset(Tensor x, Tensor y)
    : x_(cpu_rows(x, "TensorDataset", "x")), y_(cpu_rows(y, "TensorDataset", "y")) {
  if (x_.size(0) != y_.size(0))
    throw ShapeError("[TensorDataset] x " + x_.shape().str() + " and y " + y_.shape().str() +
                     " have different numbers of samples");
}

std::int64_t TensorDataset::size() const { return x_.size(0); }

Batch TensorDataset::get_batch(const std::vector<std::int64_t>& indices) const {
  return {gather_rows(x_, indices), gather_rows(y_, indices)};
}

}  // namespace dm::data
