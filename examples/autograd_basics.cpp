// Automatic differentiation: requires_grad, backward, grad, no_grad, detach, retain_graph,
// the version check that refuses a graph whose saved values changed, and gradcheck. Every
// block of docs/autograd.md comes from here; each claim the page makes is checked.
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

namespace {

bool close(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (std::abs(got[i] - want[i]) > 1e-12 * (1.0 + std::abs(want[i]))) return false;
  return true;
}

void backward_and_grad() {
  // [docs:autograd-backward]
  dm::Tensor x = dm::Tensor::from_vector(std::vector<double>{1, 2, 3});
  x.set_requires_grad();                  // a leaf whose gradient backward() accumulates
  dm::Tensor y = (x * x).sum();           // y = sum x_i^2, recorded as it runs
  y.backward();                           // dy/dx = 2x
  std::vector<double> dx = x.grad().to_vector<double>();  // 2, 4, 6

  (x * 3.0).sum().backward();             // a second graph: its gradient adds to grad()
  std::vector<double> accumulated = x.grad().to_vector<double>();  // 5, 7, 9
  x.set_grad(dm::Tensor());               // clear it before the next step
  // [/docs:autograd-backward]
  example::check(y.requires_grad() && !y.is_leaf() && x.is_leaf(), "y is recorded, x is a leaf");
  example::check(close(dx, {2, 4, 6}), "d/dx sum x^2 = 2x");
  example::check(close(accumulated, {5, 7, 9}), "gradients accumulate across backward calls");
  example::check(!x.grad().defined(), "set_grad(Tensor()) clears the gradient");

  // [docs:autograd-grad]
  dm::Tensor w = dm::Tensor::from_vector(std::vector<double>{0.5, -1.0}).set_requires_grad();
  dm::Tensor b = dm::Tensor::scalar(0.25, dm::DType::f64).set_requires_grad();
  dm::Tensor loss = (w * w * b).sum();
  // The gradients are returned; no grad() is written, so threads may do this on one model at once.
  std::vector<dm::Tensor> grads = dm::autograd::grad(loss, {w, b});  // 2 w b, sum w^2
  // [/docs:autograd-grad]
  example::check(close(grads[0].to_vector<double>(), {0.25, -0.5}), "d/dw = 2 w b");
  example::check(close(grads[1].to_vector<double>(), {1.25}), "d/db = sum w^2");
  example::check(!w.grad().defined() && !b.grad().defined(), "autograd::grad leaves grad() alone");
}

void no_grad_and_detach() {
  dm::Tensor w = dm::Tensor::from_vector(std::vector<double>{1, 2}).set_requires_grad();
  // [docs:autograd-no-grad]
  {
    dm::NoGradGuard no_grad;               // nothing is recorded on this thread while it lives
    dm::Tensor prediction = w * 2.0;       // no graph: cheap, and prediction.requires_grad() is false
    w.sub_(dm::Tensor::full({2}, 0.5, dm::DType::f64));  // parameters may be written here, as optimizers do
  }
  dm::Tensor frozen = w.detach();          // same values and storage, cut off from the graph
  dm::Tensor loss = (w * frozen).sum();    // the gradient flows through w only: d/dw = frozen
  loss.backward();
  // [/docs:autograd-no-grad]
  example::check(!frozen.requires_grad() && frozen.shares_storage_with(w), "detach shares storage and drops the graph");
  example::check(close(w.to_vector<double>(), {0.5, 1.5}), "the update under NoGradGuard went through");
  example::check(close(w.grad().to_vector<double>(), {0.5, 1.5}), "no gradient flows through the detached operand");
  {
    dm::NoGradGuard no_grad;
    example::check(!(w * 2.0).requires_grad() && !dm::is_grad_enabled(), "NoGradGuard records nothing");
  }
  example::check(dm::is_grad_enabled(), "the guard restores recording when it ends");
}

void retain_graph() {
  dm::Tensor x = dm::Tensor::from_vector(std::vector<double>{1, 2}).set_requires_grad();
  // [docs:autograd-retain]
  dm::Tensor loss = (x * x).sum();
  loss.backward({.retain_graph = true});  // keep the graph's saved values for another pass
  loss.backward();                         // the second pass adds the same gradient again
  bool refused = false;
  try {
    loss.backward();                       // the graph was spent by the pass before
  } catch (const dm::ValueError& e) {
    refused = true;
    std::cout << e.what() << '\n';
  }
  // [/docs:autograd-retain]
  example::check(close(x.grad().to_vector<double>(), {4, 8}), "two passes give twice the gradient");
  example::check(refused, "a third pass through a spent graph is a ValueError");
}

void version_counters() {
  // [docs:autograd-versions]
  std::string message;
  dm::Tensor w = dm::Tensor::from_vector(std::vector<double>{1, 2}).set_requires_grad();
  dm::Tensor input = dm::Tensor::from_vector(std::vector<double>{3, 4});
  dm::Tensor loss = (w * input).sum();  // the product saves `input` for its backward
  input.mul_(10.0);                     // an in-place write bumps input.version()
  try {
    loss.backward();                    // refuses: the gradient would use the new values
  } catch (const dm::ValueError& e) {
    message = e.what();                 // names the op, the shape and both versions
  }
  // [/docs:autograd-versions]
  std::cout << message << '\n';
  example::check(!message.empty(), "backward refuses a graph whose saved value changed");
  example::check(!w.grad().defined(), "the refused pass wrote no gradient");
  example::check(input.version() == 1, "one in-place write, one version");
  bool leaf_refused = false;
  try {
    w.add_(1.0);  // a leaf that requires grad cannot be written while gradients are recorded
  } catch (const dm::ValueError&) {
    leaf_refused = true;
  }
  example::check(leaf_refused, "writing a parameter outside NoGradGuard is a ValueError");
}

void gradient_check() {
  dm::manual_seed(3);
  // [docs:autograd-gradcheck]
  // Any function of tensors built from the library's ops: here a small layer with a softmax.
  auto layer = [](const std::vector<dm::Tensor>& in) { return in[0].matmul(in[1]).tanh().softmax(1); };
  dm::Tensor x = dm::Tensor::randn({3, 4}, dm::DType::f64).set_requires_grad();  // f64: differences need it
  dm::Tensor w = dm::Tensor::randn({4, 2}, dm::DType::f64).set_requires_grad();
  dm::autograd::GradcheckResult result = dm::autograd::gradcheck(layer, {x, w});
  // result.ok: the analytic gradient matches central differences for every element of x and w

  // A function that cuts the graph where it must not: the detached factor gets no gradient.
  auto wrong = [](const std::vector<dm::Tensor>& in) { return in[0] * in[0].detach(); };
  dm::autograd::GradcheckResult caught = dm::autograd::gradcheck(wrong, {x});
  // caught.ok is false; caught.message names the input and the element that disagreed
  // [/docs:autograd-gradcheck]
  std::cout << "gradcheck: " << (result.ok ? "ok" : result.message) << ", max error " << result.max_abs_error << '\n';
  std::cout << "the detached version: " << caught.message << '\n';
  example::check(result.ok, "gradcheck passes for the layer");
  example::check(!caught.ok && !caught.message.empty(), "gradcheck catches the missing gradient");
}

}  // namespace

int main() {
  backward_and_grad();
  no_grad_and_detach();
  retain_graph();
  version_counters();
  gradient_check();
  std::cout << "autograd basics: all checks passed\n";
  return 0;
}
