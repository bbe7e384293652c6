// Parameter server and workers in one process over real loopback sockets: the update modes
// against hand-computed results, convergence, dead and silent workers, restart from a
// checkpoint, and the loopback-only rule without a secret.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "democratising/distributed/parameter_server.hpp"
#include "democratising/distributed/worker.hpp"
#include "democratising/base/error.hpp"
#include "distributed/test_ps_loopback.hpp"

namespace {

using namespace std::chrono_literals;
using dm::dist::ParameterServer;
using dm::dist::ParameterServerOptions;
using dm::dist::UpdateMode;
using dm::dist::Worker;
using dm::dist::WorkerOptions;
using ps_test::Runner;

std::vector<float> flat_values(const dm::Model& model) { return model.module().flat_parameters().to_vector<float>(); }

// A gradient of the model's layout with every element equal to `value`.
dm::Gradients constant_gradient(const dm::Model& model, float value) {
  dm::Gradients g;
  g.flat = dm::Tensor::full({model.module().flat_parameters().numel()}, value);
  return g;
}

asio::awaitable<void> serve(ParameterServer& server) {
  while (auto update = co_await server.next_update()) {
    server.apply_update(*update);
    co_await server.broadcast_parameters();
  }
  co_await server.drain(std::chrono::milliseconds(5000));
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(asio::use_awaitable);
}

ParameterServerOptions server_options(UpdateMode mode, std::int64_t max_version = 0) {
  ParameterServerOptions o;
  o.mode = mode;
  o.max_version = max_version;
  return o;
}

WorkerOptions worker_options(const ParameterServer& server, std::string secret = "") {
  WorkerOptions o;
  o.port = server.port();
  o.secret = std::move(secret);
  o.reply_timeout = 20000ms;
  return o;
}

TEST(PsServer, SynchronousRoundAppliesTheMeanOfEveryWorker) {
  Runner r;
  dm::Model server_model = ps_test::small_model(1, 0.1);
  const std::vector<float> before = flat_values(server_model);
  ParameterServerOptions options = server_options(UpdateMode::synchronous, 1);
  options.min_workers = 3;
  ParameterServer server(r.io.get_executor(), server_model, options);
  std::vector<std::unique_ptr<dm::Model>> models;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int k = 0; k < 3; ++k) {
    models.push_back(std::make_unique<dm::Model>(ps_test::small_model(100 + k)));  // different init: the server's wins
    workers.push_back(std::make_unique<Worker>(r.io.get_executor(), *models.back(), worker_options(server)));
  }
  r.spawn(serve(server));
  std::vector<std::vector<float>> after(3);
  std::vector<bool> second_round(3, true);
  for (int k = 0; k < 3; ++k) {
    r.spawn([&, k]() -> asio::awaitable<void> {
      Worker& w = *workers[k];
      co_await w.connect();
      EXPECT_EQ(flat_values(*models[k]), before);  // the welcome carries the server's parameters
      co_await w.send_update(constant_gradient(*models[k], static_cast<float>(k + 1)));
      const bool first_round = co_await w.sync_parameters();
      EXPECT_TRUE(first_round);
      after[k] = flat_values(*models[k]);
      co_await w.send_update(constant_gradient(*models[k], 1.0f));
      second_round[k] = co_await w.sync_parameters();
      co_await w.leave();
    });
  }
  r.run();
  // SGD without momentum, lr 0.1, on the mean gradient (1 + 2 + 3) / 3 = 2.
  std::vector<float> expected(before.size());
  for (std::size_t i = 0; i < before.size(); ++i) expected[i] = before[i] - 0.1f * 2.0f;
  for (int k = 0; k < 3; ++k) {
    ASSERT_EQ(after[k].size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(after[k][i], expected[i], 1e-6) << "worker " << k;
    EXPECT_FALSE(second_round[k]) << "training ended at version 1";
    EXPECT_TRUE(workers[k]->finished());
  }
  EXPECT_EQ(server.version(), 1);
  EXPECT_GE(server.stats().updates_received, 3);  // the second updates may arrive after the end
}

// Two workers on version 0; A's update lands first, then B's, computed on version 0.
struct StalenessOutcome {
  std::int64_t version_after_b = -1;
  std::int64_t b_sees = -1;
  dm::dist::ParameterServerStats stats;
};

StalenessOutcome stale_update_scenario(UpdateMode mode) {
  Runner r;
  dm::Model server_model = ps_test::small_model(1);
  ParameterServerOptions options = server_options(mode);
  options.max_staleness = 0;
  ParameterServer server(r.io.get_executor(), server_model, options);
  dm::Model ma = ps_test::small_model(2), mb = ps_test::small_model(3);
  Worker a(r.io.get_executor(), ma, worker_options(server));
  Worker b(r.io.get_executor(), mb, worker_options(server));
  StalenessOutcome out;
  r.spawn(serve(server));
  r.spawn([&]() -> asio::awaitable<void> {
    co_await a.connect();
    co_await b.connect();
    co_await a.send_update(constant_gradient(ma, 1.0f));
    co_await a.sync_parameters();
    co_await b.send_update(constant_gradient(mb, 1.0f));
    co_await b.sync_parameters();
    out.version_after_b = server.version();
    out.b_sees = b.version();
    out.stats = server.stats();
    co_await a.leave();
    co_await b.leave();
    server.close();
  });
  r.run();
  return out;
}

TEST(PsServer, BoundedStalenessDropsTooOldUpdatesAsynchronousAppliesThem) {
  const StalenessOutcome bounded = stale_update_scenario(UpdateMode::bounded_staleness);
  EXPECT_EQ(bounded.version_after_b, 1);
  EXPECT_EQ(bounded.b_sees, 1);  // B was handed the fresh parameters instead
  EXPECT_EQ(bounded.stats.stale_dropped, 1);
  const StalenessOutcome async = stale_update_scenario(UpdateMode::asynchronous);
  EXPECT_EQ(async.version_after_b, 2);
  EXPECT_EQ(async.b_sees, 2);
  EXPECT_EQ(async.stats.stale_dropped, 0);
}

TEST(PsServer, AsynchronousTrainingWithThreeWorkersConverges) {
  Runner r;
  dm::Model server_model = ps_test::small_model(7, 0.2);
  const dm::Batch held_out = ps_test::separable_batch(400, 999);
  const double before = ps_test::accuracy(server_model, held_out);
  ParameterServerOptions options = server_options(UpdateMode::asynchronous, 150);
  options.min_workers = 3;
  ParameterServer server(r.io.get_executor(), server_model, options);
  std::vector<std::unique_ptr<dm::Model>> models;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<int> steps(3, 0);
  for (int k = 0; k < 3; ++k) {
    models.push_back(std::make_unique<dm::Model>(ps_test::small_model(50 + k)));
    workers.push_back(std::make_unique<Worker>(r.io.get_executor(), *models.back(), worker_options(server)));
  }
  r.spawn(serve(server));
  for (int k = 0; k < 3; ++k) {
    r.spawn([&, k]() -> asio::awaitable<void> {
      Worker& w = *workers[k];
      co_await w.connect();
      for (std::uint64_t step = 0;; ++step) {
        const dm::Batch batch = ps_test::separable_batch(32, 1000 * (k + 1) + step);
        co_await w.send_update(w.compute_gradients(batch));
        const bool more = co_await w.sync_parameters();
        if (!more) break;
        ++steps[k];
      }
      co_await w.leave();
    });
  }
  r.run();
  EXPECT_EQ(server.version(), 150);
  for (int k = 0; k < 3; ++k) EXPECT_GT(steps[k], 10) << "every worker took part";
  const double after = ps_test::accuracy(server_model, held_out);
  EXPECT_GE(after, 0.9) << "accuracy went from " << before << " to " << after;
  EXPECT_GT(after, before);
}

TEST(PsServer, DeadAndSilentWorkersAreDroppedAndTheRoundGoesOn) {
  Runner r;
  dm::Model server_model = ps_test::small_model(1);
  ParameterServerOptions options = server_options(UpdateMode::synchronous, 8);
  options.min_workers = 4;
  options.worker_timeout = 300ms;
  ParameterServer server(r.io.get_executor(), server_model, options);
  dm::Model m0 = ps_test::small_model(2), m1 = ps_test::small_model(3), m2 = ps_test::small_model(4), m3 = ps_test::small_model(5);
  Worker honest0(r.io.get_executor(), m0, worker_options(server));
  Worker honest1(r.io.get_executor(), m1, worker_options(server));
  auto dying = std::make_unique<Worker>(r.io.get_executor(), m2, worker_options(server));
  Worker silent(r.io.get_executor(), m3, worker_options(server));
  std::vector<int> rounds(2, 0);
  r.spawn(serve(server));
  r.spawn([&]() -> asio::awaitable<void> {
    co_await dying->connect();
    co_await silent.connect();  // connects, then never sends an update
    for (int i = 0; i < 2; ++i) {
      co_await dying->send_update(constant_gradient(m2, 1.0f));
      co_await dying->sync_parameters();
    }
    dying.reset();  // gone without a word, as after kill -9: the socket just closes
  });
  for (int k = 0; k < 2; ++k) {
    r.spawn([&, k]() -> asio::awaitable<void> {
      Worker& w = k == 0 ? honest0 : honest1;
      dm::Model& m = k == 0 ? m0 : m1;
      co_await w.connect();
      for (;;) {
        co_await w.send_update(constant_gradient(m, 0.5f));
        const bool more = co_await w.sync_parameters();
        if (!more) break;
        ++rounds[k];
      }
      co_await w.leave();
    });
  }
  r.run();
  EXPECT_EQ(server.version(), 8);
  EXPECT_EQ(rounds[0], 8);
  EXPECT_EQ(rounds[1], 8);
  EXPECT_EQ(server.stats().workers_dropped, 2) << "the dead one and the silent one";
}

TEST(PsServer, RestartFromCheckpointResumesWithReconnectingWorkers) {
  const auto dir = std::filesystem::temp_directory_path() / ("dm_ps_restart_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string checkpoint = (dir / "server.safetensors").string();
  Runner r;
  dm::Model first_model = ps_test::small_model(1);
  dm::Model second_model = ps_test::small_model(2);  // different init: the checkpoint must override it
  ParameterServerOptions options = server_options(UpdateMode::asynchronous);
  options.checkpoint = checkpoint;
  options.checkpoint_every = 5;
  auto first = std::make_unique<ParameterServer>(r.io.get_executor(), first_model, options);
  const std::uint16_t port = first->port();
  dm::Model wm = ps_test::small_model(3);
  WorkerOptions wo = worker_options(*first);
  Worker worker(r.io.get_executor(), wm, wo);
  std::vector<float> saved;
  std::int64_t resumed_at = -1;
  std::vector<float> resumed_values;
  std::unique_ptr<ParameterServer> second;
  int worker_steps = 0;
  r.spawn([&]() -> asio::awaitable<void> {
    co_await worker.connect();
    for (std::uint64_t step = 0;; ++step) {
      co_await worker.send_update(worker.compute_gradients(ps_test::separable_batch(16, step)));
      const bool more = co_await worker.sync_parameters();
      if (!more) break;
      ++worker_steps;
    }
    co_await worker.leave();
  });
  r.spawn([&]() -> asio::awaitable<void> {
    while (auto update = co_await first->next_update()) {
      first->apply_update(*update);
      if (first->version() == 20) break;  // "crash" here, right after a checkpoint
      co_await first->broadcast_parameters();
    }
    saved = flat_values(first_model);
    first->close();
    first.reset();
    co_await pause(300ms);  // the worker is now retrying with backoff
    options.resume = true;
    options.max_version = 40;
    options.port = port;
    second = std::make_unique<ParameterServer>(co_await asio::this_coro::executor, second_model, options);
    resumed_at = second->version();
    resumed_values = flat_values(second_model);
    co_await serve(*second);
  });
  r.run();
  EXPECT_EQ(resumed_at, 20);
  EXPECT_EQ(resumed_values, saved);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->version(), 40);
  EXPECT_EQ(worker.connections(), 2);
  EXPECT_TRUE(worker.finished());
  EXPECT_GE(worker_steps, 35);
  std::filesystem::remove_all(dir);
}

TEST(PsServer, WithoutASecretOnlyLoopbackIsAllowed) {
  asio::io_context io;
  dm::Model model = ps_test::small_model(1);
  const auto bind = [&](std::string address, std::string secret) {
    ParameterServerOptions o;
    o.address = std::move(address);
    o.secret = std::move(secret);
    ParameterServer server(io.get_executor(), model, o);
  };
  EXPECT_THROW(bind("0.0.0.0", ""), dm::ValueError);
  EXPECT_THROW(bind("192.0.2.1", ""), dm::ValueError);
  EXPECT_THROW(bind("not-an-address", "x"), dm::ValueError);
  EXPECT_NO_THROW(bind("0.0.0.0", "x"));
  EXPECT_NO_THROW(bind("localhost", ""));
  EXPECT_NO_THROW(bind("::1", ""));
  EXPECT_THROW(dm::dist::parse_update_mode("eventually"), dm::ValueError);
}

TEST(PsServer, AnIdleTimeoutClosesTheServerSoNoWorkerIsWelcomedAfterIt) {
  Runner r;
  dm::Model server_model = ps_test::small_model(1);
  ParameterServerOptions options = server_options(UpdateMode::asynchronous);
  options.idle_timeout = 300ms;
  ParameterServer server(r.io.get_executor(), server_model, options);
  dm::Model early_model = ps_test::small_model(2);
  dm::Model late_model = ps_test::small_model(3);
  WorkerOptions quick = worker_options(server);
  quick.connect_attempts = 3;
  quick.initial_backoff = 20ms;
  quick.reply_timeout = 2000ms;
  Worker early(r.io.get_executor(), early_model, quick);
  Worker late(r.io.get_executor(), late_model, quick);
  std::string timeout_message;
  bool early_cut_off = false;
  bool late_turned_away = false;
  r.spawn([&]() -> asio::awaitable<void> {
    co_await early.connect();  // joins, then sends nothing
    try {
      co_await server.next_update();
    } catch (const dm::TimeoutError& e) {
      timeout_message = e.what();
    }
    // The connected worker is let go, and nobody new is welcomed.
    try {
      co_await early.send_update(constant_gradient(early_model, 0.0f));
      co_await early.sync_parameters();
    } catch (const dm::DistributedError&) {
      early_cut_off = true;
    }
    try {
      co_await late.connect();
    } catch (const dm::DistributedError&) {
      late_turned_away = true;
    }
  });
  r.run(20s);
  EXPECT_NE(timeout_message.find("no update for 300 ms"), std::string::npos) << timeout_message;
  EXPECT_TRUE(early_cut_off);
  EXPECT_TRUE(late_turned_away) << "the server still welcomed a worker after giving up";
  EXPECT_EQ(server.version(), 0);
}

TEST(PsServer, FinishEndsTrainingAtTheCurrentVersionAndTellsTheWorkers) {
  Runner r;
  dm::Model server_model = ps_test::small_model(1);
  ParameterServer server(r.io.get_executor(), server_model, server_options(UpdateMode::asynchronous));
  dm::Model model = ps_test::small_model(2);
  Worker worker(r.io.get_executor(), model, worker_options(server));
  int steps = 0;
  r.spawn([&]() -> asio::awaitable<void> {
    while (auto update = co_await server.next_update()) {
      server.apply_update(*update);
      if (server.version() == 5) server.finish();  // the caller's own criterion, e.g. an accuracy
      co_await server.broadcast_parameters();
    }
    co_await server.drain(std::chrono::milliseconds(5000));
  });
  r.spawn([&]() -> asio::awaitable<void> {
    co_await worker.connect();
    for (;;) {
      co_await worker.send_update(worker.compute_gradients(ps_test::separable_batch(8, static_cast<std::uint64_t>(steps))));
      const bool more = co_await worker.sync_parameters();
      if (!more) break;
      ++steps;
    }
  });
  r.run();
  EXPECT_EQ(server.version(), 5);
  EXPECT_EQ(steps, 5);
  EXPECT_TRUE(worker.finished());
}

}  // namespace
