// Comparisons (eq ne lt le gt ge; tensor-tensor with broadcasting and tensor-scalar) and where,
// over floating, integer and bool dtypes, with ties and NaN.
#include <cmath>
#include <string>

#include "harness.hpp"
#include "host.hpp"
#include "reference_math.hpp"

namespace dm::conformance {
namespace {

struct CompareOp {
  std::string name;
  Tensor (*lib)(const Tensor&, const Tensor&);
  Tensor (*lib_scalar)(const Tensor&, double);
  bool (*ref)(double, double);  // IEEE: every comparison with NaN is false but ne
};

const std::vector<CompareOp>& compare_ops() {
  static const std::vector<CompareOp> ops = {
      {"eq", [](const Tensor& a, const Tensor& b) { return a.eq(b); },
       [](const Tensor& a, double s) { return a.eq(s); }, [](double a, double b) { return a == b; }},
      {"ne", [](const Tensor& a, const Tensor& b) { return a.ne(b); },
       [](const Tensor& a, double s) { return a.ne(s); }, [](double a, double b) { return a != b; }},
      {"lt", [](const Tensor& a, const Tensor& b) { return a.lt(b); },
       [](const Tensor& a, double s) { return a.lt(s); }, [](double a, double b) { return a < b; }},
      {"le", [](const Tensor& a, const Tensor& b) { return a.le(b); },
       [](const Tensor& a, double s) { return a.le(s); }, [](double a, double b) { return a <= b; }},
      {"gt", [](const Tensor& a, const Tensor& b) { return a.gt(b); },
       [](const Tensor& a, double s) { return a.gt(s); }, [](double a, double b) { return a > b; }},
      {"ge", [](const Tensor& a, const Tensor& b) { return a.ge(b); },
       [](const Tensor& a, double s) { return a.ge(s); }, [](double a, double b) { return a >= b; }},
  };
  return ops;
}

void compare_case(Cases& cases, const CompareOp& op, DType ta, const Layout& la, DType tb, const Layout& lb,
                  const std::string& label, Values values, std::uint64_t seed) {
  const Host base_a = make_values(ta, la.base, values, seed), base_b = make_values(tb, lb.base, values, seed + 7);
  const Host a = la.host_view(base_a), b = lb.host_view(base_b);
  auto lib = op.lib;
  auto ref = op.ref;
  const std::string types =
      ta == tb ? std::string(dtype_name(ta)) : std::string(dtype_name(ta)) + "x" + std::string(dtype_name(tb));
  cases.push_back(
      {op.name + " " + types + " " + label, tol::exact,
       [=](Device d) { return Outputs{capture("out", lib(input_on(base_a, la, d), input_on(base_b, lb, d)))}; },
       [=](const Outputs&) {
         const Dims shape = broadcast(a.shape, b.shape);
         std::vector<double> y(static_cast<std::size_t>(numel_of(shape)));
         for (std::size_t i = 0; i < y.size(); ++i) {
           const Dims index = unravel(static_cast<std::int64_t>(i), shape);
           y[i] = ref(broadcast_at(a, index), broadcast_at(b, index)) ? 1.0 : 0.0;
         }
         return Outputs{expect("out", shape, DType::boolean, y)};
       }});
}

void compare_scalar_case(Cases& cases, const CompareOp& op, DType dtype, double s, std::uint64_t seed) {
  const Layout layout = layouts_3x4()[1];
  const Host base = make_values(dtype, layout.base, Values::ties, seed);
  const Host x = layout.host_view(base);
  auto lib = op.lib_scalar;
  auto ref = op.ref;
  char scalar[32];
  std::snprintf(scalar, sizeof scalar, "%g", s);
  cases.push_back({op.name + " " + std::string(dtype_name(dtype)) + " tensor op " + scalar + " " + layout.name,
                   tol::exact, [=](Device d) { return Outputs{capture("out", lib(input_on(base, layout, d), s))}; },
                   [=](const Outputs&) {
                     std::vector<double> y(x.v.size());
                     for (std::size_t i = 0; i < y.size(); ++i) y[i] = ref(x.v[i], s) ? 1.0 : 0.0;
                     return Outputs{expect("out", x.shape, DType::boolean, y)};
                   }});
}

void where_case(Cases& cases, DType dtype, std::uint64_t seed) {
  const Host cond = make_values(DType::boolean, {3, 1}, Values::general, seed);
  const Host a = make_values(dtype, {3, 4}, Values::general, seed + 1);
  const Host b = make_values(dtype, {1, 4}, Values::general, seed + 2);
  cases.push_back({"where " + std::string(dtype_name(dtype)) + " broadcast cond (3,1) a (4,3).t() b (1,4)", tol::exact,
                   [=](Device d) {
                     const Tensor ta = to_tensor(transpose(a, 0, 1)).to(d).t();
                     return Outputs{capture("out", where(to_tensor(cond).to(d), ta, to_tensor(b).to(d)))};
                   },
                   [=](const Outputs&) {
                     std::vector<double> y(12);
                     for (std::int64_t i = 0; i < 12; ++i) {
                       const Dims index = unravel(i, {3, 4});
                       y[static_cast<std::size_t>(i)] =
                           broadcast_at(cond, index) != 0.0 ? a.at(index) : broadcast_at(b, index);
                     }
                     return Outputs{expect("out", {3, 4}, dtype, y)};
                   }});
}

}  // namespace

void add_compare_cases(Cases& cases) {
  const std::vector<Layout> l = layouts_3x4();
  const Layout col = layout_contiguous({3, 1}), row = layout_contiguous({1, 4}), edge = layout_contiguous({14});
  std::uint64_t seed = 5000;
  for (const CompareOp& op : compare_ops()) {
    for (DType t : {DType::f32, DType::f64, DType::bf16, DType::i32, DType::i64, DType::u8, DType::boolean}) {
      compare_case(cases, op, t, col, t, row, "broadcast (3,1)x(1,4)", Values::ties, ++seed);
      if (t == DType::f32 || t == DType::i64)
        compare_case(cases, op, t, l[1], t, l[2], "transposed x strided (3,4)", Values::ties, ++seed);
    }
    compare_case(cases, op, DType::i32, l[0], DType::f32, l[0], "promote (3,4)", Values::ties, ++seed);
    for (DType t : {DType::f32, DType::f64}) {
      Layout named = edge;
      named.name = "edge values (14)";
      compare_case(cases, op, t, named, t, layout_scalar(), "edge values (14)x()", Values::edge, ++seed);
      compare_scalar_case(cases, op, t, 0.5, ++seed);
    }
    compare_scalar_case(cases, op, DType::i32, 1.0, ++seed);
    compare_scalar_case(cases, op, DType::u8, 1.5, ++seed);
  }
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::boolean})
    where_case(cases, t, ++seed);
}

}  // namespace dm::conformance
