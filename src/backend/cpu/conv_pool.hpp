#pragma once
// CPU kernels of convolution (conv2d.cpp) and pooling (max_pool2d.cpp, avg_pool2d.cpp); see
// the Backend entries of the same names for layouts and maths.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "backend/conv_geometry.hpp"
#include "democratising/base/dtype.hpp"

namespace dm::cpu {

/// Planes per parallel chunk of a pooling kernel: about 32K input elements each.
inline std::int64_t pool_plane_grain(const backend::Pool2dGeometry& g) {
  return std::max<std::int64_t>(1, (std::int64_t{1} << 15) / std::max<std::int64_t>(1, g.in_h * g.in_w));
}

// conv2d.cpp
void conv2d_forward(DType dtype, const backend::Conv2dGeometry& geo, const std::byte* x, const std::byte* w,
                    const std::byte* bias, std::byte* y);
void conv2d_backward(DType dtype, const backend::Conv2dGeometry& geo, const std::byte* g, const std::byte* x,
                     const std::byte* w, std::byte* dx, std::byte* dw, std::byte* db);

// max_pool2d.cpp
void max_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* x, std::byte* y,
                        std::int64_t* indices);
void max_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* g,
                         const std::int64_t* indices, std::byte* dx);

// avg_pool2d.cpp
void avg_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, bool count_include_pad, const std::byte* x,
                        std::byte* y);
void avg_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, bool count_include_pad, const std::byte* g,
                         std::byte* dx);
void adaptive_avg_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* x, std::byte* y);
void adaptive_avg_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* g, std::byte* dx);

}  // namespace dm::cpu
