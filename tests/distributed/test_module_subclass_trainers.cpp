// Models written as classes (tests/model/residual_net.hpp) in the distributed trainers: the DDP
// trainer on two in-process ranks and a parameter server with one worker each train as
// Model::train_step does on the whole batch, gradient clipping included.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "democratising/data/batch.hpp"
#include "democratising/distributed/distributed_trainer.hpp"
#include "democratising/distributed/parameter_server.hpp"
#include "democratising/distributed/worker.hpp"
#include "distributed/test_ps_loopback.hpp"
#include "model/model_test_util.hpp"
#include "model/residual_net.hpp"

namespace {

using dm::Model;
using model_test::residual_net_model;

constexpr std::int64_t kDims = 6, kHidden = 16, kClasses = 3, kBatch = 24, kSteps = 3;

std::vector<float> flat_values(const Model& model) { return model.module().flat_parameters().to_vector<float>(); }

// The same per-sample gradients added in another order (over ranks or through the wire): f32
// rounding, within PyTorch's tolerances for these O(1) values.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-5 + 1.3e-6 * std::abs(want[i])) << what << " element " << i;
}

dm::Batch batch_at(const model_test::Problem& p, std::int64_t step) {
  return {p.x.narrow(0, step * kBatch, kBatch), p.y.narrow(0, step * kBatch, kBatch)};
}

std::vector<float> reference_run(const model_test::Problem& data, std::uint64_t seed, double clip) {
  Model model = residual_net_model(seed, kDims, kHidden, kClasses, clip);
  for (std::int64_t step = 0; step < kSteps; ++step) model.train_step(batch_at(data, step).x, batch_at(data, step).y);
  return flat_values(model);
}

TEST(ModuleSubclassTrainers, DistributedTrainerOnTwoRanksMatchesModelsStep) {
  const model_test::Problem data = model_test::blobs(kSteps * kBatch, kDims, kClasses, 21);
  for (double clip : {0.0, 0.05}) {
    std::vector<Model> models;
    // Different initial values on each rank: the trainer broadcasts rank 0's.
    for (std::uint64_t r = 0; r < 2; ++r) models.push_back(residual_net_model(31 + r, kDims, kHidden, kClasses, clip));
    dm::dist::run_local(2, [&](dm::dist::World& world) {
      Model& model = models[static_cast<std::size_t>(world.rank())];
      dm::dist::DistributedTrainer trainer(model, world, {.bucket_bytes = 256});
      for (std::int64_t step = 0; step < kSteps; ++step) {
        const dm::Batch b = batch_at(data, step);
        const std::int64_t half = kBatch / 2, begin = world.rank() * half;
        trainer.train_step(b.x.narrow(0, begin, half), b.y.narrow(0, begin, half));
      }
    });
    const std::vector<float> want = reference_run(data, 31, clip);
    expect_close(flat_values(models[0]), want, "rank 0, clip " + std::to_string(clip));
    EXPECT_EQ(flat_values(models[1]), flat_values(models[0])) << "the ranks agree bit for bit";
  }
}

asio::awaitable<void> serve(dm::dist::ParameterServer& server) {
  while (auto update = co_await server.next_update()) {
    server.apply_update(*update);
    co_await server.broadcast_parameters();
  }
  co_await server.drain(std::chrono::milliseconds(5000));
}

TEST(ModuleSubclassTrainers, ParameterServerWithOneWorkerMatchesModelsStep) {
  // One batch more than the rounds: the worker's update after the last round is refused.
  const model_test::Problem data = model_test::blobs((kSteps + 1) * kBatch, kDims, kClasses, 22);
  for (double clip : {0.0, 0.05}) {
    ps_test::Runner r;
    Model server_model = residual_net_model(41, kDims, kHidden, kClasses, clip);
    dm::dist::ParameterServerOptions options;
    options.mode = dm::dist::UpdateMode::synchronous;
    options.max_version = kSteps;
    options.min_workers = 1;
    dm::dist::ParameterServer server(r.io.get_executor(), server_model, options);
    Model worker_model = residual_net_model(42, kDims, kHidden, kClasses);  // the welcome overwrites it
    dm::dist::WorkerOptions worker_options;
    worker_options.port = server.port();
    worker_options.reply_timeout = std::chrono::milliseconds(20000);
    dm::dist::Worker worker(r.io.get_executor(), worker_model, worker_options);
    r.spawn(serve(server));
    r.spawn([&]() -> asio::awaitable<void> {
      co_await worker.connect();
      for (std::int64_t step = 0;; ++step) {
        co_await worker.send_update(worker.compute_gradients(batch_at(data, step)));
        if (!co_await worker.sync_parameters()) break;
      }
      co_await worker.leave();
    });
    r.run();
    EXPECT_EQ(server.version(), kSteps);
    const std::vector<float> want = reference_run(data, 41, clip);
    expect_close(flat_values(server_model), want, "server, clip " + std::to_string(clip));
  }
}

}  // namespace
