// Unary elementwise ops and their in-place forms, over every layout, f32/f64/bf16 and, where
// the op takes them, integers; edge values (0, -0, +-inf, NaN) in f32 and f64.
#include <cmath>
#include <string>

#include "harness.hpp"
#include "host.hpp"
#include "reference_math.hpp"

namespace dm::conformance {
namespace {

struct UnaryOp {
  std::string name;
  Tensor (*lib)(const Tensor&);
  Tensor& (*lib_inplace)(Tensor&);
  double (*ref)(double);
  Values values;
  bool transcendental;
  bool integers;  // integer inputs keep their dtype
};

const std::vector<UnaryOp>& unary_ops() {
  static const std::vector<UnaryOp> ops = {
      {"neg", [](const Tensor& t) { return t.neg(); }, [](Tensor& t) -> Tensor& { return t.neg_(); },
       [](double x) { return -x; }, Values::general, false, true},
      {"abs", [](const Tensor& t) { return t.abs(); }, [](Tensor& t) -> Tensor& { return t.abs_(); },
       [](double x) { return std::fabs(x); }, Values::general, false, true},
      {"exp", [](const Tensor& t) { return t.exp(); }, [](Tensor& t) -> Tensor& { return t.exp_(); },
       [](double x) { return std::exp(x); }, Values::general, true, false},
      {"log", [](const Tensor& t) { return t.log(); }, [](Tensor& t) -> Tensor& { return t.log_(); },
       [](double x) { return std::log(x); }, Values::positive, true, false},
      {"sqrt", [](const Tensor& t) { return t.sqrt(); }, [](Tensor& t) -> Tensor& { return t.sqrt_(); },
       [](double x) { return std::sqrt(x); }, Values::positive, false, false},
      {"relu", [](const Tensor& t) { return t.relu(); }, [](Tensor& t) -> Tensor& { return t.relu_(); },
       [](double x) { return ref::relu(x); }, Values::general, false, true},
      {"sigmoid", [](const Tensor& t) { return t.sigmoid(); }, [](Tensor& t) -> Tensor& { return t.sigmoid_(); },
       [](double x) { return ref::sigmoid(x); }, Values::general, true, false},
      {"tanh", [](const Tensor& t) { return t.tanh(); }, [](Tensor& t) -> Tensor& { return t.tanh_(); },
       [](double x) { return std::tanh(x); }, Values::general, true, false},
      {"gelu", [](const Tensor& t) { return t.gelu(); }, nullptr, [](double x) { return ref::gelu(x); },
       Values::general, true, false},
      {"clamp", [](const Tensor& t) { return t.clamp(-0.5, 1.0); },
       [](Tensor& t) -> Tensor& { return t.clamp_(-0.5, 1.0); }, [](double x) { return ref::clamp(x, -0.5, 1.0); },
       Values::general, false, false},
      {"pow_scalar", [](const Tensor& t) { return t.pow(2.0); }, [](Tensor& t) -> Tensor& { return t.pow_(2.0); },
       [](double x) { return x * x; }, Values::general, false, false},
  };
  return ops;
}

void unary_case(Cases& cases, const UnaryOp& op, DType dtype, const Layout& layout, Values values, std::uint64_t seed) {
  const Host base = make_values(dtype, layout.base, values, seed);
  const Host x = layout.host_view(base);
  auto lib = op.lib;
  auto ref = op.ref;
  cases.push_back({op.name + " " + std::string(dtype_name(dtype)) + " " + layout.name,
                   tol::for_dtype(dtype, op.transcendental),
                   [=](Device d) { return Outputs{capture("out", lib(input_on(base, layout, d)))}; },
                   [=](const Outputs&) {
                     std::vector<double> y(x.v.size());
                     for (std::size_t i = 0; i < y.size(); ++i) y[i] = ref(x.v[i]);
                     return Outputs{expect("out", x.shape, dtype, y)};
                   }});
}

// In place into a step-sliced view: only the view's elements of the base change.
void inplace_unary_case(Cases& cases, const UnaryOp& op, DType dtype, std::uint64_t seed) {
  const Host base = make_values(dtype, {3, 8}, op.values, seed);
  auto lib = op.lib_inplace;
  auto ref = op.ref;
  cases.push_back({op.name + "_ " + std::string(dtype_name(dtype)) + " into strided view (3,8)[:,1::2]",
                   tol::for_dtype(dtype, op.transcendental),
                   [=](Device d) {
                     Tensor b = to_tensor(base).to(d);
                     Tensor view = b.slice(1, 1, 8, 2);
                     lib(view);
                     return Outputs{capture("base", b)};
                   },
                   [=](const Outputs&) {
                     std::vector<double> y = base.v;
                     for (std::size_t i = 1; i < y.size(); i += 2) y[i] = ref(y[i]);
                     return Outputs{expect("base", base.shape, dtype, y)};
                   }});
}

}  // namespace

void add_unary_cases(Cases& cases) {
  std::uint64_t seed = 100;
  for (const UnaryOp& op : unary_ops()) {
    for (const Layout& layout : layouts_3x4()) unary_case(cases, op, DType::f32, layout, op.values, ++seed);
    unary_case(cases, op, DType::f32, layout_scalar(), op.values, ++seed);
    unary_case(cases, op, DType::f32, layout_empty(), op.values, ++seed);
    const std::vector<Layout> layouts = layouts_3x4();
    for (int i = 0; i < 3; ++i)
      unary_case(cases, op, DType::f64, layouts[static_cast<std::size_t>(i)], op.values, ++seed);
    unary_case(cases, op, DType::bf16, layouts[0], op.values, ++seed);
    const Layout edge = layout_contiguous({14});
    for (DType t : {DType::f32, DType::f64}) {
      Layout named = edge;
      named.name = "edge values (14)";
      unary_case(cases, op, t, named, Values::edge, ++seed);
    }
    if (op.integers)
      for (DType t : {DType::i32, DType::i64}) unary_case(cases, op, t, layouts[1], op.values, ++seed);
    if (op.lib_inplace)
      for (DType t : {DType::f32, DType::f64}) inplace_unary_case(cases, op, t, ++seed);
  }
}

}  // namespace dm::conformance
