// Convolution and pooling through their public entry points (nn::conv2d, max_pool2d,
// avg_pool2d, adaptive_avg_pool2d), forward and (through backward()) every gradient, on a
// contiguous and a transposed input, against the plain loops of tests/nn/conv_reference.hpp.
#include <string>

#include "../nn/conv_reference.hpp"
#include "democratising/nn/conv.hpp"
#include "harness.hpp"
#include "host.hpp"

namespace dm::conformance {
namespace {

std::string dt(DType t) { return std::string(dtype_name(t)); }

// x of shape (n, c, h, w), either contiguous or stored (n, c, w, h) and transposed.
struct ImageInput {
  Host stored;  // the values as made, in the stored shape
  Host logical;  // the same values in (n, c, h, w) order
  bool transposed;
};

ImageInput image(DType dtype, const Dims& shape, bool transposed, std::uint64_t seed) {
  const Dims stored_shape = transposed ? Dims{shape[0], shape[1], shape[3], shape[2]} : shape;
  const Host stored = make_values(dtype, stored_shape, Values::general, seed);
  return {stored, transposed ? transpose(stored, 2, 3) : stored, transposed};
}

Tensor image_leaf(const ImageInput& in, Device d) {
  Tensor base = to_tensor(in.stored).to(d).detach().set_requires_grad();
  return base;
}

Tensor image_view(const Tensor& base, const ImageInput& in) { return in.transposed ? base.transpose(2, 3) : base; }

// The gradient of the stored base from the gradient of the logical view.
Host stored_grad(const ImageInput& in, const Host& logical_grad) {
  return in.transposed ? transpose(logical_grad, 2, 3) : logical_grad;
}

void conv_case(Cases& cases, DType dtype, const conv_ref::Conv& p, bool bias, bool transposed, std::uint64_t seed) {
  const Dims x_shape{p.n, p.c, p.h, p.w}, w_shape{p.oc, p.c / p.groups, p.kh, p.kw}, y_shape{p.n, p.oc, p.oh(), p.ow()};
  const ImageInput x = image(dtype, x_shape, transposed, seed);
  const Host w = make_values(dtype, w_shape, Values::general, seed + 1);
  const Host b = make_values(dtype, {p.oc}, Values::general, seed + 2);
  const Host g = make_values(dtype, y_shape, Values::general, seed + 3);
  const std::string label = "nn.conv2d " + dt(dtype) + " x" + dims_str(x_shape) + (transposed ? " transposed" : "") +
                            " W" + dims_str(w_shape) + " stride " + std::to_string(p.sh) + "," + std::to_string(p.sw) +
                            " pad " + std::to_string(p.ph) + "," + std::to_string(p.pw) + " dilation " +
                            std::to_string(p.dh) + "," + std::to_string(p.dw) + " groups " + std::to_string(p.groups) +
                            (bias ? " with bias" : " no bias") + " forward+backward";
  cases.push_back({label, tol::for_dtype(dtype),
                   [=](Device d) {
                     Tensor base = image_leaf(x, d);
                     Tensor tw = to_tensor(w).to(d).detach().set_requires_grad();
                     Tensor tb = bias ? to_tensor(b).to(d).detach().set_requires_grad() : Tensor();
                     Tensor y = nn::conv2d(image_view(base, x), tw, tb, {p.sh, p.sw}, {p.ph, p.pw}, {p.dh, p.dw},
                                           p.groups);
                     y.backward(to_tensor(g).to(d));
                     Outputs o = {capture("y", y), capture("dx", base.grad()), capture("dW", tw.grad())};
                     if (bias) o.push_back(capture("db", tb.grad()));
                     return o;
                   },
                   [=](const Outputs&) {
                     const auto r = conv_ref::conv2d(p, x.logical.v, w.v, bias ? b.v : std::vector<double>(), g.v);
                     const Host dx = stored_grad(x, Host{x_shape, dtype, r.dx});
                     Outputs o = {expect("y", y_shape, dtype, r.y), expect("dx", dx.shape, dtype, dx.v),
                                  expect("dW", w_shape, dtype, r.dw)};
                     if (bias) o.push_back(expect("db", {p.oc}, dtype, r.db));
                     return o;
                   }});
}

enum class PoolKind { max, avg_include_pad, avg_exclude_pad, adaptive };

void pool_case(Cases& cases, DType dtype, PoolKind kind, std::int64_t n, std::int64_t c, const conv_ref::Pool& p0,
               bool transposed, std::uint64_t seed) {
  conv_ref::Pool p = p0;
  p.planes = n * c;
  // Adaptive pooling reuses kh, kw as the output size.
  const std::int64_t oh = kind == PoolKind::adaptive ? p.kh : p.oh(), ow = kind == PoolKind::adaptive ? p.kw : p.ow();
  const Dims x_shape{n, c, p.h, p.w}, y_shape{n, c, oh, ow};
  const ImageInput x = image(dtype, x_shape, transposed, seed);
  const Host g = make_values(dtype, y_shape, Values::general, seed + 1);
  const char* names[] = {"nn.max_pool2d", "nn.avg_pool2d count_include_pad", "nn.avg_pool2d exclude_pad",
                         "nn.adaptive_avg_pool2d"};
  const std::string label = std::string(names[static_cast<int>(kind)]) + " " + dt(dtype) + " x" + dims_str(x_shape) +
                            (transposed ? " transposed" : "") + " -> " + dims_str(y_shape) + " forward+backward";
  cases.push_back({label, tol::for_dtype(dtype),
                   [=](Device d) {
                     Tensor base = image_leaf(x, d);
                     const Tensor v = image_view(base, x);
                     Tensor y;
                     switch (kind) {
                       case PoolKind::max:
                         y = nn::max_pool2d(v, {p.kh, p.kw}, nn::Size2{p.sh, p.sw}, {p.ph, p.pw}, {p.dh, p.dw});
                         break;
                       case PoolKind::avg_include_pad:
                       case PoolKind::avg_exclude_pad:
                         y = nn::avg_pool2d(v, {p.kh, p.kw}, nn::Size2{p.sh, p.sw}, {p.ph, p.pw},
                                            kind == PoolKind::avg_include_pad);
                         break;
                       case PoolKind::adaptive: y = nn::adaptive_avg_pool2d(v, {p.kh, p.kw}); break;
                     }
                     y.backward(to_tensor(g).to(d));
                     return Outputs{capture("y", y), capture("dx", base.grad())};
                   },
                   [=](const Outputs&) {
                     conv_ref::PoolResult r;
                     switch (kind) {
                       case PoolKind::max: r = conv_ref::max_pool2d(p, x.logical.v, g.v); break;
                       case PoolKind::avg_include_pad: r = conv_ref::avg_pool2d(p, true, x.logical.v, g.v); break;
                       case PoolKind::avg_exclude_pad: r = conv_ref::avg_pool2d(p, false, x.logical.v, g.v); break;
                       case PoolKind::adaptive:
                         r = conv_ref::adaptive_avg_pool2d(p.planes, p.h, p.w, p.kh, p.kw, x.logical.v, g.v);
                         break;
                     }
                     const Host dx = stored_grad(x, Host{x_shape, dtype, r.dx});
                     return Outputs{expect("y", y_shape, dtype, r.y), expect("dx", dx.shape, dtype, dx.v)};
                   }});
}

}  // namespace

void add_conv_cases(Cases& cases) {
  std::uint64_t seed = 9100;
  for (DType dtype : {DType::f32, DType::f64})
    for (bool transposed : {false, true}) {
      conv_case(cases, dtype, {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1}, true, transposed, seed += 10);
      conv_case(cases, dtype, {5, 4, 8, 7, 6, 3, 2, 2, 1, 1, 0, 2, 1, 2}, true, transposed, seed += 10);
      conv_case(cases, dtype, {3, 3, 5, 5, 2, 1, 1}, false, transposed, seed += 10);
      pool_case(cases, dtype, PoolKind::max, 2, 3, {0, 7, 6, 3, 3, 2, 2, 1, 1}, transposed, seed += 10);
      pool_case(cases, dtype, PoolKind::max, 1, 2, {0, 6, 7, 2, 2, 1, 1, 0, 0, 2, 2}, transposed, seed += 10);
      pool_case(cases, dtype, PoolKind::avg_include_pad, 2, 3, {0, 7, 6, 3, 3, 2, 2, 1, 1}, transposed, seed += 10);
      pool_case(cases, dtype, PoolKind::avg_exclude_pad, 2, 3, {0, 7, 6, 3, 3, 2, 2, 1, 1}, transposed, seed += 10);
      pool_case(cases, dtype, PoolKind::adaptive, 2, 2, {0, 7, 5, 3, 2, 1, 1}, transposed, seed += 10);
    }
}

}  // namespace dm::conformance
