// Hostile peers against a live parameter server: a wrong secret, an oversized length, a
// truncated frame, a garbage header, a silent connection and a byte-at-a-time sender are each
// disconnected, while honest workers keep training to the end.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "democratising/distributed/parameter_server.hpp"
#include "democratising/distributed/worker.hpp"
#include "democratising/base/error.hpp"
#include "distributed/auth.hpp"
#include "distributed/frame_io.hpp"
#include "distributed/handshake.hpp"
#include "distributed/test_ps_loopback.hpp"

namespace {

using namespace std::chrono_literals;
using namespace dm::dist;
using asio::ip::tcp;
using ps_test::Runner;

constexpr const char* kSecret = "correct horse battery staple";

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(asio::use_awaitable);
}

// An authenticated connection as a hostile peer holds it: the socket and its frame keys.
struct Peer {
  tcp::socket socket;
  std::optional<wire::Sealing> sealing;
  wire::Sealing* seal() { return sealing ? &*sealing : nullptr; }
};

// True when the server closes the connection well before `patience` runs out.
asio::awaitable<bool> server_hangs_up(tcp::socket& socket, std::chrono::milliseconds patience) {
  try {
    for (;;) co_await wire::read_frame(socket, patience, 1 << 20);  // a refusal may come first
  } catch (const dm::TimeoutError&) {
    co_return false;
  } catch (const dm::Error&) {
    co_return true;
  }
}

asio::awaitable<tcp::socket> open(std::uint16_t port) { co_return co_await wire::connect("127.0.0.1", port, 2000ms); }

// Connects and answers the challenge correctly; the welcome (parameters) is read and dropped.
asio::awaitable<Peer> open_authenticated(std::uint16_t port) {
  // Not `Peer p{co_await open(port), {}}`: GCC 12 mishandles co_await inside a braced initialiser.
  tcp::socket socket = co_await open(port);
  Peer p{std::move(socket), {}};
  p.sealing = co_await wire::answer_challenge(p.socket, kSecret, 2000ms);
  EXPECT_TRUE(p.sealing.has_value()) << "a connection with a secret must be sealed";
  const wire::Frame welcome = co_await wire::read_frame(p.socket, 2000ms, 1 << 20, p.seal());
  EXPECT_EQ(welcome.type, wire::MessageType::parameters);
  co_return p;
}

TEST(PsHostile, BadPeersAreDroppedWhileHonestWorkersTrain) {
  Runner r;
  dm::Model server_model = ps_test::small_model(1);
  ParameterServerOptions options;
  options.secret = kSecret;
  options.mode = UpdateMode::asynchronous;
  options.max_version = 120;
  options.handshake_timeout = 400ms;
  options.worker_timeout = 400ms;
  options.max_frame_bytes = 1 << 16;
  ParameterServer server(r.io.get_executor(), server_model, options);
  const std::uint16_t port = server.port();
  std::map<std::string, bool> hung_up;
  bool wrong_secret_refused = false;
  std::vector<int> honest_steps(2, 0);

  r.spawn([&]() -> asio::awaitable<void> {
    while (auto update = co_await server.next_update()) {
      server.apply_update(*update);
      co_await server.broadcast_parameters();
    }
    co_await server.drain(5000ms);
  });
  // The hostile peers, all at once.
  dm::Model intruder_model = ps_test::small_model(9);
  WorkerOptions intruder_options;
  intruder_options.port = port;
  intruder_options.secret = "wrong";
  intruder_options.connect_attempts = 3;
  Worker intruder(r.io.get_executor(), intruder_model, intruder_options);
  r.spawn([&]() -> asio::awaitable<void> {
    try {
      co_await intruder.connect();
    } catch (const dm::DistributedError& e) {
      wrong_secret_refused = std::string(e.what()).find("refused") != std::string::npos;
    }
  });
  r.spawn([&]() -> asio::awaitable<void> {  // announces 2^40 bytes instead of answering the challenge
    tcp::socket s = co_await open(port);
    co_await wire::read_frame(s, 2000ms, 64);
    const auto h = wire::encode_header(wire::MessageType::response, 1ull << 40);
    co_await wire::write_raw(s, h, 2000ms);
    hung_up["oversized before auth"] = co_await server_hangs_up(s, 3000ms);
  });
  r.spawn([&]() -> asio::awaitable<void> {  // authenticated, then an update of 2^40 bytes
    Peer p = co_await open_authenticated(port);
    const auto h = wire::encode_header(wire::MessageType::update, 1ull << 40);
    co_await wire::write_raw(p.socket, h, 2000ms);
    hung_up["oversized update"] = co_await server_hangs_up(p.socket, 3000ms);
  });
  r.spawn([&]() -> asio::awaitable<void> {  // authenticated, then half an update and silence
    Peer p = co_await open_authenticated(port);
    const auto h = wire::encode_header(wire::MessageType::update, 1000);
    co_await wire::write_raw(p.socket, h, 2000ms);
    co_await wire::write_raw(p.socket, std::vector<std::byte>(10, std::byte{7}), 2000ms);
    hung_up["truncated update"] = co_await server_hangs_up(p.socket, 3000ms);
  });
  r.spawn([&]() -> asio::awaitable<void> {  // authenticated, then a sealed update whose payload is garbage
    Peer p = co_await open_authenticated(port);
    std::vector<std::byte> junk(200, std::byte{0x5A});
    co_await wire::write_frame(p.socket, wire::MessageType::update, junk, 2000ms, p.seal());
    hung_up["garbage payload"] = co_await server_hangs_up(p.socket, 3000ms);
  });
  r.spawn([&]() -> asio::awaitable<void> {  // an HTTP request instead of a frame
    tcp::socket s = co_await open(port);
    const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    co_await wire::write_raw(s, std::as_bytes(std::span(get.data(), get.size())), 2000ms);
    hung_up["garbage header"] = co_await server_hangs_up(s, 3000ms);
  });
  r.spawn([&]() -> asio::awaitable<void> {  // connects and says nothing
    tcp::socket s = co_await open(port);
    hung_up["silent"] = co_await server_hangs_up(s, 3000ms);
  });
  r.spawn([&]() -> asio::awaitable<void> {  // a valid answer, one byte every 100 ms
    tcp::socket s = co_await open(port);
    const wire::Frame challenge = co_await wire::read_frame(s, 2000ms, 64);
    const auth::Nonce own = auth::make_nonce();
    const auth::Mac mac = auth::respond(kSecret, wire::both_nonces(challenge.payload, own));
    std::vector<std::byte> answer(mac.begin(), mac.end());
    answer.insert(answer.end(), own.begin(), own.end());
    const auto frame = wire::encode_frame(wire::MessageType::response, answer);
    bool closed_early = false;
    for (std::byte b : frame) {
      try {
        co_await wire::write_raw(s, std::span(&b, 1), 500ms);
      } catch (const dm::Error&) {
        closed_early = true;
        break;
      }
      co_await pause(100ms);
    }
    bool hangs_up = closed_early;
    if (!hangs_up) hangs_up = co_await server_hangs_up(s, 3000ms);
    hung_up["byte at a time"] = hangs_up;
  });
  // The honest workers, slowed a little so that they train while the others misbehave.
  std::vector<std::unique_ptr<dm::Model>> models;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int k = 0; k < 2; ++k) {
    models.push_back(std::make_unique<dm::Model>(ps_test::small_model(20 + k)));
    WorkerOptions honest;
    honest.port = port;
    honest.secret = kSecret;
    workers.push_back(std::make_unique<Worker>(r.io.get_executor(), *models.back(), honest));
    r.spawn([&, k]() -> asio::awaitable<void> {
      Worker& w = *workers[k];
      co_await w.connect();
      for (std::uint64_t step = 0;; ++step) {
        co_await w.send_update(w.compute_gradients(ps_test::separable_batch(16, 77 * (k + 1) + step)));
        const bool more = co_await w.sync_parameters();
        if (!more) break;
        ++honest_steps[k];
        co_await pause(10ms);
      }
      co_await w.leave();
    });
  }
  r.run();
  EXPECT_TRUE(wrong_secret_refused);
  for (const char* name : {"oversized before auth", "oversized update", "truncated update", "garbage payload",
                           "garbage header", "silent", "byte at a time"}) {
    ASSERT_TRUE(hung_up.count(name)) << name << " did not finish";
    EXPECT_TRUE(hung_up[name]) << name << " was not disconnected";
  }
  EXPECT_EQ(server.version(), 120);
  EXPECT_GT(honest_steps[0], 20);
  EXPECT_GT(honest_steps[1], 20);
  const auto stats = server.stats();
  EXPECT_GE(stats.peers_rejected, 5);  // wrong secret, oversized, garbage header, silent, trickle
  EXPECT_EQ(stats.workers_dropped, 3);     // oversized update, truncated update, garbage payload
}

// An update frame from an authenticated peer: `values` as the gradient, tagged with `loss`.
asio::awaitable<void> send_update(Peer& p, const std::vector<float>& values, const std::string& loss) {
  const dm::Tensor g = dm::Tensor::from_vector(values);
  const auto payload = wire::encode_tensor_payload("gradient", g, {{"base_version", "0"}, {"loss", loss}});
  co_await wire::write_frame(p.socket, wire::MessageType::update, payload, 2000ms, p.seal());
}

bool finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

TEST(PsHostile, NonFiniteUpdatesAreRefusedCountedAndTheirSenderDropped) {
  Runner r;
  dm::Model server_model = ps_test::small_model(1);
  const std::int64_t numel = server_model.module().flat_parameters().numel();
  ParameterServerOptions options;
  options.secret = kSecret;
  options.mode = UpdateMode::asynchronous;
  options.max_version = 60;
  options.max_nonfinite_updates = 3;
  ParameterServer server(r.io.get_executor(), server_model, options);
  const std::uint16_t port = server.port();
  std::vector<bool> answered_with_finite_parameters;
  bool hung_up_after_the_third = false;
  int honest_steps = 0;

  r.spawn([&]() -> asio::awaitable<void> {
    while (auto update = co_await server.next_update()) {
      server.apply_update(*update);
      co_await server.broadcast_parameters();
    }
    co_await server.drain(5000ms);
  });
  r.spawn([&]() -> asio::awaitable<void> {  // authenticated, then a NaN, an infinity and a NaN loss
    Peer s = co_await open_authenticated(port);
    std::vector<float> nan_gradient(static_cast<std::size_t>(numel), 0.01f);
    nan_gradient[3] = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> inf_gradient(static_cast<std::size_t>(numel), 0.01f);
    inf_gradient.back() = -std::numeric_limits<float>::infinity();
    co_await send_update(s, nan_gradient, "0.5");
    for (int k = 0; k < 2; ++k) {
      const wire::Frame answer = co_await wire::read_frame(s.socket, 3000ms, 1 << 20, s.seal());
      const auto p = wire::decode_tensor_payload(answer.payload, "parameters", numel);
      answered_with_finite_parameters.push_back(answer.type == wire::MessageType::parameters &&
                                                finite(p.tensor.to_vector<float>()));
      if (k == 0) co_await send_update(s, inf_gradient, "0.5");
      if (k == 1) co_await send_update(s, std::vector<float>(static_cast<std::size_t>(numel), 0.01f), "nan");
    }
    hung_up_after_the_third = co_await server_hangs_up(s.socket, 3000ms);
  });
  dm::Model honest_model = ps_test::small_model(20);
  WorkerOptions honest;
  honest.port = port;
  honest.secret = kSecret;
  Worker worker(r.io.get_executor(), honest_model, honest);
  r.spawn([&]() -> asio::awaitable<void> {
    co_await worker.connect();
    for (std::uint64_t step = 0;; ++step) {
      co_await worker.send_update(worker.compute_gradients(ps_test::separable_batch(16, 500 + step)));
      if (!co_await worker.sync_parameters()) break;
      ++honest_steps;
      co_await pause(5ms);
    }
    co_await worker.leave();
  });
  r.run();
  EXPECT_EQ(answered_with_finite_parameters, std::vector<bool>({true, true}));
  EXPECT_TRUE(hung_up_after_the_third);
  EXPECT_EQ(server.version(), 60);
  EXPECT_GT(honest_steps, 50);
  EXPECT_TRUE(finite(server_model.module().flat_parameters().to_vector<float>())) << "a non-finite update was applied";
  // The honest worker trained the model: it separates the two classes.
  EXPECT_GT(ps_test::accuracy(server_model, ps_test::separable_batch(400, 9999)), 0.7);
  const auto stats = server.stats();
  EXPECT_EQ(stats.nonfinite_rejected, 3);
  EXPECT_EQ(stats.workers_dropped, 1);
}

}  // namespace
