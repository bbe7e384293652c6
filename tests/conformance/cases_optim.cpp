// Optimizer steps (SGD with and without momentum, dampening, Nesterov and weight decay; Adam;
// AdamW) against naive loops of the torch formulas, and dm::Parameters::update/update_batch
// against naive sums.
#include <cmath>
#include <span>
#include <string>

#include "democratising/optim/optimizer.hpp"
#include "democratising/model/parameters.hpp"
#include "harness.hpp"
#include "host.hpp"

namespace dm::conformance {
namespace {

constexpr int kSteps = 3;

struct Config {
  std::string name;
  bool adam;
  optim::SGDOptions sgd;
  optim::AdamOptions adam_options;
  bool decoupled;
};

// Parameters a (3) and b (2,2); grads[s][k] for step s and parameter k. Parameter b has no
// gradient in step 1, so its step count (Adam's bias correction) lags a's.
struct Problem {
  std::vector<Host> params;
  std::vector<std::vector<Host>> grads;
  bool has_grad(int step, std::size_t k) const { return !(step == 1 && k == 1); }
};

Problem make_problem(DType dtype, std::uint64_t seed) {
  Problem p;
  p.params = {make_values(dtype, {3}, Values::general, seed), make_values(dtype, {2, 2}, Values::general, seed + 1)};
  for (int s = 0; s < kSteps; ++s)
    p.grads.push_back({make_values(dtype, {3}, Values::general, seed + 10 + static_cast<std::uint64_t>(s)),
                       make_values(dtype, {2, 2}, Values::general, seed + 20 + static_cast<std::uint64_t>(s))});
  return p;
}

// torch.optim.SGD / Adam / AdamW, single-tensor form, in double.
std::vector<std::vector<double>> optimizer_reference(const Config& c, const Problem& pr) {
  std::vector<std::vector<double>> p, buf, m, v;
  std::vector<int> t(pr.params.size(), 0);
  for (const Host& h : pr.params) {
    p.push_back(h.v);
    buf.emplace_back(h.v.size(), 0.0);
    m.emplace_back(h.v.size(), 0.0);
    v.emplace_back(h.v.size(), 0.0);
  }
  for (int s = 0; s < kSteps; ++s)
    for (std::size_t k = 0; k < p.size(); ++k) {
      if (!pr.has_grad(s, k)) continue;
      ++t[k];
      for (std::size_t i = 0; i < p[k].size(); ++i) {
        double g = pr.grads[static_cast<std::size_t>(s)][k].v[i];
        double& x = p[k][i];
        if (!c.adam) {
          const optim::SGDOptions& o = c.sgd;
          double d = g + o.weight_decay * x;
          if (o.momentum != 0.0) {
            buf[k][i] = t[k] == 1 ? d : buf[k][i] * o.momentum + (1.0 - o.dampening) * d;
            d = o.nesterov ? d + o.momentum * buf[k][i] : buf[k][i];
          }
          x -= o.lr * d;
          continue;
        }
        const optim::AdamOptions& o = c.adam_options;
        if (c.decoupled) {
          x *= 1.0 - o.lr * o.weight_decay;
        } else {
          g += o.weight_decay * x;
        }
        m[k][i] = o.beta1 * m[k][i] + (1.0 - o.beta1) * g;
        v[k][i] = o.beta2 * v[k][i] + (1.0 - o.beta2) * g * g;
        const double bc1 = 1.0 - std::pow(o.beta1, t[k]), bc2 = 1.0 - std::pow(o.beta2, t[k]);
        x -= o.lr / bc1 * m[k][i] / (std::sqrt(v[k][i]) / std::sqrt(bc2) + o.eps);
      }
    }
  return p;
}

void optimizer_case(Cases& cases, const Config& c, DType dtype, std::uint64_t seed) {
  const Problem pr = make_problem(dtype, seed);
  cases.push_back(
      {"optim." + c.name + " " + std::string(dtype_name(dtype)) + " 3 steps on (3) and (2,2)",
       dtype == DType::f32 ? tol::f32_chained : tol::for_dtype(dtype),
       [=](Device d) {
         nn::NamedTensors params = {{"a", to_tensor(pr.params[0]).to(d)}, {"b", to_tensor(pr.params[1]).to(d)}};
         std::unique_ptr<optim::Optimizer> opt;
         if (c.adam) {
           opt = std::make_unique<optim::Adam>(c.adam_options, c.decoupled);
         } else {
           opt = std::make_unique<optim::SGD>(c.sgd);
         }
         opt->bind(params);
         for (int s = 0; s < kSteps; ++s) {
           std::vector<Tensor> grads;
           for (std::size_t k = 0; k < params.size(); ++k)
             grads.push_back(pr.has_grad(s, k) ? to_tensor(pr.grads[static_cast<std::size_t>(s)][k]).to(d) : Tensor());
           opt->step(grads);
         }
         return Outputs{capture("a", params[0].second), capture("b", params[1].second)};
       },
       [=](const Outputs&) {
         const auto p = optimizer_reference(c, pr);
         return Outputs{expect("a", pr.params[0].shape, dtype, p[0]), expect("b", pr.params[1].shape, dtype, p[1])};
       }});
}

// update(delta, alpha) with a transposed delta, then update_batch of three deltas (one
// step-sliced), against p + alpha * sum, element by element.
void parameters_case(Cases& cases, std::uint64_t seed) {
  const Host initial = make_values(DType::f32, {4, 5}, Values::general, seed);
  const Host single = make_values(DType::f32, {5, 4}, Values::general, seed + 1);
  const Host d1 = make_values(DType::f32, {20}, Values::general, seed + 2);
  const Host d2 = make_values(DType::f32, {4, 10}, Values::general, seed + 3);
  const Host d3 = make_values(DType::f32, {4, 5}, Values::general, seed + 4);
  cases.push_back(
      {"Parameters.update f32 transposed delta, update_batch of 3 (one strided)", tol::f32,
       [=](Device) {
         Parameters params(to_tensor(initial));
         params.update(to_tensor(single).t(), 0.5f);
         const std::vector<Tensor> deltas = {to_tensor(d1), to_tensor(d2).slice(1, 0, 10, 2), to_tensor(d3)};
         params.update_batch(std::span<const Tensor>(deltas), -1.25f);
         return Outputs{capture("params", params.snapshot())};
       },
       [=](const Outputs&) {
         const Host t = transpose(single, 0, 1);
         const Host s2 = slice(d2, 1, 0, 10, 2);
         std::vector<double> y(20);
         for (std::size_t i = 0; i < 20; ++i) {
           const double p = static_cast<float>(initial.v[i] + 0.5 * t.v[i]);  // update() rounds to f32
           y[i] = p + -1.25 * (d1.v[i] + s2.v[i] + d3.v[i]);
         }
         return Outputs{expect("params", {20}, DType::f32, y)};
       },
       "", true});
}

}  // namespace

void add_optim_cases(Cases& cases) {
  const std::vector<Config> configs = {
      {"SGD lr=0.1", false, {.lr = 0.1}, {}, false},
      {"SGD weight_decay=0.05", false, {.lr = 0.1, .weight_decay = 0.05}, {}, false},
      {"SGD momentum=0.9", false, {.lr = 0.1, .momentum = 0.9}, {}, false},
      {"SGD momentum=0.9 dampening=0.2", false, {.lr = 0.1, .momentum = 0.9, .dampening = 0.2}, {}, false},
      {"SGD nesterov momentum=0.9 weight_decay=0.05",
       false,
       {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.05, .nesterov = true},
       {},
       false},
      {"Adam lr=0.01", true, {}, {.lr = 0.01}, false},
      {"Adam lr=0.01 weight_decay=0.1", true, {}, {.lr = 0.01, .weight_decay = 0.1}, false},
      {"AdamW lr=0.01 weight_decay=0.1", true, {}, {.lr = 0.01, .weight_decay = 0.1}, true},
  };
  std::uint64_t seed = 20000;
  for (const Config& c : configs)
    for (DType t : {DType::f32, DType::f64}) optimizer_case(cases, c, t, seed += 100);
  parameters_case(cases, ++seed);
}

}  // namespace dm::conformance
