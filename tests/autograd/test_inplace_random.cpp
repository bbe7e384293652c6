// Random programs with one in-place op somewhere: whatever the op, its place, its target (a
// result, the leaf, or a view of either) and the grad mode it runs in, backward() must either
// return the true gradient of the loss the program computed or throw a dm::Error; never
// another number. The true gradient comes from central differences in f64 of the same
// program run on plain tensors (nothing recorded, so nothing refused), which differentiates
// the in-place op along with everything else.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/democratising.hpp"

namespace {

using dm::Tensor;

constexpr std::int64_t kRows = 2, kCols = 3;
constexpr int kOpKinds = 16;
constexpr int kInPlaceKinds = 14;
constexpr int kViewKinds = 4;

struct Program {
  std::vector<int> ops;       // op kind of each step
  std::vector<int> partners;  // for binary steps: which earlier result is the second operand
  int in_place_before = 0;    // the in-place op runs before this step (== ops.size(): after all)
  int target = 0;             // which result it writes (0: the leaf)
  int view = 0;               // 0: the whole tensor, else through a view of it
  int in_place = 0;           // which in-place op
  int source = 0;             // for in-place ops with a tensor operand: which result
  bool no_grad = false;       // run it under NoGradGuard
  double scalar = 1.0;
  Tensor c, m, w, k;          // constants: (2,3), (3,3), (2,3), (2,3)
};

Tensor random_tensor(std::mt19937_64& gen, const dm::Shape& shape, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (auto& x : v) x = u(gen);
  return Tensor::from_vector(v, shape);
}

// Smooth ops of (2,3) tensors, some of them views (sharing memory with their input), some
// saving their input or output for backward and some saving nothing.
Tensor apply_op(const Program& prog, int kind, const Tensor& x, const Tensor& y) {
  switch (kind) {
    case 0: return x * prog.c;
    case 1: return x + 0.5;
    case 2: return x.tanh();
    case 3: return x.sigmoid();
    case 4: return x * y * 0.5;
    case 5: return x + y;
    case 6: return x / (y * y + 1.0);
    case 7: return x.transpose(0, 1).transpose(0, 1);  // a view of x
    case 8: return x.reshape({kRows * kCols}).reshape({kRows, kCols});  // a view of x
    case 9: return x.softmax(1);
    case 10: return x.matmul(prog.m);
    case 11: return (x * x + 1.0).log();
    case 12: return (x * x + 1.0).sqrt();
    case 13: return (x * 0.3).exp();
    case 14: return (x.sum({1}, true) * 0.3).expand({kRows, kCols});
    default: return x.slice(0, 0, kRows);  // a view of x
  }
}

Tensor view_of(const Tensor& t, int view) {
  switch (view) {
    case 0: return t;
    case 1: return t.slice(0, 1, 2);
    case 2: return t.transpose(0, 1);
    default: return t.select(1, 2);
  }
}

void apply_in_place(const Program& prog, std::vector<Tensor>& xs) {
  Tensor t = view_of(xs[static_cast<std::size_t>(prog.target)], prog.view);
  const Tensor& source = xs[static_cast<std::size_t>(prog.source)];
  dm::GradModeGuard mode(!prog.no_grad && dm::is_grad_enabled());
  switch (prog.in_place) {
    case 0: t.mul_(prog.scalar); break;
    case 1: t.add_(prog.scalar); break;
    case 2: t.div_(1.5); break;
    case 3: t.tanh_(); break;
    case 4: t.sigmoid_(); break;
    case 5: t.neg_(); break;
    case 6: t.exp_(); break;
    case 7: t.clamp_(-0.4, 0.4); break;
    case 8: t.copy_(view_of(prog.k, prog.view)); break;
    case 9: t.zero_(); break;
    case 10: t.fill_(0.3); break;
    case 11: t.add_(view_of(prog.k, prog.view)); break;
    case 12: t.mul_(view_of(source, prog.view)); break;  // an operand that may require grad
    default: t.pow_(2.0); break;
  }
}

// Runs the program from leaf p and returns its loss, sum(x_last * w).
Tensor run(const Program& prog, const Tensor& p) {
  std::vector<Tensor> xs{p};
  const int steps = static_cast<int>(prog.ops.size());
  for (int s = 0; s <= steps; ++s) {
    if (s == prog.in_place_before) apply_in_place(prog, xs);
    if (s == steps) break;
    xs.push_back(apply_op(prog, prog.ops[static_cast<std::size_t>(s)], xs.back(),
                          xs[static_cast<std::size_t>(prog.partners[static_cast<std::size_t>(s)])]));
  }
  return (xs.back() * prog.w).sum();
}

Program random_program(std::mt19937_64& gen) {
  auto pick = [&](int n) { return static_cast<int>(gen() % static_cast<std::uint64_t>(n)); };
  Program prog;
  const int steps = 2 + pick(5);
  for (int s = 0; s < steps; ++s) {
    prog.ops.push_back(pick(kOpKinds));
    prog.partners.push_back(pick(2) == 0 ? s : pick(s + 1));  // mostly the latest result
  }
  prog.in_place_before = pick(steps + 1);
  // Mostly a result that the next step does not read, where the write may well be harmless;
  // else any, the leaf included.
  const bool earlier = prog.in_place_before >= 2 && pick(4) != 0;
  prog.target = earlier ? 1 + pick(prog.in_place_before - 1) : pick(prog.in_place_before + 1);
  prog.source = pick(prog.in_place_before + 1);
  prog.view = pick(kViewKinds);
  prog.in_place = pick(kInPlaceKinds);
  prog.no_grad = pick(2) == 1;
  prog.scalar = std::uniform_real_distribution<double>(-2.0, 2.0)(gen);
  prog.c = random_tensor(gen, {kRows, kCols}, -1.0, 1.0);
  prog.m = random_tensor(gen, {kCols, kCols}, -0.5, 0.5);
  prog.w = random_tensor(gen, {kRows, kCols}, -1.0, 1.0);
  prog.k = random_tensor(gen, {kRows, kCols}, -1.0, 1.0);
  return prog;
}

// d loss / d p by central differences, the program run on plain f64 tensors.
std::vector<double> numeric_gradient(const Program& prog, const std::vector<double>& p0) {
  const double h = 1e-6;
  std::vector<double> grad(p0.size());
  for (std::size_t i = 0; i < p0.size(); ++i) {
    std::vector<double> plus = p0, minus = p0;
    plus[i] += h;
    minus[i] -= h;
    const double up = run(prog, Tensor::from_vector(plus, {kRows, kCols})).item<double>();
    const double down = run(prog, Tensor::from_vector(minus, {kRows, kCols})).item<double>();
    grad[i] = (up - down) / (2.0 * h);
  }
  return grad;
}

// Writing memory a parameter lives in without recording is a parameter update, whose rule
// (each read differentiated at the values it saw) test_hogwild_versions.cpp checks; here the
// in-place op must be something autograd could have recorded.
bool updates_the_parameter(const Program& prog, const Tensor& p) {
  if (!prog.no_grad) return false;
  std::vector<Tensor> xs{p};
  for (std::size_t s = 0; s < static_cast<std::size_t>(prog.in_place_before); ++s)
    xs.push_back(apply_op(prog, prog.ops[s], xs.back(), xs[static_cast<std::size_t>(prog.partners[s])]));
  return xs[static_cast<std::size_t>(prog.target)].shares_storage_with(p);
}

TEST(InPlaceRandom, EveryOutcomeIsTheTrueGradientOrAnError) {
  std::mt19937_64 gen(20261129);
  int gradients = 0, errors = 0, trials = 0;
  while (trials < 1500) {
    const Program prog = random_program(gen);
    std::vector<double> p0(static_cast<std::size_t>(kRows * kCols));
    for (auto& v : p0) v = std::uniform_real_distribution<double>(-1.5, 1.5)(gen);
    const Tensor probe = Tensor::from_vector(p0, {kRows, kCols});
    if (updates_the_parameter(prog, probe)) continue;
    ++trials;

    Tensor p = Tensor::from_vector(p0, {kRows, kCols});
    p.set_requires_grad();
    std::string error;
    try {
      const Tensor loss = run(prog, p);
      loss.backward();
    } catch (const dm::Error& e) {
      error = e.what();
    }
    if (!error.empty()) {
      ++errors;
      EXPECT_FALSE(p.grad().defined()) << "a refused pass left a partial gradient, trial " << trials;
      continue;
    }
    const std::vector<double> expected = numeric_gradient(prog, p0);
    const std::vector<double> got = p.grad().to_vector<double>();
    ++gradients;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      ASSERT_NEAR(got[i], expected[i], 1e-5 + 1e-5 * std::abs(expected[i]))
          << "trial " << trials << ": element " << i << ", in-place op " << prog.in_place << " on result "
          << prog.target << " (view " << prog.view << ", " << (prog.no_grad ? "no grad" : "grad mode")
          << ") before step " << prog.in_place_before << " of " << prog.ops.size();
    }
  }
  // Both outcomes must have happened often, or the test proves little.
  EXPECT_GE(gradients, 150);
  EXPECT_GE(errors, 150);
}

}  // namespace
