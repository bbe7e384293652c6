// Checkpoint state: a run restored from state() continues bit for bit; bad state is refused.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "democratising/base/error.hpp"
#include "democratising/optim/optimizer.hpp"
#include "optim_test_util.hpp"

namespace {

using namespace optim_test;
using dm::optim::Optimizer;

using Factory = std::function<std::shared_ptr<Optimizer>()>;

struct Named {
  const char* name;
  Factory make;
};

const std::vector<Named> kOptimizers = {
    {"sgd", [] { return std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.05}); }},
    {"sgd_momentum", [] { return std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.05, .momentum = 0.9}); }},
    // Dampening makes a parameter's first step differ from later ones, so the restored
    // per-parameter step counts matter.
    {"sgd_dampening", [] {
       return std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.5});
     }},
    {"adam", [] { return std::make_shared<dm::optim::Adam>(dm::optim::AdamOptions{.lr = 1e-2, .weight_decay = 0.01}); }},
    {"adamw", [] { return std::make_shared<dm::optim::AdamW>(); }},
};

std::vector<Tensor> grads_for(std::int64_t step) {
  const auto shapes = small_net();
  std::vector<Tensor> g = make_flat(shapes, random_values<float>(total_numel(shapes), 500 + static_cast<std::uint64_t>(step))).tensors();
  if (step == 1) g[1] = Tensor();  // "0.bias" misses a step
  return g;
}

TEST(OptimizerState, RoundTripContinuesBitwise) {
  const auto shapes = small_net();
  const auto init = random_values<float>(total_numel(shapes), 9);
  for (const auto& [name, make] : kOptimizers) {
    SCOPED_TRACE(name);
    // Uninterrupted: 6 steps.
    FlatSet whole = make_flat(shapes, init);
    auto opt = make();
    opt->bind(whole.named);
    for (int s = 0; s < 6; ++s) opt->step(grads_for(s));

    // Interrupted after 3: a fresh optimizer and parameter copy take over from state().
    FlatSet first = make_flat(shapes, init);
    auto before = make();
    before->bind(first.named);
    for (int s = 0; s < 3; ++s) before->step(grads_for(s));
    const auto saved = before->state();
    FlatSet second = make_flat(shapes, first.flat.to_vector<float>());
    auto after = make();
    after->bind(second.named);
    after->load_state(saved);
    EXPECT_EQ(after->steps(), 3);
    for (int s = 3; s < 6; ++s) after->step(grads_for(s));

    EXPECT_TRUE(bitwise_equal(whole.flat.to_vector<float>(), second.flat.to_vector<float>()));
    EXPECT_TRUE(bitwise_equal(values_of<float>(opt->state()), values_of<float>(after->state())));
  }
}

TEST(OptimizerState, StateIsASnapshot) {
  const auto shapes = small_net();
  FlatSet params = make_flat(shapes, random_values<float>(total_numel(shapes), 9));
  dm::optim::SGD sgd({.lr = 0.05, .momentum = 0.9});
  sgd.bind(params.named);
  sgd.step(grads_for(0));
  const auto snapshot = sgd.state();
  const auto values = values_of<float>(snapshot);
  sgd.step(grads_for(2));
  EXPECT_TRUE(bitwise_equal(values, values_of<float>(snapshot)));
}

TEST(OptimizerState, NamesFollowTorch) {
  const auto shapes = small_net();
  FlatSet params = make_flat(shapes, random_values<float>(total_numel(shapes), 9));
  dm::optim::SGD plain({.lr = 0.05});
  plain.bind(params.named);
  ASSERT_EQ(plain.state().size(), 1u);  // no momentum: only the step counts
  dm::optim::SGD sgd({.lr = 0.05, .momentum = 0.9});
  sgd.bind(params.named);
  const auto state = sgd.state();
  ASSERT_EQ(state.size(), 5u);
  EXPECT_EQ(state[0].first, "step");
  EXPECT_EQ(state[0].second.dtype(), DType::i64);
  EXPECT_EQ(state[0].second.shape(), Shape{4});
  EXPECT_EQ(state[1].first, "momentum_buffer.0.weight");
  EXPECT_EQ(state[1].second.shape(), Shape({4, 3}));
  EXPECT_EQ(state[4].first, "momentum_buffer.2.bias");
}

TEST(OptimizerState, RefusesMissingOrMisshapedState) {
  const auto shapes = small_net();
  FlatSet params = make_flat(shapes, random_values<float>(total_numel(shapes), 9));
  for (const auto& [name, make] : kOptimizers) {
    SCOPED_TRACE(name);
    auto opt = make();
    opt->bind(params.named);
    opt->step(grads_for(0));
    const auto good = opt->state();
    const auto values = values_of<float>(good);
    for (std::size_t drop = 0; drop < good.size(); ++drop) {
      auto bad = good;
      const std::string dropped = bad[drop].first;
      bad.erase(bad.begin() + static_cast<std::ptrdiff_t>(drop));
      try {
        opt->load_state(bad);
        ADD_FAILURE() << "loaded without " << dropped;
      } catch (const dm::FormatError& e) {
        EXPECT_NE(std::string(e.what()).find(dropped), std::string::npos) << e.what();
      }
      auto misshaped = good;
      misshaped[drop].second = Tensor::zeros({7});
      EXPECT_THROW(opt->load_state(misshaped), dm::FormatError) << dropped;
    }
    auto fractional = good;
    fractional[0].second = Tensor::zeros({4}, DType::f32);
    EXPECT_THROW(opt->load_state(fractional), dm::FormatError);
    // A refused state changed nothing.
    EXPECT_TRUE(bitwise_equal(values, values_of<float>(opt->state())));
    EXPECT_EQ(opt->steps(), 1);
  }
}

// Unknown names (a model's own entries in a shared checkpoint) are ignored.
TEST(OptimizerState, IgnoresUnknownNames) {
  const auto shapes = small_net();
  FlatSet params = make_flat(shapes, random_values<float>(total_numel(shapes), 9));
  dm::optim::Adam adam;
  adam.bind(params.named);
  auto state = adam.state();
  state.emplace_back("something.else", Tensor::zeros({2}));
  EXPECT_NO_THROW(adam.load_state(state));
}

}  // namespace

namespace {

// State lives where its parameter does: bound to parameters on another device (a pipeline
// stage's), or on two devices at once, each moment and momentum buffer is on its parameter's.
TEST(OptimizerState, LivesOnEachParametersDevice) {
  const dm::Device other = dm::Device::cpu(1);
  const dm::nn::NamedTensors params = {{"a", Tensor::ones({3}, dm::DType::f32, other)},
                                       {"b", Tensor::ones({2, 2}, dm::DType::f32, other)}};
  const dm::nn::NamedTensors mixed = {{"a", Tensor::ones({3})}, {"b", Tensor::ones({2, 2}, dm::DType::f32, other)}};
  for (const Named& o : kOptimizers) {
    for (const dm::nn::NamedTensors* bound : {&params, &mixed}) {
      const std::shared_ptr<Optimizer> opt = o.make();
      opt->bind(*bound);
      for (const auto& [name, p] : *bound) p.set_grad(Tensor::full(p.shape(), 0.5, dm::DType::f32, p.device()));
      opt->step();
      for (const auto& [name, s] : opt->state()) {
        if (s.dim() == 0 || name.rfind("step", 0) == 0) continue;  // step counts are host bookkeeping
        const std::string param = name.substr(name.find('.') + 1);
        const dm::Device want = param == "a" ? (*bound)[0].second.device() : (*bound)[1].second.device();
        EXPECT_EQ(s.device(), want) << o.name << " " << name;
      }
    }
  }
}

}  // namespace
