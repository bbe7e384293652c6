// Conformance with PyTorch: every case of tests/fixtures/ops/{elementwise,reduce,matmul,shape}.json
// (written by tests/fixtures/make_op_fixtures.py, see tests/fixtures/README.md) is run through dm and
// its result is compared with torch's in shape, dtype and values.
//
// Each case runs twice: once on fresh contiguous inputs, and once on inputs that are strided
// views (every stride doubled, storage offset 1, NaN or sentinels in the gaps) holding the same
// values, so that a kernel which ignores strides or offsets fails here. Those views are built
// with core's make_view rather than with slice(), so that they do not depend on an op under test.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"
#include "torch_fixture.hpp"

namespace {

using namespace torch_fixture;

// ---- the op table: fixture op name -> dm call ------------------------------------------------
// Mirrors TORCH_OPS in make_op_fixtures.py; an op missing here fails its cases.

using Inputs = std::vector<dm::Tensor>;
using OpFn = std::function<dm::Tensor(const Inputs&, const json&)>;

std::int64_t int_arg(const json& a, const char* key) { return a.at(key).get<std::int64_t>(); }
double real_arg(const json& a, const char* key) { return a.at(key).get<double>(); }
bool bool_arg(const json& a, const char* key) { return a.at(key).get<bool>(); }
std::vector<std::int64_t> ints_arg(const json& a, const char* key) {
  return a.at(key).get<std::vector<std::int64_t>>();
}

const std::map<std::string, OpFn>& op_table() {
  static const std::map<std::string, OpFn> table = {
      // elementwise
      {"add", [](const Inputs& x, const json&) { return x.at(0).add(x.at(1)); }},
      {"sub", [](const Inputs& x, const json&) { return x.at(0).sub(x.at(1)); }},
      {"mul", [](const Inputs& x, const json&) { return x.at(0).mul(x.at(1)); }},
      {"div", [](const Inputs& x, const json&) { return x.at(0).div(x.at(1)); }},
      {"add_scalar", [](const Inputs& x, const json& a) { return x.at(0).add(real_arg(a, "other")); }},
      {"sub_scalar", [](const Inputs& x, const json& a) { return x.at(0).sub(real_arg(a, "other")); }},
      {"mul_scalar", [](const Inputs& x, const json& a) { return x.at(0).mul(real_arg(a, "other")); }},
      {"div_scalar", [](const Inputs& x, const json& a) { return x.at(0).div(real_arg(a, "other")); }},
      {"rsub_scalar", [](const Inputs& x, const json& a) { return real_arg(a, "other") - x.at(0); }},
      {"rdiv_scalar", [](const Inputs& x, const json& a) { return real_arg(a, "other") / x.at(0); }},
      {"neg", [](const Inputs& x, const json&) { return -x.at(0); }},
      {"abs", [](const Inputs& x, const json&) { return x.at(0).abs(); }},
      {"exp", [](const Inputs& x, const json&) { return x.at(0).exp(); }},
      {"log", [](const Inputs& x, const json&) { return x.at(0).log(); }},
      {"sqrt", [](const Inputs& x, const json&) { return x.at(0).sqrt(); }},
      {"pow_scalar", [](const Inputs& x, const json& a) { return x.at(0).pow(real_arg(a, "exponent")); }},
      {"pow", [](const Inputs& x, const json&) { return x.at(0).pow(x.at(1)); }},
      {"relu", [](const Inputs& x, const json&) { return x.at(0).relu(); }},
      {"sigmoid", [](const Inputs& x, const json&) { return x.at(0).sigmoid(); }},
      {"tanh", [](const Inputs& x, const json&) { return x.at(0).tanh(); }},
      {"gelu", [](const Inputs& x, const json&) { return x.at(0).gelu(); }},
      {"clamp", [](const Inputs& x, const json& a) { return x.at(0).clamp(real_arg(a, "lo"), real_arg(a, "hi")); }},
      {"maximum", [](const Inputs& x, const json&) { return x.at(0).maximum(x.at(1)); }},
      {"minimum", [](const Inputs& x, const json&) { return x.at(0).minimum(x.at(1)); }},
      {"eq", [](const Inputs& x, const json&) { return x.at(0).eq(x.at(1)); }},
      {"ne", [](const Inputs& x, const json&) { return x.at(0).ne(x.at(1)); }},
      {"lt", [](const Inputs& x, const json&) { return x.at(0).lt(x.at(1)); }},
      {"le", [](const Inputs& x, const json&) { return x.at(0).le(x.at(1)); }},
      {"gt", [](const Inputs& x, const json&) { return x.at(0).gt(x.at(1)); }},
      {"ge", [](const Inputs& x, const json&) { return x.at(0).ge(x.at(1)); }},
      {"eq_scalar", [](const Inputs& x, const json& a) { return x.at(0).eq(real_arg(a, "other")); }},
      {"ne_scalar", [](const Inputs& x, const json& a) { return x.at(0).ne(real_arg(a, "other")); }},
      {"lt_scalar", [](const Inputs& x, const json& a) { return x.at(0).lt(real_arg(a, "other")); }},
      {"le_scalar", [](const Inputs& x, const json& a) { return x.at(0).le(real_arg(a, "other")); }},
      {"gt_scalar", [](const Inputs& x, const json& a) { return x.at(0).gt(real_arg(a, "other")); }},
      {"ge_scalar", [](const Inputs& x, const json& a) { return x.at(0).ge(real_arg(a, "other")); }},
      {"where", [](const Inputs& x, const json&) { return dm::where(x.at(0), x.at(1), x.at(2)); }},
      // reductions
      {"sum_all", [](const Inputs& x, const json&) { return x.at(0).sum(); }},
      {"sum", [](const Inputs& x, const json& a) { return x.at(0).sum(ints_arg(a, "dims"), bool_arg(a, "keepdim")); }},
      {"mean_all", [](const Inputs& x, const json&) { return x.at(0).mean(); }},
      {"mean", [](const Inputs& x, const json& a) { return x.at(0).mean(ints_arg(a, "dims"), bool_arg(a, "keepdim")); }},
      {"max_all", [](const Inputs& x, const json&) { return x.at(0).max(); }},
      {"max", [](const Inputs& x, const json& a) { return x.at(0).max(int_arg(a, "dim"), bool_arg(a, "keepdim")); }},
      {"min_all", [](const Inputs& x, const json&) { return x.at(0).min(); }},
      {"min", [](const Inputs& x, const json& a) { return x.at(0).min(int_arg(a, "dim"), bool_arg(a, "keepdim")); }},
      {"argmax_all", [](const Inputs& x, const json&) { return x.at(0).argmax(); }},
      {"argmax", [](const Inputs& x, const json& a) { return x.at(0).argmax(int_arg(a, "dim"), bool_arg(a, "keepdim")); }},
      {"argmin_all", [](const Inputs& x, const json&) { return x.at(0).argmin(); }},
      {"argmin", [](const Inputs& x, const json& a) { return x.at(0).argmin(int_arg(a, "dim"), bool_arg(a, "keepdim")); }},
      {"var_all", [](const Inputs& x, const json& a) { return x.at(0).var(int_arg(a, "correction")); }},
      {"var",
       [](const Inputs& x, const json& a) {
         return x.at(0).var(ints_arg(a, "dims"), int_arg(a, "correction"), bool_arg(a, "keepdim"));
       }},
      {"std_all", [](const Inputs& x, const json& a) { return x.at(0).std(int_arg(a, "correction")); }},
      {"std",
       [](const Inputs& x, const json& a) {
         return x.at(0).std(ints_arg(a, "dims"), int_arg(a, "correction"), bool_arg(a, "keepdim"));
       }},
      {"softmax", [](const Inputs& x, const json& a) { return x.at(0).softmax(int_arg(a, "dim")); }},
      {"log_softmax", [](const Inputs& x, const json& a) { return x.at(0).log_softmax(int_arg(a, "dim")); }},
      {"logsumexp",
       [](const Inputs& x, const json& a) { return x.at(0).logsumexp(int_arg(a, "dim"), bool_arg(a, "keepdim")); }},
      // linear algebra
      {"matmul", [](const Inputs& x, const json&) { return x.at(0).matmul(x.at(1)); }},
      // shape ops
      {"permute", [](const Inputs& x, const json& a) { return x.at(0).permute(ints_arg(a, "dims")); }},
      {"permute_contiguous",
       [](const Inputs& x, const json& a) {
         dm::Tensor out = x.at(0).permute(ints_arg(a, "dims")).contiguous();
         if (!out.is_contiguous()) throw std::runtime_error("contiguous() returned a non-contiguous tensor");
         return out;
       }},
      {"transpose",
       [](const Inputs& x, const json& a) { return x.at(0).transpose(int_arg(a, "dim0"), int_arg(a, "dim1")); }},
      {"t", [](const Inputs& x, const json&) { return x.at(0).t(); }},
      {"slice",
       [](const Inputs& x, const json& a) {
         return x.at(0).slice(int_arg(a, "dim"), int_arg(a, "start"), int_arg(a, "end"), int_arg(a, "step"));
       }},
      {"narrow",
       [](const Inputs& x, const json& a) {
         return x.at(0).narrow(int_arg(a, "dim"), int_arg(a, "start"), int_arg(a, "length"));
       }},
      {"select", [](const Inputs& x, const json& a) { return x.at(0).select(int_arg(a, "dim"), int_arg(a, "index")); }},
      {"index_select", [](const Inputs& x, const json& a) { return x.at(0).index_select(int_arg(a, "dim"), x.at(1)); }},
      {"cat", [](const Inputs& x, const json& a) { return dm::cat(x, int_arg(a, "dim")); }},
      {"stack", [](const Inputs& x, const json& a) { return dm::stack(x, int_arg(a, "dim")); }},
      {"expand", [](const Inputs& x, const json& a) { return x.at(0).expand(dm::Shape(ints_arg(a, "shape"))); }},
      {"squeeze_all", [](const Inputs& x, const json&) { return x.at(0).squeeze(); }},
      {"squeeze", [](const Inputs& x, const json& a) { return x.at(0).squeeze(int_arg(a, "dim")); }},
      {"unsqueeze", [](const Inputs& x, const json& a) { return x.at(0).unsqueeze(int_arg(a, "dim")); }},
      {"reshape", [](const Inputs& x, const json& a) { return x.at(0).reshape(dm::Shape(ints_arg(a, "shape"))); }},
      {"flatten",
       [](const Inputs& x, const json& a) { return x.at(0).flatten(int_arg(a, "start_dim"), int_arg(a, "end_dim")); }},
      {"transpose_reshape",
       [](const Inputs& x, const json& a) {
         return x.at(0).transpose(int_arg(a, "dim0"), int_arg(a, "dim1")).reshape(dm::Shape(ints_arg(a, "shape")));
       }},
  };
  return table;
}

void run_case(const FixtureCase& c) {
  ASSERT_TRUE(c.load_error.empty()) << c.load_error;
  const std::string op = c.body.at("op").get<std::string>();
  const auto entry = op_table().find(op);
  ASSERT_TRUE(entry != op_table().end()) << "op \"" << op << "\" has no entry in the op table of " << __FILE__;

  const json& args = c.body.at("args");
  std::vector<FixtureTensor> inputs;
  for (const json& t : c.body.at("inputs")) inputs.push_back(decode_tensor(t));
  const FixtureTensor expected = decode_tensor(c.body.at("output"));

  for (Layout layout : {Layout::contiguous, Layout::strided}) {
    SCOPED_TRACE(layout_name(layout));
    Inputs tensors;
    for (const FixtureTensor& t : inputs) tensors.push_back(build_input(t, layout));
    dm::Tensor got;
    try {
      got = entry->second(tensors, args);
    } catch (const std::exception& e) {
      ADD_FAILURE() << op << " threw: " << e.what();
      continue;
    }
    expect_matches(got, expected, "result");
    // Ops return new tensors (or views); none may write into its inputs.
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const std::string diff = compare_values(tensors[i], inputs[i]);
      EXPECT_TRUE(diff.empty()) << "input " << i << " changed: " << diff;
    }
  }
}

// One parameterised test per fixture file; CTest lists each case as
// Torch/<Family>.MatchesTorch/<case name>.
class Elementwise : public testing::TestWithParam<FixtureCase> {};
class Reduce : public testing::TestWithParam<FixtureCase> {};
class Matmul : public testing::TestWithParam<FixtureCase> {};
class ShapeOps : public testing::TestWithParam<FixtureCase> {};

TEST_P(Elementwise, MatchesTorch) { run_case(GetParam()); }
TEST_P(Reduce, MatchesTorch) { run_case(GetParam()); }
TEST_P(Matmul, MatchesTorch) { run_case(GetParam()); }
TEST_P(ShapeOps, MatchesTorch) { run_case(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Torch, Elementwise, testing::ValuesIn(load_cases("elementwise.json")), test_name);
INSTANTIATE_TEST_SUITE_P(Torch, Reduce, testing::ValuesIn(load_cases("reduce.json")), test_name);
INSTANTIATE_TEST_SUITE_P(Torch, Matmul, testing::ValuesIn(load_cases("matmul.json")), test_name);
INSTANTIATE_TEST_SUITE_P(Torch, ShapeOps, testing::ValuesIn(load_cases("shape.json")), test_name);

}  // namespace
