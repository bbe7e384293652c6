// Dtype casts between every pair, contiguous() copies of strided views, and the random
// draws (the same numbers on every device for one seed).
#include <cmath>
#include <limits>
#include <string>

#include "democratising/core/random.hpp"
#include "harness.hpp"
#include "host.hpp"

namespace dm::conformance {
namespace {

constexpr DType kAll[] = {DType::f32, DType::f64, DType::bf16, DType::i32, DType::i64, DType::u8, DType::boolean};

// Values every target can hold the way torch defines the conversion: float to integer
// truncates toward zero (so no negative float meets u8, where C++ and torch leave it
// undefined); integer to a narrower integer wraps.
std::vector<double> cast_values(DType from, DType to) {
  if (from == DType::boolean) return {0, 1, 1, 0, 1, 0};
  if (from == DType::u8) return {0, 1, 7, 100, 255, 128};
  if (is_integral(from)) {
    std::vector<double> v = {-3, 0, 1, 7, 100, 255, -128, 256};
    if (from == DType::i64) v.push_back(3000000005.0);  // wraps in i32
    return v;
  }
  if (to == DType::u8) return {0, -0.0, 1, 2.5, 3.75, 100.25, 7.5, 0.5, 200.5, 254.9};
  std::vector<double> v = {0, -0.0, 1, 2.5, -3.75, 100.25, 7.5, 0.5, -200.5, -0.9};
  if (is_floating(to) && to != DType::bf16 && from != DType::bf16) v.push_back(1e-3);
  return v;
}

double convert(double v, DType to) {
  if (to == DType::boolean) return v != 0.0 ? 1.0 : 0.0;
  if (is_integral(to)) return round_to(to, std::trunc(v));
  return round_to(to, v);
}

void cast_case(Cases& cases, DType from, DType to, std::vector<double> values, const std::string& label) {
  Host src{{static_cast<std::int64_t>(values.size())}, from, {}};
  for (double v : values) src.v.push_back(round_to(from, v));
  const bool strided = label.find("strided") != std::string::npos;
  cases.push_back({"cast " + std::string(dtype_name(from)) + "->" + std::string(dtype_name(to)) + " " + label,
                   tol::exact,
                   [=](Device d) {
                     Tensor t = to_tensor(src).to(d);
                     if (strided) t = t.slice(0, 1, t.size(0), 2);
                     return Outputs{capture("out", t.to(to))};
                   },
                   [=](const Outputs&) {
                     Host s = strided ? slice(src, 0, 1, src.numel(), 2) : src;
                     std::vector<double> y;
                     for (double v : s.v) y.push_back(convert(v, to));
                     return Outputs{expect("out", s.shape, to, y)};
                   }});
}

void contiguous_case(Cases& cases, DType dtype, const Layout& layout, std::uint64_t seed) {
  const Host base = make_values(dtype, layout.base, Values::general, seed);
  const Host x = layout.host_view(base);
  cases.push_back(
      {"contiguous " + std::string(dtype_name(dtype)) + " " + layout.name, tol::exact,
       [=](Device d) {
         const Tensor c = input_on(base, layout, d).contiguous();
         return Outputs{capture("out", c), capture("is_contiguous", Tensor::scalar(c.is_contiguous() ? 1.0 : 0.0))};
       },
       [=](const Outputs&) {
         return Outputs{expect("out", x.shape, dtype, x.v), expect("is_contiguous", {}, DType::f32, {1.0})};
       }});
}

// Two successive draws on the device. On the CPU the expectation is a fresh draw from the
// same seed (the runner seeds 1234 before every run), with each value checked against the
// draw's range, and the second draw different from the first.
void random_case(Cases& cases, const std::string& kind, DType dtype) {
  const Dims shape = {3, 7};
  auto draw = [kind, dtype, shape](Device d) {
    if (kind == "rand") return Tensor::rand(Shape(shape), dtype, d);
    if (kind == "randn") return Tensor::randn(Shape(shape), dtype, d);
    return Tensor::randint(-3, 5, Shape(shape), dtype).to(d);
  };
  // Normals pass through Box-Muller's log, sin and cos, which each device's maths library
  // computes to an ulp or two, not correctly rounded: a GPU's normals are the CPU's to those
  // few ulps. Uniforms and integers use no such function and are the same bits.
  const Tolerance tolerance = kind == "randn" ? tol::for_dtype(dtype, true) : tol::exact;
  cases.push_back({kind + " " + std::string(dtype_name(dtype)) + " (3,7) same numbers for seed 1234", tolerance,
                   [=](Device d) {
                     const Tensor first = draw(d), second = draw(d);
                     return Outputs{capture("first", first), capture("second", second)};
                   },
                   [=](const Outputs& got) {
                     manual_seed(1234);
                     Outputs want = {capture("first", draw(Device::cpu())), capture("second", draw(Device::cpu()))};
                     for (std::size_t o = 0; o < want.size(); ++o)
                       for (std::size_t i = 0; i < want[o].values.size() && o < got.size() && i < got[o].values.size();
                            ++i) {
                         const double v = got[o].values[i];
                         const bool in_range = kind == "rand"    ? (v >= 0.0 && v < 1.0)
                                               : kind == "randn" ? std::isfinite(v)
                                                                 : (v >= -3 && v < 5 && v == std::trunc(v));
                         if (!in_range) want[o].values[i] = std::numeric_limits<double>::quiet_NaN();
                       }
                     if (want[0].values == want[1].values) want[1].values.assign(want[1].values.size(), std::nan(""));
                     return want;
                   }});
}

}  // namespace

void add_copy_cases(Cases& cases) {
  for (DType from : kAll)
    for (DType to : kAll) cast_case(cases, from, to, cast_values(from, to), "(n)");
  for (DType from : {DType::f32, DType::i64, DType::bf16})
    for (DType to : {DType::f64, DType::i32, DType::u8})
      cast_case(cases, from, to, cast_values(from, to), "strided [1::2]");
  const std::vector<double> edge = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1e30, -1e-30, 3.0e38};
  for (DType from : {DType::f32, DType::f64, DType::bf16})
    for (DType to : {DType::f32, DType::f64, DType::bf16})
      if (from != to) cast_case(cases, from, to, edge, "edge values");

  std::uint64_t seed = 14000;
  std::vector<Layout> layouts = layouts_3x4();
  layouts.push_back(layout_scalar());
  layouts.push_back(layout_empty());
  for (DType t : {DType::f32, DType::f64, DType::bf16, DType::i64, DType::u8, DType::boolean})
    for (const Layout& l : layouts)
      if (t == DType::f32 || l.name.rfind("contiguous", 0) != 0) contiguous_case(cases, t, l, ++seed);

  for (DType t : {DType::f32, DType::f64, DType::bf16}) {
    random_case(cases, "rand", t);
    random_case(cases, "randn", t);
  }
  for (DType t : {DType::i64, DType::i32}) random_case(cases, "randint", t);
}

}  // namespace dm::conformance
