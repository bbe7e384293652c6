// Reductions: sum mean var std over all dims, one, several, with keepdim; max min argmax argmin;
// softmax, log_softmax and logsumexp over each dim. Inputs (3,4,5) contiguous, permuted and
// step-sliced.
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "harness.hpp"
#include "host.hpp"
#include "reference_math.hpp"

namespace dm::conformance {
namespace {

using Reducer = std::function<double(const std::vector<double>&)>;

struct DimsSpec {
  std::string name;
  std::vector<std::int64_t> dims;  // empty: all, through the no-argument overload
  bool keepdim;
};

const std::vector<DimsSpec>& all_specs() {
  static const std::vector<DimsSpec> specs = {
      {"all", {}, false},
      {"dim 0", {0}, false},
      {"dim 1", {1}, false},
      {"dim 2", {2}, false},
      {"dim -1 keepdim", {-1}, true},
      {"dims 0,2", {0, 2}, false},
      {"dims 0,2 keepdim", {0, 2}, true},
  };
  return specs;
}

std::vector<Layout> layouts_3x4x5() {
  return {
      layout_contiguous({3, 4, 5}),
      {"permuted (5,3,4)->(3,4,5)",
       {5, 3, 4},
       [](const Tensor& t) {
         return t.permute({1, 2, 0});
       },
       [](const Host& h) {
         return permute(h, {1, 2, 0});
       }},
      {"strided (3,4,10)[:,:,::2]",
       {3, 4, 10},
       [](const Tensor& t) { return t.slice(2, 0, 10, 2); },
       [](const Host& h) { return slice(h, 2, 0, 10, 2); }},
  };
}

// Groups x's elements by the index they reduce into, in row-major order of x, and applies f.
Output reduce_reference(const Host& x, const std::vector<std::int64_t>& dims_in, bool keepdim, DType out,
                        const Reducer& f) {
  const auto ndim = static_cast<std::int64_t>(x.shape.size());
  std::vector<bool> reduced(x.shape.size(), dims_in.empty());
  for (std::int64_t d : dims_in) reduced[static_cast<std::size_t>(d < 0 ? d + ndim : d)] = true;
  Dims out_shape, kept_shape;
  for (std::size_t d = 0; d < x.shape.size(); ++d) {
    if (!reduced[d]) out_shape.push_back(x.shape[d]);
    if (!reduced[d] || keepdim) kept_shape.push_back(reduced[d] ? 1 : x.shape[d]);
  }
  std::vector<std::vector<double>> groups(static_cast<std::size_t>(numel_of(out_shape)));
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const Dims index = unravel(i, x.shape);
    Dims o;
    for (std::size_t d = 0; d < index.size(); ++d)
      if (!reduced[d]) o.push_back(index[d]);
    groups[static_cast<std::size_t>(ravel(o, out_shape))].push_back(x.v[static_cast<std::size_t>(i)]);
  }
  std::vector<double> y;
  for (const auto& g : groups) y.push_back(f(g));
  return expect("out", kept_shape, out, y);
}

double sum_of(const std::vector<double>& g) {
  double s = 0.0;
  for (double v : g) s += v;
  return s;
}
double mean_of(const std::vector<double>& g) { return sum_of(g) / static_cast<double>(g.size()); }
double var_of(const std::vector<double>& g, int correction) {
  const double m = mean_of(g);
  double s = 0.0;
  for (double v : g) s += (v - m) * (v - m);
  return s / static_cast<double>(static_cast<std::int64_t>(g.size()) - correction);
}
double max_of(const std::vector<double>& g) {
  double m = -std::numeric_limits<double>::infinity();
  for (double v : g) m = ref::maximum(m, v);
  return m;
}
double min_of(const std::vector<double>& g) {
  double m = std::numeric_limits<double>::infinity();
  for (double v : g) m = ref::minimum(m, v);
  return m;
}
double argmax_of(const std::vector<double>& g) {
  std::size_t k = 0;
  for (std::size_t i = 1; i < g.size(); ++i)
    if (g[i] > g[k]) k = i;
  return static_cast<double>(k);
}
double argmin_of(const std::vector<double>& g) {
  std::size_t k = 0;
  for (std::size_t i = 1; i < g.size(); ++i)
    if (g[i] < g[k]) k = i;
  return static_cast<double>(k);
}

struct ReduceOp {
  std::string name;
  std::function<Tensor(const Tensor&, const DimsSpec&)> lib;
  Reducer ref;
  std::function<DType(DType)> out_dtype;
};

Tensor one_dim(const Tensor& t, const DimsSpec& s, Tensor (Tensor::*all)() const,
               Tensor (Tensor::*dim)(std::int64_t, bool) const) {
  return s.dims.empty() ? (t.*all)() : (t.*dim)(s.dims[0], s.keepdim);
}

std::vector<ReduceOp> reduce_ops() {
  auto same = [](DType t) { return t; };
  auto sum_type = [](DType t) { return is_floating(t) ? t : DType::i64; };
  auto index_type = [](DType) { return DType::i64; };
  return {
      {"sum", [](const Tensor& t, const DimsSpec& s) { return s.dims.empty() ? t.sum() : t.sum(s.dims, s.keepdim); },
       sum_of, sum_type},
      {"mean", [](const Tensor& t, const DimsSpec& s) { return s.dims.empty() ? t.mean() : t.mean(s.dims, s.keepdim); },
       mean_of, same},
      {"var", [](const Tensor& t, const DimsSpec& s) { return s.dims.empty() ? t.var() : t.var(s.dims, 1, s.keepdim); },
       [](const std::vector<double>& g) { return var_of(g, 1); }, same},
      {"var correction=0",
       [](const Tensor& t, const DimsSpec& s) { return s.dims.empty() ? t.var(0) : t.var(s.dims, 0, s.keepdim); },
       [](const std::vector<double>& g) { return var_of(g, 0); }, same},
      {"std", [](const Tensor& t, const DimsSpec& s) { return s.dims.empty() ? t.std() : t.std(s.dims, 1, s.keepdim); },
       [](const std::vector<double>& g) { return std::sqrt(var_of(g, 1)); }, same},
      {"max", [](const Tensor& t, const DimsSpec& s) { return one_dim(t, s, &Tensor::max, &Tensor::max); }, max_of,
       same},
      {"min", [](const Tensor& t, const DimsSpec& s) { return one_dim(t, s, &Tensor::min, &Tensor::min); }, min_of,
       same},
      {"argmax", [](const Tensor& t, const DimsSpec& s) { return one_dim(t, s, &Tensor::argmax, &Tensor::argmax); },
       argmax_of, index_type},
      {"argmin", [](const Tensor& t, const DimsSpec& s) { return one_dim(t, s, &Tensor::argmin, &Tensor::argmin); },
       argmin_of, index_type},
  };
}

void reduce_case(Cases& cases, const ReduceOp& op, DType dtype, const Layout& layout, const DimsSpec& spec,
                 Values values, std::uint64_t seed, const std::string& extra = "") {
  const Host base = make_values(dtype, layout.base, values, seed);
  const Host x = layout.host_view(base);
  const DType out = op.out_dtype(dtype);
  auto lib = op.lib;
  auto ref = op.ref;
  cases.push_back({op.name + " " + std::string(dtype_name(dtype)) + " " + spec.name + " " + layout.name + extra,
                   tol::for_dtype(out),
                   [=](Device d) { return Outputs{capture("out", lib(input_on(base, layout, d), spec))}; },
                   [=](const Outputs&) { return Outputs{reduce_reference(x, spec.dims, spec.keepdim, out, ref)}; }});
}

// softmax, log_softmax (same shape) and logsumexp along one dim, as one dim's groups.
void softmax_case(Cases& cases, const std::string& op, DType dtype, const Layout& layout, std::int64_t dim,
                  double scale, std::uint64_t seed) {
  Host base = make_values(dtype, layout.base, Values::general, seed);
  for (double& v : base.v) v = round_to(dtype, v * scale);
  const Host x = layout.host_view(base);
  const bool keepdim = op == "logsumexp keepdim";
  auto lib = [op, dim, keepdim](const Tensor& t) {
    if (op == "softmax") return t.softmax(dim);
    if (op == "log_softmax") return t.log_softmax(dim);
    return t.logsumexp(dim, keepdim);
  };
  const std::string label = op + " " + std::string(dtype_name(dtype)) + " dim " + std::to_string(dim) + " " +
                            layout.name + (scale != 1.0 ? " values x" + std::to_string(static_cast<int>(scale)) : "");
  cases.push_back({label, tol::for_dtype(dtype, true),
                   [=](Device d) { return Outputs{capture("out", lib(input_on(base, layout, d)))}; },
                   [=](const Outputs&) {
                     const auto nd = static_cast<std::int64_t>(x.shape.size());
                     const auto d = static_cast<std::size_t>(dim < 0 ? dim + nd : dim);
                     auto lse = [](const std::vector<double>& g) {
                       double m = -INFINITY, s = 0.0;
                       for (double v : g) m = std::max(m, v);
                       for (double v : g) s += std::exp(v - m);
                       return m + std::log(s);
                     };
                     if (op.rfind("logsumexp", 0) == 0) return Outputs{reduce_reference(x, {dim}, keepdim, dtype, lse)};
                     // Each element against its own group's log-sum-exp.
                     const Output l = reduce_reference(x, {dim}, true, DType::f64, lse);
                     std::vector<double> y(x.v.size());
                     for (std::size_t i = 0; i < y.size(); ++i) {
                       Dims index = unravel(static_cast<std::int64_t>(i), x.shape);
                       index[d] = 0;
                       const double log_z = l.values[static_cast<std::size_t>(ravel(index, l.shape))];
                       y[i] = op == "softmax" ? std::exp(x.v[i] - log_z) : x.v[i] - log_z;
                     }
                     return Outputs{expect("out", x.shape, dtype, y)};
                   }});
}

}  // namespace

void add_reduce_cases(Cases& cases) {
  const std::vector<Layout> layouts = layouts_3x4x5();
  const std::vector<DimsSpec>& specs = all_specs();
  const std::vector<DimsSpec> few = {specs[0], specs[2], specs[6]};
  const std::vector<DimsSpec> single = {specs[0], specs[1], specs[2], specs[3], specs[4]};
  std::uint64_t seed = 8000;
  for (const ReduceOp& op : reduce_ops()) {
    const bool sum_like = op.name == "sum" || op.name == "mean";
    const bool extreme = op.name.rfind("max", 0) == 0 || op.name.rfind("min", 0) == 0 || op.name.rfind("arg", 0) == 0;
    const std::vector<DimsSpec>& mine = extreme ? single : (sum_like ? specs : few);
    const Values values = op.name.rfind("arg", 0) == 0 ? Values::ties : Values::general;
    for (const Layout& layout : layouts)
      for (const DimsSpec& s : mine) reduce_case(cases, op, DType::f32, layout, s, values, ++seed);
    for (const DimsSpec& s : mine) reduce_case(cases, op, DType::f64, layouts[1], s, values, ++seed);
    reduce_case(cases, op, DType::bf16, layouts[0], specs[2], values, ++seed);
    if (op.name == "sum" || extreme)
      for (DType t : {DType::i32, DType::i64, DType::u8, DType::boolean})
        for (const DimsSpec& s : extreme ? std::vector<DimsSpec>{specs[0], specs[2], specs[4]} : few)
          reduce_case(cases, op, t, layouts[1], s, values, ++seed);
    if (op.name == "max" || op.name == "min")
      for (DType t : {DType::f32, DType::f64})
        reduce_case(cases, op, t, layout_contiguous({2, 7}), specs[2], Values::edge, ++seed, " edge values");
  }
  // Zero-size: an empty sum is 0, an empty mean NaN.
  for (const ReduceOp& op : reduce_ops()) {
    if (op.name != "sum" && op.name != "mean") continue;
    reduce_case(cases, op, DType::f32, layout_empty(), specs[0], Values::general, ++seed);
    reduce_case(cases, op, DType::f32, layout_empty(), specs[1], Values::general, ++seed);
  }
  for (const std::string op : {"softmax", "log_softmax", "logsumexp", "logsumexp keepdim"}) {
    for (std::int64_t dim : {0, 1, 2, -1})
      for (std::size_t l = 0; l < 2; ++l) softmax_case(cases, op, DType::f32, layouts[l], dim, 1.0, ++seed);
    for (std::int64_t dim : {0, 2}) softmax_case(cases, op, DType::f64, layouts[2], dim, 1.0, ++seed);
    softmax_case(cases, op, DType::f32, layouts[0], 2, 100.0, ++seed);
    softmax_case(cases, op, DType::bf16, layouts[0], 1, 1.0, ++seed);
  }
}

}  // namespace dm::conformance
