// The backward pass: topological order over the nodes reachable from the output (Kahn's
// algorithm on dependency counts), each node's gradient summed from all its consumers before
// the node runs. Runs with recording off, on the calling thread; the ops it calls are
// themselves parallel on the pool.
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor_impl.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "grad_into.hpp"
#include "record.hpp"

namespace dm::autograd {
namespace {

// The destinations offered to the backward function running on this thread, by input index.
thread_local const std::vector<Tensor>* current_destinations = nullptr;

class DestinationScope {
 public:
  explicit DestinationScope(const std::vector<Tensor>* offered) : previous_(current_destinations) {
    current_destinations = offered;
  }
  ~DestinationScope() { current_destinations = previous_; }
  DestinationScope(const DestinationScope&) = delete;
  DestinationScope& operator=(const DestinationScope&) = delete;

 private:
  const std::vector<Tensor>* previous_;
};

// Where the gradient of a leaf may be written in place: from the caller's buffers, for a leaf
// reached by one edge only (a second edge's gradient would have to be added to it).
using LeafDestinationFn = std::function<Tensor(AutogradMeta* leaf)>;

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

std::string versions(std::uint64_t then, std::uint64_t now) {
  return std::to_string(then) + " then, " + std::to_string(now) + " now";
}

// Throws unless `n` can run: not freed by an earlier pass, none of what it saved changed in
// place since, and every computed input still what its producer made when `n` read it.
void check_runnable(const Node& n, const char* op) {
  if (n.released)
    throw ValueError(std::string("[") + op + "] the graph through " + n.name +
                     " was already run by an earlier backward(), which freed it; call that backward with "
                     "{.retain_graph = true} to run through the graph again");
  for (const SavedVersion& saved : n.saved) {
    const auto storage = saved.storage.lock();
    if (!storage) continue;  // nobody holds it, so nobody changed it
    const std::uint64_t now = storage->version();
    if (now != saved.version)
      throw ValueError(std::string("[") + op + "] a tensor of shape " + saved.shape.str() + " that " + n.name +
                       " saved for its gradient was changed in place after the forward pass read it (version " +
                       versions(saved.version, now) + "); compute it out of place, or clone() it first");
  }
  for (const Edge& e : n.inputs) {
    if (e.fn && e.version_consumed != e.version_produced)
      throw ValueError(std::string("[") + op + "] an input of shape " + e.shape.str() + " of " + n.name +
                       " was changed in place after " + e.fn->name + " computed it (version " +
                       std::to_string(e.version_produced) + " then, " + std::to_string(e.version_consumed) +
                       " when " + n.name + " read it); in-place ops are not recorded, so no gradient can flow "
                       "through that change: use the out-of-place form");
  }
}

// The tensor backward starts from must still hold what its node computed.
void check_output(const Tensor& output, const Node& root, const char* op) {
  const std::uint64_t now = output.version();
  if (now != root.output_version)
    throw ValueError(std::string("[") + op + "] the output of " + root.name + " of shape " + output.shape().str() +
                     " was changed in place after it was computed (version " + versions(root.output_version, now) +
                     "); in-place ops are not recorded, so no gradient can flow through that change");
}

// Runs the graph below `root` with gradient `seed`; leaf gradients go to `on_leaf`, and
// `on_leaf_final` hears of a leaf once the last edge that reaches it has been processed.
// Every node is checked (check_runnable) before any runs, so a refused pass changes nothing.
// With `release`, each node drops its backward function and what it saved once it has run.
template <class OnLeaf, class OnLeafFinal>
void run_backward(const std::shared_ptr<Node>& root, const Tensor& seed, bool release, const char* op,
                  OnLeaf&& on_leaf, OnLeafFinal&& on_leaf_final,
                  const LeafDestinationFn& destination_of = LeafDestinationFn()) {
  // Count, for each reachable node and leaf, how many reachable edges point at it.
  std::unordered_map<Node*, int> pending;
  std::unordered_map<AutogradMeta*, int> pending_leaf;
  std::vector<Node*> stack{root.get()};
  pending[root.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    check_runnable(*n, op);
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
  std::vector<Tensor> offered;
  // A leaf's total edge count, before processing counts them down.
  const std::unordered_map<AutogradMeta*, int> edges_to_leaf = destination_of ? pending_leaf : decltype(pending_leaf)();
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor g = std::move(grads[n]);
    grads.erase(n);
    offered.assign(n->inputs.size(), Tensor());
    bool any_offered = false;
    if (destination_of) {
      for (std::size_t i = 0; i < n->inputs.size(); ++i) {
        const Edge& e = n->inputs[i];
        if (e.fn || !e.leaf || edges_to_leaf.at(e.leaf.get()) != 1) continue;
        offered[i] = destination_of(e.leaf.get());
        any_offered = any_offered || offered[i].defined();
      }
    }
    std::vector<Tensor> in_grads;
    {
      DestinationScope scope(any_offered ? &offered : nullptr);
      in_grads = n->backward(g);
    }
    if (release) {
      n->backward = nullptr;  // frees what the function captured: the pass's largest memory
      n->saved.clear();
      n->released = true;
    }
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

namespace {

// grad() and grad_into(): `destinations` is empty, or holds one buffer per input.
std::vector<Tensor> grad_impl(const Tensor& output, const std::vector<Tensor>& inputs,
                              const std::vector<Tensor>& destinations, const GradReadyFn& on_ready,
                              const Tensor& grad_output) {
  const auto& out_meta = impl_of(output, "autograd::grad").autograd;
  std::unordered_map<AutogradMeta*, std::size_t> index;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto& meta = impl_of(inputs[i], "autograd::grad").autograd;
    if (!meta || !meta->requires_grad || meta->grad_fn)
      throw ValueError("[autograd::grad] input " + std::to_string(i) + " is not a leaf that requires grad");
    index[meta.get()] = i;
  }
  const bool into = !destinations.empty();
  std::vector<Tensor> result(inputs.size());
  std::vector<bool> reported(inputs.size(), false);
  NoGradGuard no_grad;
  // With destinations, every gradient reported or returned lives in its destination.
  auto settle = [&](std::size_t i) {
    if (!into) return;
    const Tensor& dst = destinations[i];
    if (!result[i].defined()) {
      dst.detach().zero_();
    } else if (result[i].impl() != dst.impl()) {  // the node did not write it in place
      dst.detach().copy_(result[i]);
    }
    result[i] = dst;
  };
  const Tensor seed = seed_gradient(output, grad_output, "autograd::grad");
  if (out_meta && out_meta->grad_fn) {
    check_output(output, *out_meta->grad_fn, "autograd::grad");
    LeafDestinationFn destination_of;
    if (into) {
      destination_of = [&](AutogradMeta* leaf) {
        auto it = index.find(leaf);
        return it == index.end() ? Tensor() : destinations[it->second];
      };
    }
    run_backward(
        out_meta->grad_fn, seed, /*release=*/false, "autograd::grad",
        [&](const std::shared_ptr<AutogradMeta>& leaf, const Tensor& g) {
          auto it = index.find(leaf.get());
          if (it != index.end()) result[it->second] = accumulate(result[it->second], g);
        },
        [&](const std::shared_ptr<AutogradMeta>& leaf) {
          auto it = index.find(leaf.get());
          if (!on_ready || it == index.end() || !result[it->second].defined()) return;
          settle(it->second);
          reported[it->second] = true;
          on_ready(it->second, result[it->second]);
        },
        destination_of);
  } else if (out_meta && out_meta->requires_grad) {
    auto it = index.find(out_meta.get());  // the output is itself one of the leaves
    if (it != index.end()) result[it->second] = seed;
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (reported[i]) continue;
    if (into) {
      settle(i);
    } else if (!result[i].defined()) {
      result[i] = Tensor::zeros(inputs[i].shape(), inputs[i].dtype(), inputs[i].device());
    }
    if (on_ready) on_ready(i, result[i]);
  }
  return result;
}

}  // namespace

std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs, const Tensor& grad_output) {
  return grad_impl(output, inputs, {}, GradReadyFn(), grad_output);
}

std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs, const GradReadyFn& on_ready,
                         const Tensor& grad_output) {
  return grad_impl(output, inputs, {}, on_ready, grad_output);
}

void grad_into(const Tensor& output, const std::vector<Tensor>& inputs, const std::vector<Tensor>& destinations,
               const GradReadyFn& on_ready) {
  if (destinations.size() != inputs.size())
    throw ValueError("[autograd::grad_into] " + std::to_string(destinations.size()) + " destinations for " +
                     std::to_string(inputs.size()) + " inputs");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& d = destinations[i];
    if (!d.defined() || d.shape() != inputs[i].shape() || d.device() != inputs[i].device() || !d.is_contiguous())
      throw ValueError("[autograd::grad_into] destination " + std::to_string(i) +
                       " must be contiguous, with the input's shape " + inputs[i].shape().str() + " and device");
  }
  grad_impl(output, inputs, destinations, on_ready, Tensor());
}

Tensor gradient_destination(std::size_t input) {
  const std::vector<Tensor>* offered = current_destinations;
  return offered && input < offered->size() ? (*offered)[input] : Tensor();
}

}  // namespace dm::autograd

namespace dm {

void Tensor::backward(const Tensor& grad_output, BackwardOptions options) const {
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
    autograd::check_output(*this, *meta->grad_fn, "backward");
    // Without retain_graph the graph is spent: grad() already holds its gradients, and a
    // second pass would add them again.
    autograd::run_backward(meta->grad_fn, seed, !options.retain_graph, "backward", deposit,
                           [](const std::shared_ptr<AutogradMeta>&) {});
  } else {
    deposit(meta, seed);
  }
}

}  // namespace dm
