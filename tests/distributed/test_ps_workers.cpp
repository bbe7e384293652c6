// The parameter server's per-worker figures: pushes, samples, staleness and reconnects, counted
// by name on small in-process runs over loopback, against what the runs did.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/distributed/parameter_server.hpp"
#include "democratising/distributed/worker.hpp"
#include "distributed/test_ps_loopback.hpp"
#include "distributed/worker_ledger.hpp"

namespace {

using namespace std::chrono_literals;
using dm::dist::ParameterServer;
using dm::dist::ParameterServerOptions;
using dm::dist::UpdateMode;
using dm::dist::Worker;
using dm::dist::WorkerOptions;
using dm::dist::WorkerStats;
using ps_test::Runner;

constexpr std::int64_t kBatch = 16;

asio::awaitable<void> serve(ParameterServer& server) {
  while (auto update = co_await server.next_update()) {
    server.apply_update(*update);
    co_await server.broadcast_parameters();
  }
  co_await server.drain(5000ms);
}

WorkerOptions named(const ParameterServer& server, const std::string& name) {
  WorkerOptions o;
  o.port = server.port();
  o.reply_timeout = 20000ms;
  o.name = name;
  return o;
}

// Pushes batches until the server says training is over (or `max_steps`), then leaves.
asio::awaitable<void> train(Worker& w, std::uint64_t seed, std::int64_t& steps, std::int64_t max_steps = 0) {
  co_await w.connect();
  for (std::uint64_t step = 0;; ++step) {
    co_await w.send_update(w.compute_gradients(ps_test::separable_batch(kBatch, seed + step)));
    const bool more = co_await w.sync_parameters();
    if (!more) break;
    ++steps;
    if (max_steps > 0 && steps >= max_steps) break;
  }
  co_await w.leave();
}

std::map<std::string, WorkerStats> by_name(const std::vector<WorkerStats>& all) {
  std::map<std::string, WorkerStats> out;
  for (const WorkerStats& w : all) out[w.name] = w;
  return out;
}

struct TwoWorkerRun {
  std::map<std::string, WorkerStats> workers;
  dm::dist::ParameterServerStats stats;
  std::int64_t version = 0;
  std::int64_t steps[2] = {0, 0};
};

TwoWorkerRun two_workers(UpdateMode mode, std::int64_t max_staleness, std::int64_t versions) {
  Runner r;
  dm::Model server_model = ps_test::small_model(3);
  ParameterServerOptions options;
  options.mode = mode;
  options.max_staleness = max_staleness;
  options.max_version = versions;
  options.min_workers = 2;
  ParameterServer server(r.io.get_executor(), server_model, options);
  dm::Model ma = ps_test::small_model(4), mb = ps_test::small_model(5);
  Worker a(r.io.get_executor(), ma, named(server, "alpha"));
  Worker b(r.io.get_executor(), mb, named(server, "beta"));
  TwoWorkerRun run;
  r.spawn(serve(server));
  r.spawn(train(a, 100, run.steps[0]));
  r.spawn(train(b, 900, run.steps[1]));
  r.run();
  run.workers = by_name(server.worker_stats());
  run.stats = server.stats();
  run.version = server.version();
  return run;
}

// What holds in every mode: the figures add up to the server's own counters.
void expect_consistent(const TwoWorkerRun& run) {
  ASSERT_EQ(run.workers.size(), 2u);
  std::int64_t pushes = 0, dropped = 0;
  for (const auto& [name, w] : run.workers) {
    EXPECT_GT(w.pushes, 0) << name;
    EXPECT_EQ(w.samples, kBatch * w.pushes) << name;
    EXPECT_LE(w.applied + w.stale_dropped, w.pushes) << name;
    EXPECT_GE(w.mean_staleness, 0.0) << name;
    EXPECT_LE(w.mean_staleness, static_cast<double>(w.max_staleness)) << name;
    EXPECT_GT(w.samples_per_s, 0.0) << name;
    EXPECT_EQ(w.connections, 1) << name;
    EXPECT_EQ(w.reconnects, 0) << name;
    EXPECT_FALSE(w.connected) << name << " left";
    pushes += w.pushes;
    dropped += w.stale_dropped;
  }
  EXPECT_EQ(pushes, run.stats.updates_received);
  EXPECT_EQ(dropped, run.stats.stale_dropped);
}

TEST(PsWorkers, BoundedStalenessOfOneKeepsEveryAppliedPushWithinOneVersion) {
  const TwoWorkerRun run = two_workers(UpdateMode::bounded_staleness, 1, 40);
  expect_consistent(run);
  std::int64_t applied = 0;
  for (const auto& [name, w] : run.workers) {
    EXPECT_LE(w.max_staleness, 1) << name;
    applied += w.applied;
  }
  EXPECT_EQ(applied, run.version) << "one version per applied push";
  EXPECT_EQ(run.version, 40);
}

TEST(PsWorkers, AsynchronousPushesAreCountedAndEachAppliedOnce) {
  const TwoWorkerRun run = two_workers(UpdateMode::asynchronous, 0, 30);
  expect_consistent(run);
  std::int64_t applied = 0;
  for (const auto& [name, w] : run.workers) {
    EXPECT_EQ(w.stale_dropped, 0) << name << ": nothing is too old without a bound";
    applied += w.applied;
  }
  EXPECT_EQ(applied, 30);
}

TEST(PsWorkers, SynchronousRoundsHaveNoStaleness) {
  const TwoWorkerRun run = two_workers(UpdateMode::synchronous, 0, 10);
  expect_consistent(run);
  for (const auto& [name, w] : run.workers) {
    EXPECT_EQ(w.applied, 10) << name << " took part in every round";
    EXPECT_EQ(w.max_staleness, 0) << name;
    EXPECT_EQ(w.mean_staleness, 0.0) << name;
  }
}

TEST(PsWorkers, AWorkerBackUnderItsNameContinuesItsLineAsAReconnect) {
  Runner r;
  dm::Model server_model = ps_test::small_model(3);
  ParameterServerOptions options;
  options.mode = UpdateMode::asynchronous;
  options.max_version = 8;
  ParameterServer server(r.io.get_executor(), server_model, options);
  dm::Model m1 = ps_test::small_model(4), m2 = ps_test::small_model(5);
  Worker first(r.io.get_executor(), m1, named(server, "phoenix"));
  Worker second(r.io.get_executor(), m2, named(server, "phoenix"));  // the same worker, restarted
  std::int64_t steps_first = 0, steps_second = 0;
  std::vector<WorkerStats> midway;
  r.spawn(serve(server));
  r.spawn([&]() -> asio::awaitable<void> {
    co_await train(first, 1, steps_first, 3);
    midway = server.worker_stats();
    co_await train(second, 50, steps_second);
  });
  r.run();
  ASSERT_EQ(midway.size(), 1u);
  EXPECT_EQ(midway[0].pushes, 3);
  EXPECT_EQ(midway[0].reconnects, 0);
  const auto all = server.worker_stats();
  ASSERT_EQ(all.size(), 1u) << "one line per name";
  EXPECT_EQ(all[0].name, "phoenix");
  EXPECT_EQ(all[0].connections, 2);
  EXPECT_EQ(all[0].reconnects, 1);
  EXPECT_EQ(all[0].pushes, server.stats().updates_received);
  EXPECT_EQ(all[0].applied, 8);
}

TEST(PsWorkers, NamesAreCheckedAndGivenByDefault) {
  Runner r;
  dm::Model server_model = ps_test::small_model(3);
  ParameterServer server(r.io.get_executor(), server_model, {});
  dm::Model m = ps_test::small_model(4);
  EXPECT_THROW(Worker(r.io.get_executor(), m, named(server, "two words")), dm::ValueError);
  EXPECT_THROW(Worker(r.io.get_executor(), m, named(server, std::string(129, 'x'))), dm::ValueError);
  const Worker unnamed(r.io.get_executor(), m, named(server, ""));
  EXPECT_NO_THROW(dm::dist::check_worker_name(unnamed.name())) << unnamed.name();
  EXPECT_THROW(dm::dist::check_worker_name("tab\there"), dm::FormatError);
  EXPECT_THROW(dm::dist::check_worker_name(""), dm::FormatError);
}

TEST(PsWorkers, LedgerRatesAndStalenessFromKnownTimes) {
  dm::dist::WorkerLedger ledger;
  const auto t0 = std::chrono::steady_clock::time_point{} + 100s;
  ledger.connected("w", t0);
  ledger.pushed("w", 64, t0 + 1s);
  ledger.applied("w", 0);
  ledger.pushed("w", 64, t0 + 2s);
  ledger.applied("w", 3);
  ledger.stale_dropped("w");
  ledger.connected("w", t0 + 3s);
  const auto all = ledger.snapshot({"w"});
  ASSERT_EQ(all.size(), 1u);
  const WorkerStats& w = all[0];
  EXPECT_EQ(w.pushes, 2);
  EXPECT_EQ(w.samples, 128);
  EXPECT_DOUBLE_EQ(w.samples_per_s, 64.0);  // 128 samples from the first push's connection (t0) to the last push (t0 + 2 s)
  EXPECT_DOUBLE_EQ(w.mean_staleness, 1.5);
  EXPECT_EQ(w.max_staleness, 3);
  EXPECT_EQ(w.stale_dropped, 1);
  EXPECT_EQ(w.connections, 2);
  EXPECT_EQ(w.reconnects, 1);
  EXPECT_TRUE(w.connected);
  EXPECT_FALSE(ledger.snapshot({})[0].connected);
}

}  // namespace
