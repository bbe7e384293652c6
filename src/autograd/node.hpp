#pragma once
// The recorded graph. A Node is one op application: given the gradient of its output it
// returns one gradient per input (undefined where an input needs none). Edges point at the
// inputs' nodes, or at a leaf's metadata where the gradient ends up.
//
// What keeps a graph honest about in-place writes (see version.hpp): each node notes the
// version of every tensor its backward function will read, and each edge the version its
// input had when its node was made and when this node consumed it. The engine checks both
// before a pass, and refuses to run a graph whose backward would read, or whose forward did
// read, values that no recorded op produced.
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

#include "democratising/core/tensor.hpp"

namespace dm {

struct Node;

struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  std::mutex grad_mutex;          // backward() from several threads into one leaf
  Tensor grad;
};

namespace autograd {

using GradientFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

/// A backward function and what it reads when it runs. Built from a bare callable, it is
/// assumed to read every input of its node (the safe guess for a function the engine cannot
/// see into); built with a list, it reads exactly the defined tensors listed, so the
/// engine's version checks refuse no pass whose gradient would still be right.
class BackwardFn {
 public:
  BackwardFn() = default;
  template <class F>
    requires(!std::same_as<std::remove_cvref_t<F>, BackwardFn> &&
             std::is_invocable_r_v<std::vector<Tensor>, F&, const Tensor&>)
  BackwardFn(F fn) : fn_(std::move(fn)) {}  // NOLINT: implicit, so a lambda is a BackwardFn
  BackwardFn(GradientFn fn, std::vector<Tensor> saved)
      : fn_(std::move(fn)), saved_(std::move(saved)), saves_declared_(true) {}

  GradientFn& function() { return fn_; }
  const std::vector<Tensor>& saved() const { return saved_; }
  bool saves_declared() const { return saves_declared_; }

 private:
  GradientFn fn_;
  std::vector<Tensor> saved_;
  bool saves_declared_ = false;
};

/// A tensor a backward function will read, as it was when the node was recorded. Weak: the
/// function's own handle keeps the memory alive if it needs it, and memory nobody holds can
/// no longer be written.
struct SavedVersion {
  std::weak_ptr<Storage> storage;
  std::uint64_t version = 0;
  Shape shape;
};

struct Edge {
  std::shared_ptr<Node> fn;           // the input was computed: continue there
  std::shared_ptr<AutogradMeta> leaf;  // the input is a leaf requiring grad: gradient lands here
  Shape shape;                          // the input's shape, to check what backward returns
  // For an input that was computed: its storage's version when `fn` produced it and when
  // this node read it. They differ when an op autograd does not record (an in-place one)
  // changed the input in between, and a gradient through `fn` would ignore that change.
  std::uint64_t version_produced = 0;
  std::uint64_t version_consumed = 0;
};

}  // namespace autograd

struct Node {
  const char* name;
  std::vector<autograd::Edge> inputs;
  autograd::GradientFn backward;
  std::vector<autograd::SavedVersion> saved;
  std::uint64_t output_version = 0;  // the output storage's version when the node was made
  // Set once a backward() without retain_graph has run this node and dropped what it saved.
  // A graph belongs to the thread that recorded it, so this needs no lock.
  bool released = false;
};

}  // namespace dm
