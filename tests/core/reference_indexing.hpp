#pragma once
// Plain references for tests of strided tensors: multi-indices in row-major order and element
// reads straight from memory through data_ptr, strides and the dtype, with no library loop in
// between, so a test can compare any op against naive index arithmetic.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "democratising/democratising.hpp"

namespace dm_test {

using Index = std::vector<std::int64_t>;

/// Every multi-index of `shape`, in row-major order (one empty index for a 0-d shape).
inline std::vector<Index> all_indices(const dm::Shape& shape) {
  std::vector<Index> out;
  if (shape.numel() == 0) return out;
  Index idx(static_cast<std::size_t>(shape.size()), 0);
  while (true) {
    out.push_back(idx);
    int d = shape.size() - 1;
    while (d >= 0 && ++idx[static_cast<std::size_t>(d)] == shape[d]) idx[static_cast<std::size_t>(d--)] = 0;
    if (d < 0) return out;
  }
}

/// Row-major position of `idx` in `shape`.
inline std::int64_t flat_index(const Index& idx, const dm::Shape& shape) {
  std::int64_t flat = 0;
  for (int d = 0; d < shape.size(); ++d) flat = flat * shape[d] + idx[static_cast<std::size_t>(d)];
  return flat;
}

/// The multi-index of row-major position `flat` in `shape`.
inline Index unflatten(std::int64_t flat, const dm::Shape& shape) {
  Index idx(static_cast<std::size_t>(shape.size()));
  for (int d = shape.size() - 1; d >= 0; --d) {
    idx[static_cast<std::size_t>(d)] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

/// The element at `idx`, read as raw memory: data_ptr + sum(idx[d] * stride[d]) elements.
inline double at(const dm::Tensor& t, const Index& idx) {
  std::int64_t off = 0;
  for (int d = 0; d < t.dim(); ++d) off += idx[static_cast<std::size_t>(d)] * t.stride(d);
  const auto* base = static_cast<const unsigned char*>(t.data_ptr());
  switch (t.dtype()) {
    case dm::DType::f32: return reinterpret_cast<const float*>(base)[off];
    case dm::DType::f64: return reinterpret_cast<const double*>(base)[off];
    case dm::DType::bf16: return static_cast<float>(reinterpret_cast<const dm::bf16*>(base)[off]);
    case dm::DType::i32: return reinterpret_cast<const std::int32_t*>(base)[off];
    case dm::DType::i64: return static_cast<double>(reinterpret_cast<const std::int64_t*>(base)[off]);
    case dm::DType::u8: return reinterpret_cast<const std::uint8_t*>(base)[off];
    case dm::DType::boolean: return reinterpret_cast<const bool*>(base)[off] ? 1.0 : 0.0;
  }
  return 0.0;
}

/// A contiguous tensor whose element at row-major position k holds first + k (distinct values,
/// none of them 0 by default, so a misplaced or unwritten element shows).
inline dm::Tensor numbered(const dm::Shape& shape, dm::DType dtype = dm::DType::f64, double first = 0.5) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t k = 0; k < v.size(); ++k) v[k] = first + static_cast<double>(k);
  dm::Tensor t = dm::Tensor::from_vector(v, shape);
  return dtype == dm::DType::f64 ? t : t.to(dtype);
}

/// Checks the shape of `t` and every element against expected(index).
inline void expect_elements(const dm::Tensor& t, const dm::Shape& shape, const std::function<double(const Index&)>& expected) {
  ASSERT_EQ(t.shape(), shape) << "got " << t.shape().str() << ", want " << shape.str();
  for (const Index& idx : all_indices(shape)) {
    const double want = expected(idx);
    const double got = at(t, idx);
    if (got != want) {
      ADD_FAILURE() << "element " << dm::Shape(idx).str() << ": got " << got << ", want " << want;
      return;
    }
  }
}

/// The message of the exception E thrown by f (a test failure when nothing is thrown).
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

}  // namespace dm_test
