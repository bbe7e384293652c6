#pragma once
// Argument checks shared by conv2d and the pooling ops: the image layout, the window's
// parameters and the output size, each error naming the op and the shapes involved.
#include <cstdint>
#include <string>

#include "democratising/base/error.hpp"
#include "democratising/nn/conv.hpp"
#include "democratising/core/tensor.hpp"

namespace dm::nn::detail {

inline std::string pair_str(Size2 s) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "(" + to_string().
  std::string out = "(";
  out += std::to_string(s.h);
  out += ", ";
  out += std::to_string(s.w);
  out += ")";
  return out;
}

/// Throws ShapeError unless x is (N, C, H, W) or (C, H, W) with C, H, W >= 1.
inline void require_image(const Tensor& x, const char* op) {
  if (x.dim() != 3 && x.dim() != 4)
    throw ShapeError(std::string("[") + op + "] x must be 4-d (N, C, H, W) or 3-d (C, H, W), got shape " +
                     x.shape().str());
  for (int d = x.dim() - 3; d < x.dim(); ++d)
    if (x.size(d) < 1)
      throw ShapeError(std::string("[") + op + "] x " + x.shape().str() + " has an empty channel or spatial dim");
}

/// Throws ShapeError unless both sizes are at least `min`; `what` names the argument.
inline void require_at_least(Size2 s, std::int64_t min, const char* op, const char* what) {
  if (s.h < min || s.w < min)
    throw ShapeError(std::string("[") + op + "] " + what + " must be " + (min > 0 ? "positive" : "non-negative") +
                     ", got " + pair_str(s));
}

/// The output extent of a window sliding over `in` (floor mode), or a ShapeError when the
/// dilated kernel is larger than the padded input.
inline std::int64_t window_output(const Tensor& x, std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                  std::int64_t pad, std::int64_t dilation, const char* op, const char* axis) {
  const std::int64_t span = dilation * (kernel - 1) + 1;
  if (in + 2 * pad < span)
    throw ShapeError(std::string("[") + op + "] x " + x.shape().str() + ": the " + axis + " window spans " +
                     std::to_string(span) + " (kernel " + std::to_string(kernel) + ", dilation " +
                     std::to_string(dilation) + ") but the padded input has " + std::to_string(in + 2 * pad));
  return (in + 2 * pad - span) / stride + 1;
}

/// x as a batch: a 3-d image gains a batch dim of 1.
inline Tensor as_batch(const Tensor& x) { return x.dim() == 3 ? x.unsqueeze(0) : x; }

}  // namespace dm::nn::detail
