// Binary arithmetic (add sub mul div pow maximum minimum): tensor-tensor with broadcasting and
// strided operands, tensor-scalar, scalar-tensor, dtype promotion, edge values, in place.
#include <cmath>
#include <string>

#include "harness.hpp"
#include "host.hpp"
#include "reference_math.hpp"

namespace dm::conformance {
namespace {

struct BinaryOp {
  std::string name;
  Tensor (*lib)(const Tensor&, const Tensor&);
  double (*ref)(double, double);
  bool integers;
  bool transcendental;
};

const std::vector<BinaryOp>& binary_ops() {
  static const std::vector<BinaryOp> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return a.add(b); }, [](double a, double b) { return a + b; }, true,
       false},
      {"sub", [](const Tensor& a, const Tensor& b) { return a.sub(b); }, [](double a, double b) { return a - b; }, true,
       false},
      {"mul", [](const Tensor& a, const Tensor& b) { return a.mul(b); }, [](double a, double b) { return a * b; }, true,
       false},
      {"div", [](const Tensor& a, const Tensor& b) { return a.div(b); }, [](double a, double b) { return a / b; }, true,
       false},
      {"pow", [](const Tensor& a, const Tensor& b) { return a.pow(b); },
       [](double a, double b) { return std::pow(a, b); }, false, true},
      {"maximum", [](const Tensor& a, const Tensor& b) { return a.maximum(b); }, ref::maximum, true, false},
      {"minimum", [](const Tensor& a, const Tensor& b) { return a.minimum(b); }, ref::minimum, true, false},
  };
  return ops;
}

// True division of integers gives f32, as in torch.
DType result_dtype(const std::string& op, DType a, bool a_dim, DType b, bool b_dim) {
  const DType r = ref::promote(a, a_dim, b, b_dim);
  return op == "div" && !is_floating(r) ? DType::f32 : r;
}

// The reference of a broadcasting binary op: the result's element at each index reads both
// operands through broadcast_at.
Output binary_reference(const std::string& name, const Host& a, const Host& b, DType out,
                        double (*ref)(double, double)) {
  const Dims shape = broadcast(a.shape, b.shape);
  std::vector<double> y(static_cast<std::size_t>(numel_of(shape)));
  for (std::size_t i = 0; i < y.size(); ++i) {
    const Dims index = unravel(static_cast<std::int64_t>(i), shape);
    y[i] = ref(broadcast_at(a, index), broadcast_at(b, index));
  }
  return expect(name, shape, out, y);
}

void binary_case(Cases& cases, const BinaryOp& op, DType ta, const Layout& la, DType tb, const Layout& lb,
                 const std::string& label, std::uint64_t seed, Values va = Values::general,
                 Values vb = Values::general) {
  if (op.name == "pow") va = Values::positive;
  const Host base_a = make_values(ta, la.base, va, seed);
  const Host base_b = make_values(tb, lb.base, vb, seed + 5000);
  const Host a = la.host_view(base_a), b = lb.host_view(base_b);
  const DType out = result_dtype(op.name, ta, !a.shape.empty(), tb, !b.shape.empty());
  const std::string types =
      ta == tb ? std::string(dtype_name(ta)) : std::string(dtype_name(ta)) + "x" + std::string(dtype_name(tb));
  auto lib = op.lib;
  auto ref = op.ref;
  cases.push_back(
      {op.name + " " + types + " " + label, tol::for_dtype(out, op.transcendental),
       [=](Device d) { return Outputs{capture("out", lib(input_on(base_a, la, d), input_on(base_b, lb, d)))}; },
       [=](const Outputs&) { return Outputs{binary_reference("out", a, b, out, ref)}; }});
}

// t op s and s op t with a Python-like scalar.
void scalar_case(Cases& cases, const std::string& name, DType dtype, double s, bool scalar_first, std::uint64_t seed) {
  const Layout layout = layouts_3x4()[2];
  const Values values = name == "pow" ? Values::positive : Values::general;
  const Host base = make_values(dtype, layout.base, values, seed);
  const Host x = layout.host_view(base);
  // A non-integral scalar makes an integer tensor's result the default float dtype.
  const bool integral_scalar = s == std::trunc(s);
  DType out = is_floating(dtype) || !integral_scalar ? (is_floating(dtype) ? dtype : DType::f32) : dtype;
  if (name == "div" && !is_floating(out)) out = DType::f32;
  auto lib = [name, s, scalar_first](const Tensor& t) {
    if (scalar_first) {
      if (name == "add") return s + t;
      if (name == "sub") return s - t;
      if (name == "mul") return s * t;
      return s / t;
    }
    if (name == "add") return t.add(s);
    if (name == "sub") return t.sub(s);
    if (name == "mul") return t.mul(s);
    if (name == "div") return t.div(s);
    return t.pow(s);
  };
  auto ref = [name, s, scalar_first](double v) {
    const double a = scalar_first ? s : v, b = scalar_first ? v : s;
    if (name == "add") return a + b;
    if (name == "sub") return a - b;
    if (name == "mul") return a * b;
    if (name == "div") return a / b;
    return std::pow(a, b);
  };
  char scalar[32];
  std::snprintf(scalar, sizeof scalar, "%g", s);
  const std::string form = scalar_first ? std::string(scalar) + " op tensor" : "tensor op " + std::string(scalar);
  cases.push_back({name + " " + std::string(dtype_name(dtype)) + " " + form + " " + layout.name,
                   tol::for_dtype(out, name == "pow"),
                   [=](Device d) { return Outputs{capture("out", lib(input_on(base, layout, d)))}; },
                   [=](const Outputs&) {
                     std::vector<double> y(x.v.size());
                     for (std::size_t i = 0; i < y.size(); ++i) y[i] = ref(x.v[i]);
                     return Outputs{expect("out", x.shape, out, y)};
                   }});
}

// Edge values against a rotated copy of themselves: inf - inf, 0 * inf, NaN everywhere.
void edge_case(Cases& cases, const BinaryOp& op, DType dtype) {
  const Host a = make_values(dtype, {14}, Values::edge, 1);
  Host b = a;
  for (std::size_t i = 0; i < b.v.size(); ++i) b.v[i] = a.v[(i + 3) % a.v.size()];
  auto lib = op.lib;
  auto ref = op.ref;
  cases.push_back({op.name + " " + std::string(dtype_name(dtype)) + " edge values (14)x(14)",
                   tol::for_dtype(dtype, op.transcendental),
                   [=](Device d) { return Outputs{capture("out", lib(to_tensor(a).to(d), to_tensor(b).to(d)))}; },
                   [=](const Outputs&) { return Outputs{binary_reference("out", a, b, dtype, ref)}; }});
}

struct InplaceOp {
  std::string name;
  void (*lib)(Tensor&, const Tensor&);
  double (*ref)(double, double);
};

// a.op_(b) into a step-sliced view of a (3,8) base, b broadcast from (1,4); the result is
// stored in a's dtype.
void inplace_case(Cases& cases, const InplaceOp& op, DType dtype, DType other, std::uint64_t seed) {
  const Host base = make_values(dtype, {3, 8}, Values::general, seed);
  const Host b = make_values(other, {1, 4}, Values::positive, seed + 1);
  auto lib = op.lib;
  auto ref = op.ref;
  const std::string types = dtype == other ? std::string(dtype_name(dtype))
                                           : std::string(dtype_name(dtype)) + "x" + std::string(dtype_name(other));
  cases.push_back({op.name + " " + types + " into strided view (3,8)[:,::2] with (1,4)", tol::for_dtype(dtype),
                   [=](Device d) {
                     Tensor t = to_tensor(base).to(d);
                     Tensor view = t.slice(1, 0, 8, 2);
                     lib(view, to_tensor(b).to(d));
                     return Outputs{capture("base", t)};
                   },
                   [=](const Outputs&) {
                     std::vector<double> y = base.v;
                     for (std::size_t i = 0; i < y.size(); i += 2) y[i] = ref(y[i], b.v[(i % 8) / 2]);
                     return Outputs{expect("base", base.shape, dtype, y)};
                   }});
}

}  // namespace

void add_binary_cases(Cases& cases) {
  const std::vector<Layout> l = layouts_3x4();
  const Layout col = layout_contiguous({3, 1}), row = layout_contiguous({1, 4}), cube = layout_contiguous({2, 3, 4}),
               vec = layout_contiguous({4}), scalar = layout_scalar(), empty = layout_empty();
  std::uint64_t seed = 2000;
  for (const BinaryOp& op : binary_ops()) {
    for (DType t : {DType::f32, DType::f64}) {
      binary_case(cases, op, t, l[0], t, l[0], "same (3,4)x(3,4)", ++seed);
      binary_case(cases, op, t, col, t, row, "broadcast (3,1)x(1,4)", ++seed);
      binary_case(cases, op, t, l[1], t, l[2], "transposed x strided (3,4)", ++seed);
      edge_case(cases, op, t);
      if (t == DType::f64) continue;
      binary_case(cases, op, t, cube, t, vec, "broadcast (2,3,4)x(4)", ++seed);
      binary_case(cases, op, t, l[5], t, l[4], "permuted x expanded (3,4)", ++seed);
      binary_case(cases, op, t, l[3], t, scalar, "narrow x 0-d (3,4)x()", ++seed);
      binary_case(cases, op, t, scalar, t, l[0], "0-d x (3,4)", ++seed);
      binary_case(cases, op, t, empty, t, row, "empty (0,4)x(1,4)", ++seed);
    }
    binary_case(cases, op, DType::bf16, col, DType::bf16, row, "broadcast (3,1)x(1,4)", ++seed);
    if (!op.integers) continue;
    for (DType t : {DType::i32, DType::i64, DType::u8}) {
      binary_case(cases, op, t, l[0], t, l[1], "contiguous x transposed (3,4)", ++seed);
      binary_case(cases, op, t, col, t, row, "broadcast (3,1)x(1,4)", ++seed);
    }
  }
  // Promotion between dtypes (and a 0-d operand that does not widen a dimensioned one).
  for (const BinaryOp& op : {binary_ops()[0], binary_ops()[2]}) {
    binary_case(cases, op, DType::f32, col, DType::f64, row, "promote broadcast (3,1)x(1,4)", ++seed);
    binary_case(cases, op, DType::i32, l[0], DType::f32, l[0], "promote (3,4)", ++seed);
    binary_case(cases, op, DType::u8, l[0], DType::i64, l[1], "promote (3,4)", ++seed);
    binary_case(cases, op, DType::bf16, l[0], DType::f32, l[0], "promote (3,4)", ++seed);
    binary_case(cases, op, DType::f32, l[0], DType::f64, scalar, "0-d does not widen (3,4)x()", ++seed);
    binary_case(cases, op, DType::i64, l[0], DType::f64, scalar, "0-d float widens int (3,4)x()", ++seed);
  }
  binary_case(cases, binary_ops()[3], DType::i32, l[0], DType::i32, row, "true division (3,4)x(1,4)", ++seed);

  for (const std::string name : {"add", "sub", "mul", "div", "pow"}) {
    for (DType t : {DType::f32, DType::f64}) scalar_case(cases, name, t, 1.5, false, ++seed);
    if (name != "pow") {
      for (DType t : {DType::f32, DType::f64}) scalar_case(cases, name, t, 1.5, true, ++seed);
      scalar_case(cases, name, DType::i32, 3.0, false, ++seed);
      scalar_case(cases, name, DType::i64, 1.5, false, ++seed);
      scalar_case(cases, name, DType::u8, 2.0, true, ++seed);
    }
  }

  const std::vector<InplaceOp> inplace = {
      {"add_", [](Tensor& a, const Tensor& b) { a.add_(b); }, [](double a, double b) { return a + b; }},
      {"sub_", [](Tensor& a, const Tensor& b) { a.sub_(b); }, [](double a, double b) { return a - b; }},
      {"mul_", [](Tensor& a, const Tensor& b) { a.mul_(b); }, [](double a, double b) { return a * b; }},
      {"div_", [](Tensor& a, const Tensor& b) { a.div_(b); }, [](double a, double b) { return a / b; }},
      {"add_ scalar", [](Tensor& a, const Tensor&) { a.add_(2.0); }, [](double a, double) { return a + 2.0; }},
      {"mul_ scalar", [](Tensor& a, const Tensor&) { a.mul_(3.0); }, [](double a, double) { return a * 3.0; }},
      {"fill_", [](Tensor& a, const Tensor&) { a.fill_(3.0); }, [](double, double) { return 3.0; }},
      {"zero_", [](Tensor& a, const Tensor&) { a.zero_(); }, [](double, double) { return 0.0; }},
      {"copy_", [](Tensor& a, const Tensor& b) { a.copy_(b); }, [](double, double b) { return b; }},
  };
  for (const InplaceOp& op : inplace) {
    for (DType t : {DType::f32, DType::f64}) inplace_case(cases, op, t, t, ++seed);
    inplace_case(cases, op, DType::f32, DType::f64, ++seed);
    if (op.name != "div_") {
      inplace_case(cases, op, DType::i32, DType::i32, ++seed);
      inplace_case(cases, op, DType::u8, DType::u8, ++seed);
      inplace_case(cases, op, DType::bf16, DType::bf16, ++seed);
    }
  }
  for (DType t : {DType::boolean, DType::i64})
    for (std::size_t i = 6; i < 9; ++i) inplace_case(cases, inplace[i], t, t, ++seed);
}

}  // namespace dm::conformance
