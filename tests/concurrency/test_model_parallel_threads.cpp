// ModelParallel under stress (and TSan): many pipelined passes with many micro-batches, several
// pipelines training at once from several threads, and failing stages that must abort their
// neighbours without a hang. Every run is checked against single-device training.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/model/model.hpp"
#include "democratising/model/model_parallel.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"

namespace {

using dm::Device;
using dm::Model;
using dm::ModelParallel;
using dm::Tensor;

struct Data {
  Tensor x, y;
};

Data random_data(std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<std::size_t>(n * 5));
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (auto& v : x) v = normal(gen);
  for (std::int64_t i = 0; i < n; ++i) y[static_cast<std::size_t>(i)] = i % 3;
  return {Tensor::from_vector(x, {n, 5}), Tensor::from_vector(y)};
}

Model make_model(std::uint64_t seed) {
  dm::manual_seed(seed);
  return Model(std::make_shared<dm::nn::Sequential>(dm::nn::mlp_from_spec("mlp:5-7-6-6-3")));
}

std::vector<Device> cpu_devices(int n) {
  std::vector<Device> out;
  for (int i = 0; i < n; ++i) out.push_back(Device::cpu(i));
  return out;
}

// Trains `steps` steps with a pipeline over `stages` devices and, beside it, on one device;
// returns the largest parameter difference.
double pipeline_vs_single(std::uint64_t seed, int stages, int micro_batches, int steps) {
  Model reference = make_model(seed);
  Model model = make_model(seed);
  const Data data = random_data(17, seed);
  {
    ModelParallel mp(model, cpu_devices(stages), {.micro_batches = micro_batches});
    for (int s = 0; s < steps; ++s) {
      reference.train_step(data.x, data.y);
      mp.forward(data.x);
      mp.backward(data.y);
      mp.step();
    }
  }
  double worst = 0.0;
  const auto a = model.module().named_parameters();
  const auto b = reference.module().named_parameters();
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto va = a[i].second.to_vector<double>();
    const auto vb = b[i].second.to_vector<double>();
    for (std::size_t k = 0; k < va.size(); ++k) worst = std::max(worst, std::abs(va[k] - vb[k]));
  }
  return worst;
}

TEST(ModelParallelThreads, ManyPassesMatchSingleDevice) {
  for (int round = 0; round < 12; ++round) {
    const int stages = 2 + round % 3;
    const int micro = 1 + round % 7 * 3;  // up to 19: more micro-batches than rows in some rounds
    EXPECT_LT(pipeline_vs_single(100 + static_cast<std::uint64_t>(round), stages, micro, 3), 1e-5)
        << stages << " stages, " << micro << " micro-batches";
  }
}

TEST(ModelParallelThreads, SeveralPipelinesTrainAtOnce) {
  // The seeded initialisation is process-wide, so models are made before the threads start.
  constexpr int kThreads = 4;
  std::vector<Model> models, references;
  for (int t = 0; t < kThreads; ++t) {
    models.push_back(make_model(static_cast<std::uint64_t>(t)));
    references.push_back(make_model(static_cast<std::uint64_t>(t)));
  }
  std::vector<double> worst(kThreads, 0.0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const Data data = random_data(12, static_cast<std::uint64_t>(t));
      ModelParallel mp(models[static_cast<std::size_t>(t)], cpu_devices(2 + t % 3), {.micro_batches = 3 + t});
      for (int s = 0; s < 4; ++s) {
        const double expected = references[static_cast<std::size_t>(t)].train_step(data.x, data.y).item<double>();
        mp.forward(data.x);
        const double loss = mp.backward(data.y).item<double>();
        mp.step();
        worst[static_cast<std::size_t>(t)] = std::max(worst[static_cast<std::size_t>(t)], std::abs(loss - expected));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_LT(worst[static_cast<std::size_t>(t)], 1e-5) << "pipeline " << t;
}

TEST(ModelParallelThreads, FailingStagesNeverHang) {
  Model model = make_model(7);
  ModelParallel mp(model, cpu_devices(4), {.micro_batches = 6});
  const Data data = random_data(12, 7);
  for (int round = 0; round < 20; ++round) {
    EXPECT_THROW(mp.forward(Tensor::ones({12, 4})), dm::ShapeError);  // stage 0 fails at once
    mp.forward(data.x);
    EXPECT_THROW(mp.backward(Tensor::full({12}, 9.0, dm::DType::i64)), dm::Error);  // the last stage fails
  }
  for (const auto& [name, p] : mp.parameters()) p.set_grad(Tensor());
  mp.forward(data.x);
  EXPECT_TRUE(std::isfinite(mp.backward(data.y).item<double>()));
}

TEST(ModelParallelThreads, ResultsDoNotDependOnThePoolSize) {
  const int before = dm::num_threads();
  dm::set_num_threads(1);
  const double one = pipeline_vs_single(42, 3, 4, 2);
  dm::set_num_threads(4);
  const double four = pipeline_vs_single(42, 3, 4, 2);
  dm::set_num_threads(before);
  EXPECT_LT(one, 1e-5);
  EXPECT_LT(four, 1e-5);
}

}  // namespace
