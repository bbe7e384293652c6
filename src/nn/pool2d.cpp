// nn::max_pool2d, avg_pool2d and adaptive_avg_pool2d with hand-written backwards: checks
// here, the fused passes in the backend. Every plane (n, c) of x (N, C, H, W) is pooled on
// its own, so the kernels see (N * C, H, W).
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/conv.hpp"
#include "op_checks.hpp"
#include "window_checks.hpp"

namespace dm::nn {
namespace {

std::byte* data_of(const Tensor& t) { return static_cast<std::byte*>(t.data_ptr()); }

void check_input(const Tensor& x, const char* op) {
  impl_of(x, op);
  detail::require_floating(x, op, "x");
  detail::require_image(x, op);
}

// The window of a (N, C, H, W) input; padding at most half the kernel, as PyTorch requires
// (a window of padding alone would have no element to pool).
backend::Pool2dGeometry window_geometry(const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding,
                                        Size2 dilation, const char* op) {
  const Size2 step = stride.value_or(kernel);
  detail::require_at_least(kernel, 1, op, "kernel_size");
  detail::require_at_least(step, 1, op, "stride");
  detail::require_at_least(padding, 0, op, "padding");
  detail::require_at_least(dilation, 1, op, "dilation");
  if (2 * padding.h > kernel.h || 2 * padding.w > kernel.w)
    throw ShapeError(std::string("[") + op + "] padding " + detail::pair_str(padding) +
                     " must be at most half the kernel_size " + detail::pair_str(kernel));
  backend::Pool2dGeometry g;
  g.planes = x.size(0) * x.size(1);
  g.in_h = x.size(2);
  g.in_w = x.size(3);
  g.kernel_h = kernel.h;
  g.kernel_w = kernel.w;
  g.stride_h = step.h;
  g.stride_w = step.w;
  g.pad_h = padding.h;
  g.pad_w = padding.w;
  g.dilation_h = dilation.h;
  g.dilation_w = dilation.w;
  g.out_h = detail::window_output(x, g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h, op, "height");
  g.out_w = detail::window_output(x, g.in_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w, op, "width");
  return g;
}

Shape output_shape(const Tensor& x, const backend::Pool2dGeometry& g) {
  return Shape{x.size(0), x.size(1), g.out_h, g.out_w};
}

// Runs a pooling forward in the compute dtype and records `make_backward(x_compute)` as its
// node. `forward(backend, dtype, x, y)` fills y.
template <class Forward, class MakeBackward>
Tensor pool(const Tensor& x, const backend::Pool2dGeometry& geo, const char* op, Forward&& forward,
            MakeBackward&& make_backward) {
  Tensor y;
  {
    NoGradGuard no_grad;
    const Tensor xc = detail::compute_view(x);
    y = Tensor::empty(output_shape(x, geo), xc.dtype(), x.device());
    forward(backend::backend_for(x.device()), xc.dtype(), data_of(xc), data_of(y));
    y = y.to(x.dtype());
  }
  if (autograd::needs_grad({&x})) autograd::record(y, op, {&x}, make_backward());
  return y;
}

// The input gradient of a pooling op: `backward(backend, dtype, g, dx)` fills dx.
template <class Backward>
std::vector<Tensor> pool_grad(const Tensor& grad, const Shape& x_shape, DType dtype, Backward&& backward) {
  const Tensor g = detail::compute_view(grad);
  Tensor dx = Tensor::empty(x_shape, g.dtype(), g.device());
  backward(backend::backend_for(g.device()), g.dtype(), data_of(g), data_of(dx));
  return {dx.to(dtype)};
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride, Size2 padding, Size2 dilation) {
  constexpr const char* kOp = "max_pool2d";
  check_input(x, kOp);
  if (x.dim() == 3) return max_pool2d(x.unsqueeze(0), kernel_size, stride, padding, dilation).squeeze(0);
  const backend::Pool2dGeometry geo = window_geometry(x, kernel_size, stride, padding, dilation, kOp);
  Tensor indices = Tensor::empty(output_shape(x, geo), DType::i64, x.device());
  auto* index_data = static_cast<std::int64_t*>(indices.data_ptr());
  return pool(
      x, geo, kOp,
      [&](backend::Backend& be, DType dtype, const std::byte* in, std::byte* out) {
        be.max_pool2d_forward(dtype, geo, in, out, index_data);
      },
      [&] {
        return [indices, geo, shape = x.shape(), dtype = x.dtype()](const Tensor& grad) {
          return pool_grad(grad, shape, dtype, [&](backend::Backend& be, DType d, const std::byte* g, std::byte* dx) {
            be.max_pool2d_backward(d, geo, g, static_cast<const std::int64_t*>(indices.data_ptr()), dx);
          });
        };
      });
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride, Size2 padding,
                  bool count_include_pad) {
  constexpr const char* kOp = "avg_pool2d";
  check_input(x, kOp);
  if (x.dim() == 3) return avg_pool2d(x.unsqueeze(0), kernel_size, stride, padding, count_include_pad).squeeze(0);
  const backend::Pool2dGeometry geo = window_geometry(x, kernel_size, stride, padding, 1, kOp);
  return pool(
      x, geo, kOp,
      [&](backend::Backend& be, DType dtype, const std::byte* in, std::byte* out) {
        be.avg_pool2d_forward(dtype, geo, count_include_pad, in, out);
      },
      [&] {
        return [geo, count_include_pad, shape = x.shape(), dtype = x.dtype()](const Tensor& grad) {
          return pool_grad(grad, shape, dtype, [&](backend::Backend& be, DType d, const std::byte* g, std::byte* dx) {
            be.avg_pool2d_backward(d, geo, count_include_pad, g, dx);
          });
        };
      });
}

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  constexpr const char* kOp = "adaptive_avg_pool2d";
  check_input(x, kOp);
  if (x.dim() == 3) return adaptive_avg_pool2d(x.unsqueeze(0), output_size).squeeze(0);
  detail::require_at_least(output_size, 1, kOp, "output_size");
  backend::Pool2dGeometry geo;
  geo.planes = x.size(0) * x.size(1);
  geo.in_h = x.size(2);
  geo.in_w = x.size(3);
  geo.out_h = output_size.h;
  geo.out_w = output_size.w;
  return pool(
      x, geo, kOp,
      [&](backend::Backend& be, DType dtype, const std::byte* in, std::byte* out) {
        be.adaptive_avg_pool2d_forward(dtype, geo, in, out);
      },
      [&] {
        return [geo, shape = x.shape(), dtype = x.dtype()](const Tensor& grad) {
          return pool_grad(grad, shape, dtype, [&](backend::Backend& be, DType d, const std::byte* g, std::byte* dx) {
            be.adaptive_avg_pool2d_backward(d, geo, g, dx);
          });
        };
      });
}

}  // namespace dm::nn
