// Conformance with PyTorch at the edges: every case of tests/fixtures/ops/edge.json (written by
// tests/fixtures/make_edge_fixtures.py) is run through dm, and its value *and its inputs'
// gradients* are compared with torch's. The cases are 0-d and zero-size shapes, expanded
// operands, the values 0, -0.0, +-inf and NaN (also as scalars, bounds and upstream
// gradients), and in-place ops. Each case runs on three layouts of the same values: contiguous,
// strided (a step-2 slice) and transposed.
//
// Where a result is plain IEEE arithmetic ("exact_zero_sign"), -0.0 must not come back as +0.0.
// A case torch refuses ("torch_error") must be refused by dm too, with a dm::Error. A few cases
// show where dm differs from torch on purpose (docs/differences.md); they are skipped by name,
// and each skip must still name a case of the file.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"
#include "torch_fixture.hpp"

namespace {

using namespace torch_fixture;

const char* const kFile = "edge.json";

// The deliberate differences from torch, each with the reason (docs/differences.md).
const std::map<std::string, std::string>& deliberate_differences() {
  static const std::map<std::string, std::string> skips = {
      {"max_dim_ties", "max(dim) shares the gradient evenly among tied maxima; torch gives it to one index"},
      {"gelu_minus_inf", "gelu(-inf) is its limit 0 (gradient 0); torch computes -inf * 0 = NaN"},
      {"cat_f32_f64", "cat asks for one dtype; torch promotes f32 with f64"},
      {"stack_f32_f64", "stack asks for one dtype; torch promotes f32 with f64"},
      {"add__overlapping", "an in-place operand overlapping the target is read from a copy; torch refuses"},
      {"var_dim_0_of_0d_correction_1",
       "var over n <= correction elements has gradient NaN, like its value; torch 1.13 gives inf for a 0-d input "
       "(and NaN for a one-element vector)"},
  };
  return skips;
}

// ---- the op table: fixture op name -> dm call ------------------------------------------------
// Mirrors EDGE_OPS in make_edge_fixtures.py.

using Inputs = std::vector<dm::Tensor>;
using OpFn = std::function<dm::Tensor(const Inputs&, const json&)>;
using Dims = std::vector<std::int64_t>;

std::int64_t int_arg(const json& a, const char* key) { return a.at(key).get<std::int64_t>(); }
double real_arg(const json& a, const char* key) { return decode_real(a.at(key)); }
bool bool_arg(const json& a, const char* key) { return a.at(key).get<bool>(); }
Dims dims_arg(const json& a) { return a.at("dims").get<Dims>(); }

// The in-place ops write into the input itself, through whatever view the test built.
dm::Tensor in_place(dm::Tensor x, const std::function<void(dm::Tensor&)>& op) {
  op(x);
  return x;
}

const std::map<std::string, OpFn>& op_table() {
  static const std::map<std::string, OpFn> table = {
      {"sum_all", [](const Inputs& x, const json&) { return x.at(0).sum(); }},
      {"sum", [](const Inputs& x, const json& a) { return x.at(0).sum(dims_arg(a), bool_arg(a, "keepdim")); }},
      {"mean_all", [](const Inputs& x, const json&) { return x.at(0).mean(); }},
      {"mean", [](const Inputs& x, const json& a) { return x.at(0).mean(dims_arg(a), bool_arg(a, "keepdim")); }},
      {"var_all", [](const Inputs& x, const json& a) { return x.at(0).var(int_arg(a, "correction")); }},
      {"var",
       [](const Inputs& x, const json& a) {
         return x.at(0).var(dims_arg(a), int_arg(a, "correction"), bool_arg(a, "keepdim"));
       }},
      {"std_all", [](const Inputs& x, const json& a) { return x.at(0).std(int_arg(a, "correction")); }},
      {"std",
       [](const Inputs& x, const json& a) {
         return x.at(0).std(dims_arg(a), int_arg(a, "correction"), bool_arg(a, "keepdim"));
       }},
      {"logsumexp",
       [](const Inputs& x, const json& a) { return x.at(0).logsumexp(int_arg(a, "dim"), bool_arg(a, "keepdim")); }},
      {"max_all", [](const Inputs& x, const json&) { return x.at(0).max(); }},
      {"max", [](const Inputs& x, const json& a) { return x.at(0).max(int_arg(a, "dim"), bool_arg(a, "keepdim")); }},
      {"min", [](const Inputs& x, const json& a) { return x.at(0).min(int_arg(a, "dim"), bool_arg(a, "keepdim")); }},
      {"index_select", [](const Inputs& x, const json& a) { return x.at(0).index_select(int_arg(a, "dim"), x.at(1)); }},
      {"maximum", [](const Inputs& x, const json&) { return x.at(0).maximum(x.at(1)); }},
      {"minimum", [](const Inputs& x, const json&) { return x.at(0).minimum(x.at(1)); }},
      {"reciprocal_of_minimum", [](const Inputs& x, const json&) { return 1.0 / x.at(0).minimum(x.at(1)); }},
      {"clamp", [](const Inputs& x, const json& a) { return x.at(0).clamp(real_arg(a, "lo"), real_arg(a, "hi")); }},
      {"relu", [](const Inputs& x, const json&) { return x.at(0).relu(); }},
      {"gelu", [](const Inputs& x, const json&) { return x.at(0).gelu(); }},
      {"pow_scalar", [](const Inputs& x, const json& a) { return x.at(0).pow(real_arg(a, "exponent")); }},
      {"pow", [](const Inputs& x, const json&) { return x.at(0).pow(x.at(1)); }},
      {"add", [](const Inputs& x, const json&) { return x.at(0) + x.at(1); }},
      {"mul", [](const Inputs& x, const json&) { return x.at(0) * x.at(1); }},
      {"div", [](const Inputs& x, const json&) { return x.at(0) / x.at(1); }},
      {"add_scalar", [](const Inputs& x, const json& a) { return x.at(0) + real_arg(a, "other"); }},
      {"sub_scalar", [](const Inputs& x, const json& a) { return x.at(0) - real_arg(a, "other"); }},
      {"mul_scalar", [](const Inputs& x, const json& a) { return x.at(0) * real_arg(a, "other"); }},
      {"div_scalar", [](const Inputs& x, const json& a) { return x.at(0) / real_arg(a, "other"); }},
      {"rsub_scalar", [](const Inputs& x, const json& a) { return real_arg(a, "other") - x.at(0); }},
      {"rdiv_scalar", [](const Inputs& x, const json& a) { return real_arg(a, "other") / x.at(0); }},
      {"add__scalar",
       [](const Inputs& x, const json& a) {
         return in_place(x.at(0), [&](dm::Tensor& t) { t.add_(real_arg(a, "other")); });
       }},
      {"mul__scalar",
       [](const Inputs& x, const json& a) {
         return in_place(x.at(0), [&](dm::Tensor& t) { t.mul_(real_arg(a, "other")); });
       }},
      {"div__scalar",
       [](const Inputs& x, const json& a) {
         return in_place(x.at(0), [&](dm::Tensor& t) { t.div_(real_arg(a, "other")); });
       }},
      {"add_", [](const Inputs& x, const json&) { return in_place(x.at(0), [&](dm::Tensor& t) { t.add_(x.at(1)); }); }},
      {"clamp_",
       [](const Inputs& x, const json& a) {
         return in_place(x.at(0), [&](dm::Tensor& t) { t.clamp_(real_arg(a, "lo"), real_arg(a, "hi")); });
       }},
      {"cat", [](const Inputs& x, const json& a) { return dm::cat(x, int_arg(a, "dim")); }},
      {"stack", [](const Inputs& x, const json& a) { return dm::stack(x, int_arg(a, "dim")); }},
      {"matmul", [](const Inputs& x, const json&) { return x.at(0).matmul(x.at(1)); }},
  };
  return table;
}

// ---- running a case --------------------------------------------------------------------------

struct Leaves {
  Inputs leaves;  // what gradients are taken with respect to (before any expand)
  Inputs inputs;  // what the op sees
};

Leaves make_inputs(const json& body, const std::vector<FixtureTensor>& values, Layout layout, bool with_grad) {
  Leaves out;
  const json& specs = body.at("inputs");
  for (std::size_t i = 0; i < values.size(); ++i) {
    dm::Tensor leaf = build_input(values[i], layout);
    if (with_grad && values[i].floating()) leaf.set_requires_grad();
    out.leaves.push_back(leaf);
    const json& spec = specs.at(i);
    out.inputs.push_back(spec.contains("expand") ? leaf.expand(dm::Shape(spec.at("expand").get<Dims>())) : leaf);
  }
  return out;
}

void check_gradients(const json& body, const dm::Tensor& out, const Leaves& in) {
  const FixtureTensor g = decode_tensor(body.at("grad_output"));
  const dm::Tensor seed = build_input(g, Layout::contiguous);
  ASSERT_TRUE(out.requires_grad()) << "the result left the graph";
  Inputs wrt;
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < in.leaves.size(); ++i)
    if (in.leaves[i].requires_grad()) {
      wrt.push_back(in.leaves[i]);
      which.push_back(i);
    }
  std::vector<dm::Tensor> grads;
  try {
    grads = dm::autograd::grad(out, wrt, seed);
  } catch (const std::exception& e) {
    FAIL() << "backward threw: " << e.what();
  }
  const json& want = body.at("grads");
  for (std::size_t k = 0; k < which.size(); ++k) {
    const std::string what = "gradient of input " + std::to_string(which[k]);
    // A gradient's zeros have no defined sign: torch and dm may arrange the same formula
    // differently (-(g * y) / b against -g * a / b^2).
    expect_matches(grads[k], decode_tensor(want.at(which[k])), what.c_str());
  }
}

void run_edge_case(const FixtureCase& c) {
  ASSERT_TRUE(c.load_error.empty()) << c.load_error;
  const auto skip = deliberate_differences().find(c.name);
  if (skip != deliberate_differences().end()) GTEST_SKIP() << "differs from torch on purpose: " << skip->second;
  const json& body = c.body;
  const std::string op = body.at("op").get<std::string>();
  const auto entry = op_table().find(op);
  ASSERT_TRUE(entry != op_table().end()) << "op \"" << op << "\" has no entry in the op table of " << __FILE__;

  const json& args = body.at("args");
  std::vector<FixtureTensor> values;
  for (const json& t : body.at("inputs")) values.push_back(decode_tensor(t));
  const bool refused = body.contains("torch_error");
  const bool with_grad = body.contains("grads");

  for (Layout layout : {Layout::contiguous, Layout::strided, Layout::transposed}) {
    SCOPED_TRACE(layout_name(layout));
    const Leaves in = make_inputs(body, values, layout, with_grad);
    if (refused) {
      EXPECT_THROW(entry->second(in.inputs, args), dm::Error) << "torch refuses: " << body.at("torch_error");
      continue;
    }
    dm::Tensor out;
    try {
      out = entry->second(in.inputs, args);
    } catch (const std::exception& e) {
      ADD_FAILURE() << op << " threw: " << e.what();
      continue;
    }
    expect_matches(out, decode_tensor(body.at("output")), "result", body.at("exact_zero_sign").get<bool>());
    if (with_grad) check_gradients(body, out, in);
  }
}

class Edge : public testing::TestWithParam<FixtureCase> {};

TEST_P(Edge, MatchesTorch) { run_edge_case(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Torch, Edge, testing::ValuesIn(load_cases(kFile)), test_name);

// A skip that names no case would hide nothing and rot silently.
TEST(TorchEdgeFixtures, EverySkippedCaseExists) {
  std::set<std::string> names;
  for (const FixtureCase& c : load_cases(kFile)) names.insert(c.name);
  for (const auto& [name, reason] : deliberate_differences()) EXPECT_TRUE(names.count(name)) << name << ": " << reason;
}

}  // namespace
