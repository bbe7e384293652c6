// A flood of unauthenticated connections against a live parameter server: 200 connections
// that say nothing and reopen as soon as the server closes them. An honest worker must still
// get in and train to the end while the flood runs.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "democratising/distributed/parameter_server.hpp"
#include "democratising/distributed/worker.hpp"
#include "distributed/test_ps_loopback.hpp"

namespace {

using namespace std::chrono_literals;
using namespace dm::dist;
using asio::ip::tcp;
constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
constexpr const char* kSecret = "flood secret";

/// `connections` loopback connections on a thread of their own, each reopened as soon as the
/// server closes it; the flood stops by itself after `limit`, or at stop().
class Flood {
 public:
  Flood(std::uint16_t port, int connections, std::chrono::milliseconds limit) {
    const tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port);
    for (int k = 0; k < connections; ++k)
      asio::co_spawn(io_, keep_reopening(server), asio::detached);
    stopper_ = std::make_unique<asio::steady_timer>(io_, limit);
    stopper_->async_wait([this](const asio::error_code&) { io_.stop(); });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Flood() { stop(); }
  Flood(const Flood&) = delete;
  Flood& operator=(const Flood&) = delete;

  void stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  /// Whether it is still running (it has not reached its time limit).
  bool running() const { return !io_.stopped(); }
  /// Connections opened so far.
  long opened() const { return opened_.load(); }

 private:
  asio::awaitable<void> keep_reopening(tcp::endpoint server) {
    std::array<char, 256> sink{};
    for (;;) {
      tcp::socket socket(io_);
      auto [connect_error] = co_await socket.async_connect(server, tuple_awaitable);
      if (connect_error) {  // the backlog was full, or the server has gone: again in a moment
        asio::steady_timer pause(io_, 1ms);
        co_await pause.async_wait(tuple_awaitable);
        continue;
      }
      ++opened_;
      // Reads (and ignores) the challenge until the server hangs up, then comes back.
      for (;;) {
        auto [read_error, n] = co_await socket.async_read_some(asio::buffer(sink), tuple_awaitable);
        if (read_error) break;
      }
    }
  }

  asio::io_context io_;
  std::unique_ptr<asio::steady_timer> stopper_;
  std::atomic<long> opened_{0};
  std::thread thread_;
};

TEST(PsFlood, AnHonestWorkerTrainsToTheEndUnderAFloodOfUnauthenticatedConnections) {
  ps_test::Runner r;
  dm::Model server_model = ps_test::small_model(1);
  ParameterServerOptions options;
  options.secret = kSecret;
  options.mode = UpdateMode::asynchronous;
  options.max_version = 40;
  ParameterServer server(r.io.get_executor(), server_model, options);
  r.spawn([&]() -> asio::awaitable<void> {
    while (auto update = co_await server.next_update()) {
      server.apply_update(*update);
      co_await server.broadcast_parameters();
    }
    co_await server.drain(5000ms);
  });

  Flood flood(server.port(), 200, 12000ms);
  // The flood is in full swing before the worker arrives.
  const auto swing = std::chrono::steady_clock::now() + 5s;
  while (flood.opened() < 400 && std::chrono::steady_clock::now() < swing) {
    r.io.run_for(10ms);
  }
  ASSERT_GE(flood.opened(), 400);

  dm::Model worker_model = ps_test::small_model(2);
  WorkerOptions honest;
  honest.port = server.port();
  honest.secret = kSecret;
  // About 3 s of attempts: a worker locked out gives up long before the flood ends.
  honest.connect_attempts = 15;
  honest.initial_backoff = 20ms;
  honest.max_backoff = 200ms;
  Worker worker(r.io.get_executor(), worker_model, honest);
  int steps = 0;
  bool flood_ran_throughout = false;
  r.spawn([&]() -> asio::awaitable<void> {
    co_await worker.connect();
    for (std::uint64_t step = 0;; ++step) {
      co_await worker.send_update(worker.compute_gradients(ps_test::separable_batch(16, 300 + step)));
      if (!co_await worker.sync_parameters()) break;
      ++steps;
    }
    flood_ran_throughout = flood.running();
    co_await worker.leave();
    flood.stop();
  });
  r.run(std::chrono::seconds(20));
  EXPECT_EQ(server.version(), 40);
  EXPECT_EQ(steps, 40);  // every update applied, each answered; the 41st hears that training is over
  EXPECT_TRUE(worker.finished());
  EXPECT_TRUE(flood_ran_throughout) << "the worker finished only after the flood had stopped";
  EXPECT_GT(server.stats().peers_rejected, 400);
  EXPECT_EQ(server.stats().workers_dropped, 0);
}

}  // namespace
