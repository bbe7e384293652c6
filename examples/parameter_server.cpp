// Guide: "Parameter Server Architecture". A server holds the parameters and applies the
// workers' gradients with its optimizer; each worker computes gradients on its own data,
// pushes them and pulls the new parameters. Here the server and two workers share one
// process and talk over real loopback TCP; `dm ps serve` / `dm ps work` run them as separate
// processes or machines.
//
//   example_parameter_server           # 3000 samples, 400 updates
//   example_parameter_server --small   # 600 samples, 120 updates
#include <chrono>
#include <cstdio>
#include <vector>

#include <democratising/async/task.hpp>
#include <democratising/data/dataloader.hpp>
#include <democratising/data/dataset.hpp>
#include <democratising/democratising.hpp>
#include <democratising/distributed/parameter_server.hpp>
#include <democratising/distributed/worker.hpp>

#include "example_util.hpp"

// [docs:parameter-server]
// Parameter server
dm::Task<void> run_parameter_server(dm::dist::ParameterServer& server) {
  // Handle gradient updates from workers
  while (auto update = co_await server.next_update()) {
    server.apply_update(*update);
    co_await server.broadcast_parameters();
  }
  co_await server.drain(std::chrono::seconds(5));  // let every worker hear that training is over
}

// Worker node
dm::Task<void> run_worker(dm::dist::Worker& worker, const dm::data::DataLoader& data) {
  co_await worker.connect();
  while (!worker.finished()) {
    for (const dm::Batch& batch : data) {
      // Compute gradients
      dm::Gradients grads = worker.compute_gradients(batch);

      // Send to parameter server
      co_await worker.send_update(grads);

      // Get updated parameters
      const bool more = co_await worker.sync_parameters();
      if (!more) break;  // the server has finished
    }
  }
}
// [/docs:parameter-server]

namespace {

// Three classes in 16 dimensions: the label is the argmax of three fixed linear scores.
dm::data::TensorDataset synthetic(std::int64_t n, std::uint64_t seed) {
  dm::manual_seed(seed);
  const dm::Tensor x = dm::Tensor::randn({n, 16});
  const auto v = x.to_vector<float>();
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    float score[3] = {0, 0, 0};
    for (int j = 0; j < 16; ++j) score[j % 3] += v[static_cast<std::size_t>(i * 16 + j)] * (j < 8 ? 1.0f : 0.5f);
    labels[static_cast<std::size_t>(i)] = score[0] > score[1] ? (score[0] > score[2] ? 0 : 2) : (score[1] > score[2] ? 1 : 2);
  }
  return dm::data::TensorDataset(x, dm::Tensor::from_vector(labels));
}

dm::Model make_model(std::uint64_t seed) {
  dm::manual_seed(seed);
  dm::ModelOptions options;
  options.optimizer = dm::optim::make_optimizer("sgd", 0.1, 0.5);
  return dm::nn::Sequential().add(dm::nn::Dense(16, 32)).add(dm::nn::ReLU()).add(dm::nn::Dense(32, 3)).build(options);
}

}  // namespace

int main(int argc, char** argv) {
  const bool small = example::small_run(argc, argv);
  const std::int64_t samples = small ? 600 : 3000;
  const std::int64_t updates = small ? 120 : 400;

  dm::Model server_model = make_model(1);
  const dm::data::DataLoader test_data(synthetic(1000, 99), {.batch_size = 1000});
  const double before = server_model.evaluate(test_data).accuracy;

  dm::block_on([&]() -> dm::Task<void> {
    const auto executor = co_await asio::this_coro::executor;
    // [docs:parameter-server-setup]
    dm::dist::ParameterServerOptions options;
    options.mode = dm::dist::UpdateMode::asynchronous;  // or synchronous, bounded_staleness
    options.max_version = updates;                      // next_update() ends training here
    options.min_workers = 2;                            // start once both workers are in
    dm::dist::ParameterServer server(executor, server_model, options);  // 127.0.0.1, a free port

    dm::dist::WorkerOptions worker_options;
    worker_options.port = server.port();
    // [/docs:parameter-server-setup]
    dm::Model model_a = make_model(2), model_b = make_model(3);
    dm::dist::Worker worker_a(executor, model_a, worker_options);
    dm::dist::Worker worker_b(executor, model_b, worker_options);
    const dm::data::DataLoader data_a(synthetic(samples / 2, 10), {.batch_size = 32, .shuffle = true, .seed = 1});
    const dm::data::DataLoader data_b(synthetic(samples / 2, 11), {.batch_size = 32, .shuffle = true, .seed = 2});
    co_await dm::when_all(run_parameter_server(server),
                          dm::when_all(run_worker(worker_a, data_a), run_worker(worker_b, data_b)));
    example::check(server.version() == updates, "the server reached its last version");
  }());

  const double after = server_model.evaluate(test_data).accuracy;
  std::printf("parameter server: %lld updates from 2 workers, test accuracy %.3f -> %.3f\n",
              static_cast<long long>(updates), before, after);
  example::check(after > 0.8 && after > before + 0.2, "training through the parameter server improves accuracy");
  return 0;
}
