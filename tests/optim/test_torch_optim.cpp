// Trajectories recorded from torch.optim (tests/fixtures/optim/torch_optimizers.json, written by
// tests/fixtures/make_optim_fixture.py): same initial values, same gradients, same parameters
// after every step, and the same final state.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "democratising/optim/optimizer.hpp"
#include "optim_test_util.hpp"

namespace {

using namespace optim_test;
using nlohmann::json;

json load_fixture() {
  std::ifstream in(std::string(DM_TEST_FIXTURES_DIR) + "/optim/torch_optimizers.json");
  if (!in) throw std::runtime_error("missing tests/fixtures/optim/torch_optimizers.json");
  return json::parse(in);
}

std::shared_ptr<dm::optim::Optimizer> make(const json& c) {
  const json& o = c["options"];
  const std::string kind = c["optimizer"];
  if (kind == "sgd") {
    return std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = o.value("lr", 0.0),
                                                                   .momentum = o.value("momentum", 0.0),
                                                                   .dampening = o.value("dampening", 0.0),
                                                                   .weight_decay = o.value("weight_decay", 0.0),
                                                                   .nesterov = o.value("nesterov", false)});
  }
  const dm::optim::AdamOptions options{.lr = o.value("lr", 1e-3),
                                       .beta1 = o.value("beta1", 0.9),
                                       .beta2 = o.value("beta2", 0.999),
                                       .eps = o.value("eps", 1e-8),
                                       .weight_decay = o.value("weight_decay", kind == "adamw" ? 0.01 : 0.0)};
  return std::make_shared<dm::optim::Adam>(options, kind == "adamw");
}

// flat_grads: gradients as views of one block, as Model hands them over (the fused path runs
// whenever every parameter has one); otherwise separate tensors (the per-parameter path).
template <class T>
void run_case(const json& c, bool flat_grads) {
  std::vector<std::pair<std::string, Shape>> shapes;
  std::vector<T> init;
  for (const json& p : c["params"]) {
    shapes.emplace_back(p["name"].get<std::string>(), Shape(p["shape"].get<std::vector<std::int64_t>>()));
    for (double v : p["initial"]) init.push_back(static_cast<T>(v));
  }
  FlatSet params = make_flat(shapes, init);
  auto opt = make(c);
  opt->bind(params.named);
  const json& grads = c["grads"];
  for (std::size_t step = 0; step < grads.size(); ++step) {
    std::vector<Tensor> g;
    std::vector<T> all;
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      const json& gk = grads[step][k];
      g.push_back(gk.is_null() ? Tensor() : Tensor::from_vector(gk.get<std::vector<double>>(), shapes[k].second).to(params.flat.dtype()));
      if (gk.is_null()) all.resize(all.size() + static_cast<std::size_t>(shapes[k].second.numel()));
      else for (double v : gk) all.push_back(static_cast<T>(v));
    }
    if (flat_grads) {
      std::vector<Tensor> views = make_flat(shapes, all).tensors();
      for (std::size_t k = 0; k < g.size(); ++k)
        if (g[k].defined()) g[k] = views[k];
    }
    opt->step(g);
    std::vector<double> want;
    for (const json& p : c["after"][step]) for (double v : p) want.push_back(v);
    expect_close(params.flat.to_vector<T>(), want, "step " + std::to_string(step));
  }
  const json& state = c["state"];
  const auto ours = opt->state();
  for (const auto& entry : ours) {
    const std::string& name = entry.first;
    const Tensor& t = entry.second;
    if (name == "step") {
      const auto steps = t.to_vector<std::int64_t>();
      for (std::size_t k = 0; k < shapes.size(); ++k)
        EXPECT_EQ(steps[k], state["step." + shapes[k].first].get<std::int64_t>()) << shapes[k].first;
      continue;
    }
    ASSERT_TRUE(state.contains(name)) << name;
    expect_close(t.to_vector<T>(), state[name].template get<std::vector<double>>(), name);
  }
}

TEST(TorchOptim, MatchesTorchTrajectories) {
  const json fixture = load_fixture();
  ASSERT_GE(fixture["cases"].size(), 16u);  // sgd_decay: weight decay without momentum
  for (const json& c : fixture["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    for (const bool flat_grads : {true, false}) {
      SCOPED_TRACE(flat_grads ? "flat gradients" : "separate gradients");
      if (c["dtype"] == "f32") run_case<float>(c, flat_grads);
      else run_case<double>(c, flat_grads);
    }
  }
}

}  // namespace
