#pragma once
// The recorded graph. A Node is one op application: given the gradient of its output it
// returns one gradient per input (undefined where an input needs none). Edges point at the
// inputs' nodes, or at a leaf's metadata where the gradient ends up.
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "democratising/tensor.hpp"

namespace dm {

struct Node;

struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  std::mutex grad_mutex;          // backward() from several threads into one leaf
  Tensor grad;
};

namespace autograd {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Edge {
  std::shared_ptr<Node> fn;           // the input was computed: continue there
  std::shared_ptr<AutogradMeta> leaf;  // the input is a leaf requiring grad: gradient lands here
  Shape shape;                          // the input's shape, to check what backward returns
};

}  // namespace autograd

struct Node {
  const char* name;
  std::vector<autograd::Edge> inputs;
  autograd::BackwardFn backward;
};

}  // namespace dm
