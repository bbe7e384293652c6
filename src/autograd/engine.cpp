// The backward pass: topological order over the nodes reachable from the output (Kahn's
// algorithm on dependency counts), each node's gradient summed from all its consumers before
// the node runs. Runs with recording off, on the calling thread; the ops it calls are
// themselves parallel on the pool.
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor_impl.hpp"
#include "democratising/autograd.hpp"
#include "democratising/error.hpp"
#include "record.hpp"

namespace dm::autograd {
namespace {

Tensor accumulate(const Tensor& sum, const Tensor& g) { return sum.defined() ? sum + g : g; }

Tensor seed_gradient(const Tensor& output, const Tensor& grad_output, const char* op) {
  if (grad_output.defined()) {
    if (grad_output.shape() != output.shape())
      throw ShapeError(std::string("[") + op + "] grad_output of shape " + grad_output.shape().str() +
                       " for an output of shape " + output.shape().str());
    return grad_output;
  }
  if (output.numel() != 1)
    throw ShapeError(std::string("[") + op + "] needs a one-element output or an explicit grad_output, got shape " +
                     output.shape().str());
  return Tensor::ones(output.shape(), output.dtype(), output.device());
}

// Runs the graph below `root` with gradient `seed`; leaf gradients go to `on_leaf`, and
// `on_leaf_final` hears of a leaf once the last edge that reaches it has been processed.
template <class OnLeaf, class OnLeafFinal>
void run_backward(const std::shared_ptr<Node>& root, const Tensor& seed, OnLeaf&& on_leaf, OnLeafFinal&& on_leaf_final) {
  // Count, for each reachable node and leaf, how many reachable edges point at it.
  std::unordered_map<Node*, int> pending;
  std::unordered_map<AutogradMeta*, int> pending_leaf;
  std::vector<Node*> stack{root.get()};
  pending[root.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->inputs) {
      if (!e.fn) {
        if (e.leaf) pending_leaf[e.leaf.get()]++;
        continue;
      }
      auto [it, fresh] = pending.try_emplace(e.fn.get(), 0);
      it->second++;
      if (fresh) stack.push_back(e.fn.get());
    }
  }
  std::unordered_map<Node*, Tensor> grads{{root.get(), seed}};
  std::vector<Node*> ready{root.get()};
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor g = std::move(grads[n]);
    grads.erase(n);
    std::vector<Tensor> in_grads = n->backward(g);
    if (in_grads.size() != n->inputs.size())
      throw Error(std::string("[backward] ") + n->name + " returned " + std::to_string(in_grads.size()) +
                  " gradients for " + std::to_string(n->inputs.size()) + " inputs");
    for (std::size_t i = 0; i < in_grads.size(); ++i) {
      const Edge& e = n->inputs[i];
      if (!e.fn && !e.leaf) continue;
      Tensor gi = std::move(in_grads[i]);
      if (gi.defined() && gi.shape() != e.shape)
        throw ShapeError(std::string("[backward] ") + n->name + " gave a gradient of shape " + gi.shape().str() +
                         " for input " + std::to_string(i) + " of shape " + e.shape.str());
      if (e.fn) {
        if (gi.defined()) grads[e.fn.get()] = accumulate(grads[e.fn.get()], gi);
        if (--pending[e.fn.get()] == 0) {
          if (grads[e.fn.get()].defined()) {
            ready.push_back(e.fn.get());
          } else {
            grads.erase(e.fn.get());  // nothing flows there
          }
        }
      } else {
        if (gi.defined()) on_leaf(e.leaf, gi);
        if (--pending_leaf[e.leaf.get()] == 0) on_leaf_final(e.leaf);
      }
    }
  }
}

}  // namespace

std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs, const Tensor& grad_output) {
  return grad(output, inputs, GradReadyFn(), grad_output);
}

std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs, const GradReadyFn& on_ready,
                         const Tensor& grad_output) {
  const auto& out_meta = impl_of(output, "autograd::grad").autograd;
  std::unordered_map<AutogradMeta*, std::size_t> index;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto& meta = impl_of(inputs[i], "autograd::grad").autograd;
    if (!meta || !meta->requires_grad || meta->grad_fn)
      throw ValueError("[autograd::grad] input " + std::to_string(i) + " is not a leaf that requires grad");
    index[meta.get()] = i;
  }
  std::vector<Tensor> result(inputs.size());
  std::vector<bool> reported(inputs.size(), false);
  NoGradGuard no_grad;
  const Tensor seed = seed_gradient(output, grad_output, "autograd::grad");
  if (out_meta && out_meta->grad_fn) {
    run_backward(
        out_meta->grad_fn, seed,
        [&](const std::shared_ptr<AutogradMeta>& leaf, const Tensor& g) {
          auto it = index.find(leaf.get());
          if (it != index.end()) result[it->second] = accumulate(result[it->second], g);
        },
        [&](const std::shared_ptr<AutogradMeta>& leaf) {
          auto it = index.find(leaf.get());
          if (!on_ready || it == index.end() || !result[it->second].defined()) return;
          reported[it->second] = true;
          on_ready(it->second, result[it->second]);
        });
  } else if (out_meta && out_meta->requires_grad) {
    auto it = index.find(out_meta.get());  // the output is itself one of the leaves
    if (it != index.end()) result[it->second] = seed;
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!result[i].defined()) result[i] = Tensor::zeros(inputs[i].shape(), inputs[i].dtype(), inputs[i].device());
    if (on_ready && !reported[i]) on_ready(i, result[i]);
  }
  return result;
}

}  // namespace dm::autograd

namespace dm {

void Tensor::backward(const Tensor& grad_output) const {
  const auto& meta = impl_of(*this, "backward").autograd;
  if (!meta || !meta->requires_grad)
    throw ValueError("[backward] this tensor does not require grad: no parameter it depends on was marked with set_requires_grad()");
  NoGradGuard no_grad;
  const Tensor seed = autograd::seed_gradient(*this, grad_output, "backward");
  auto deposit = [](const std::shared_ptr<AutogradMeta>& leaf, const Tensor& g) {
    std::lock_guard lock(leaf->grad_mutex);
    leaf->grad = leaf->grad.defined() ? leaf->grad + g : g.clone();
  };
  if (meta->grad_fn) {
    autograd::run_backward(meta->grad_fn, seed, deposit, [](const std::shared_ptr<AutogradMeta>&) {});
  } else {
    deposit(meta, seed);
  }
}

}  // namespace dm
