// Frames after the handshake are sealed (AES-256-GCM, keys from the secret and both nonces):
// an altered, replayed, reordered or forged frame fails to open; a proxy that flips one byte
// of an update gets that worker dropped and nothing of the update applied; a server that
// does not know the secret cannot welcome a worker. Authenticated frames (plain bytes, GMAC
// tags) refuse the same tampering, and two ends that chose different protections cannot talk.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

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

constexpr const char* kSecret = "a secret both ends were given";

std::vector<std::byte> bytes_of(const std::string& s) {
  const auto b = std::as_bytes(std::span(s.data(), s.size()));
  return {b.begin(), b.end()};
}

struct Pair {
  wire::Sealing server;
  wire::Sealing worker;
};

Pair keys(const std::string& server_secret = kSecret, const std::string& worker_secret = kSecret) {
  const auth::Nonce s = auth::make_nonce();
  const auth::Nonce w = auth::make_nonce();
  return {wire::Sealing::derive(server_secret, s, w, wire::End::server),
          wire::Sealing::derive(worker_secret, s, w, wire::End::worker)};
}

// A sealed frame as it travels: header (with the sealed length) and sealed payload.
struct Sealed {
  std::array<std::byte, wire::kHeaderBytes> header;
  std::vector<std::byte> payload;
};

Sealed seal(wire::Sealing& from, const std::string& text, wire::MessageType type = wire::MessageType::update) {
  const auto plain = bytes_of(text);
  Sealed out{wire::encode_header(type, plain.size() + wire::kSealTagBytes), {}};
  out.payload = from.seal(out.header, plain, {});
  return out;
}

// The plaintext if `frame` opens, or the error's text.
std::string open(wire::Sealing& at, Sealed frame) {
  try {
    const std::size_t n = at.open(frame.header, frame.payload, "test");
    return std::string(reinterpret_cast<const char*>(frame.payload.data()), n);
  } catch (const dm::DistributedError& e) {
    return std::string("refused: ") + e.what();
  }
}

bool refused(const std::string& outcome) { return outcome.rfind("refused: [test] a frame failed authentication", 0) == 0; }

TEST(Sealing, FramesOpenInOrderAtTheOtherEndOnly) {
  Pair k = keys();
  const Sealed a = seal(k.worker, "first update");
  const Sealed b = seal(k.worker, "second update");
  EXPECT_NE(a.payload, b.payload) << "the same key and nonce must never seal twice";
  // The ciphertext does not carry the plaintext.
  const std::string ciphertext(reinterpret_cast<const char*>(a.payload.data()), a.payload.size());
  EXPECT_EQ(ciphertext.find("first"), std::string::npos);
  EXPECT_EQ(a.payload.size(), std::string("first update").size() + wire::kSealTagBytes);
  // A frame is not opened by the end that sealed it: each direction has its own key.
  Pair k2 = keys();
  const Sealed to_self = seal(k2.worker, "reflected");
  EXPECT_TRUE(refused(open(k2.worker, to_self)));
  EXPECT_EQ(open(k.server, a), "first update");
  EXPECT_EQ(open(k.server, b), "second update");
  const Sealed reply = seal(k.server, "parameters", wire::MessageType::parameters);
  EXPECT_EQ(open(k.worker, reply), "parameters");
}

TEST(Sealing, AlteredReplayedReorderedAndForgedFramesAreRefused) {
  {  // every single flipped bit of the payload or the tag, and of the header
    Pair k = keys();
    const Sealed frame = seal(k.worker, "an update of some length");
    for (std::size_t i = 0; i < frame.payload.size(); ++i) {
      Sealed altered = frame;
      altered.payload[i] ^= std::byte{0x01};
      EXPECT_TRUE(refused(open(k.server, altered))) << "payload byte " << i;
    }
    for (std::size_t i = 0; i < frame.header.size(); ++i) {
      Sealed altered = frame;
      altered.header[i] ^= std::byte{0x40};
      EXPECT_TRUE(refused(open(k.server, altered))) << "header byte " << i;
    }
    Sealed truncated = frame;
    truncated.payload.resize(wire::kSealTagBytes - 1);
    EXPECT_TRUE(refused(open(k.server, truncated)));
    // None of those attempts moved the receiver on: the genuine frame still opens.
    EXPECT_EQ(open(k.server, frame), "an update of some length");
  }
  {  // a replay of a frame already opened
    Pair k = keys();
    const Sealed frame = seal(k.worker, "pay once");
    EXPECT_EQ(open(k.server, frame), "pay once");
    EXPECT_TRUE(refused(open(k.server, frame)));
  }
  {  // two frames swapped, and one dropped
    Pair k = keys();
    const Sealed first = seal(k.worker, "one");
    const Sealed second = seal(k.worker, "two");
    const Sealed third = seal(k.worker, "three");
    EXPECT_TRUE(refused(open(k.server, second)));
    EXPECT_EQ(open(k.server, first), "one");
    EXPECT_TRUE(refused(open(k.server, third)));
  }
  {  // sealed under another secret, or not sealed at all
    Pair k = keys(kSecret, "a guess");
    EXPECT_TRUE(refused(open(k.server, seal(k.worker, "forged"))));
    const auto plain = bytes_of("plain frame with room for a tag");
    EXPECT_TRUE(refused(open(k.server, Sealed{wire::encode_header(wire::MessageType::update, plain.size()), plain})));
  }
}

// Forwards one connection each way between a client and the server, flipping the byte at
// `flip_at` of the first client-to-server stream (counted from its first byte).
asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to, std::optional<std::size_t> flip_at) {
  std::array<std::byte, 4096> buffer{};
  std::size_t offset = 0;
  try {
    for (;;) {
      const std::size_t n = co_await from.async_read_some(asio::buffer(buffer), asio::use_awaitable);
      if (flip_at && *flip_at >= offset && *flip_at < offset + n) buffer[*flip_at - offset] ^= std::byte{0x10};
      offset += n;
      co_await asio::async_write(to, asio::buffer(buffer.data(), n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
    asio::error_code ignored;
    to.shutdown(tcp::socket::shutdown_both, ignored);
    from.shutdown(tcp::socket::shutdown_both, ignored);
  }
}

dm::Model small_model(std::uint64_t seed) { return ps_test::small_model(seed); }

// Dense(8 -> 20000) -> ReLU -> Dense(20000 -> 2): 220,002 parameters, an update of four
// sealed chunks.
dm::Model wide_model(std::uint64_t seed) {
  dm::manual_seed(seed);
  dm::ModelOptions options;
  options.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.01});
  return dm::nn::Sequential().add(dm::nn::Dense(8, 20000)).add(dm::nn::ReLU()).add(dm::nn::Dense(20000, 2)).build(options);
}

// A worker talks to the server through a proxy that flips the byte at `flip_at` of the first
// update's sealed payload on the first connection: that connection must be dropped with
// nothing of the update applied, and the worker must reconnect and finish.
void expect_flipped_update_refused(dm::Model (*make_model)(std::uint64_t), std::size_t flip_at,
                                   WireProtection protection = WireProtection::sealed) {
  Runner r;
  dm::Model server_model = make_model(1);
  ParameterServerOptions options;
  options.secret = kSecret;
  options.wire = protection;
  options.mode = UpdateMode::asynchronous;
  options.max_version = 10;
  ParameterServer server(r.io.get_executor(), server_model, options);
  const auto before = server_model.module().flat_parameters().to_vector<float>();
  std::vector<std::int64_t> versions_applied;

  // The update frame starts after the worker's response (header + 64 bytes), its payload after
  // its own header.
  tcp::acceptor proxy(r.io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const std::uint16_t proxy_port = proxy.local_endpoint().port();
  int proxied_connections = 0;
  r.spawn([&]() -> asio::awaitable<void> {
    for (;;) {
      auto client = std::make_shared<tcp::socket>(co_await proxy.async_accept(asio::use_awaitable));
      auto upstream = std::make_shared<tcp::socket>(co_await wire::connect("127.0.0.1", server.port(), 2000ms));
      const bool first = proxied_connections++ == 0;
      const std::optional<std::size_t> flip =
          first ? std::optional<std::size_t>(wire::kHeaderBytes + wire::kResponseBytes + wire::kHeaderBytes + flip_at)
                : std::nullopt;
      r.spawn([client, upstream, flip]() -> asio::awaitable<void> { co_await pump(*client, *upstream, flip); });
      r.spawn([client, upstream]() -> asio::awaitable<void> { co_await pump(*upstream, *client, std::nullopt); });
      if (proxied_connections == 2) co_return;
    }
  });
  r.spawn([&]() -> asio::awaitable<void> {
    while (auto update = co_await server.next_update()) {
      versions_applied.push_back(update->base_version);
      server.apply_update(*update);
      co_await server.broadcast_parameters();
    }
    co_await server.drain(5000ms);
  });
  dm::Model worker_model = make_model(2);
  WorkerOptions w;
  w.port = proxy_port;
  w.secret = kSecret;
  w.wire = protection;
  w.reply_timeout = 5000ms;
  Worker worker(r.io.get_executor(), worker_model, w);
  r.spawn([&]() -> asio::awaitable<void> {
    co_await worker.connect();
    for (std::uint64_t step = 0;; ++step) {
      co_await worker.send_update(worker.compute_gradients(ps_test::separable_batch(16, 40 + step)));
      if (!co_await worker.sync_parameters()) break;
    }
    co_await worker.leave();
  });
  r.run();
  const auto stats = server.stats();
  EXPECT_EQ(stats.workers_dropped, 1) << "the tampered connection must be dropped";
  EXPECT_EQ(worker.connections(), 2) << "the worker reconnects and finishes";
  EXPECT_EQ(server.version(), 10);
  // The tampered update was never handed over: every applied update came through the second
  // connection, and exactly max_version of them were applied.
  EXPECT_EQ(static_cast<std::int64_t>(versions_applied.size()), 10);
  EXPECT_NE(server_model.module().flat_parameters().to_vector<float>(), before);
}

TEST(Sealing, AProxyThatFlipsOneByteOfAnUpdateGetsNothingApplied) {
  // Byte 40 lies in the payload's head, in its first (and only) chunk.
  expect_flipped_update_refused(&small_model, 40);
}

TEST(Sealing, AProxyThatFlipsOneByteInTheLastChunkOfAnUpdateGetsNothingApplied) {
  // The update has four chunks; the flipped byte is in the last, after three that open.
  const std::size_t last_chunk = 3 * (wire::kSealChunkBytes + wire::kSealTagBytes);
  expect_flipped_update_refused(&wide_model, last_chunk + 1000);
}

TEST(Sealing, AuthenticatedFramesRefuseAFlippedByteInTheFirstOrTheLastChunk) {
  // Authenticated frames travel in the clear, so the flipped byte is a plain one: only the tag
  // catches it.
  expect_flipped_update_refused(&small_model, 40, WireProtection::authenticated);
  const std::size_t last_chunk = 3 * (wire::kSealChunkBytes + wire::kSealTagBytes);
  expect_flipped_update_refused(&wide_model, last_chunk + 1000, WireProtection::authenticated);
}

TEST(Sealing, EndsThatChoseDifferentProtectionsCannotTalk) {
  // Neither end can be talked down from sealed: a worker that asks for authenticated frames
  // (or a server that offers them) gets nothing it can open, and nothing is applied.
  for (const auto& [server_wire, worker_wire] : {std::pair{WireProtection::sealed, WireProtection::authenticated},
                                                std::pair{WireProtection::authenticated, WireProtection::sealed}}) {
    Runner r;
    dm::Model server_model = small_model(1);
    ParameterServerOptions options;
    options.secret = kSecret;
    options.wire = server_wire;
    options.max_version = 1;
    ParameterServer server(r.io.get_executor(), server_model, options);
    bool server_got_an_update = false;
    r.spawn([&]() -> asio::awaitable<void> {
      if (auto update = co_await server.next_update(); update) server_got_an_update = true;
    });
    dm::Model worker_model = small_model(2);
    WorkerOptions w;
    w.port = server.port();
    w.secret = kSecret;
    w.wire = worker_wire;
    w.connect_attempts = 2;
    w.initial_backoff = 10ms;
    w.reply_timeout = 2000ms;
    Worker worker(r.io.get_executor(), worker_model, w);
    std::string error;
    r.spawn([&]() -> asio::awaitable<void> {
      try {
        co_await worker.connect();
        co_await worker.send_update(worker.compute_gradients(ps_test::separable_batch(16, 1)));
        co_await worker.sync_parameters();
      } catch (const dm::Error& e) {
        error = e.what();
      }
      server.close();
    });
    r.run();
    EXPECT_NE(error.find("wire protection"), std::string::npos) << error;
    EXPECT_FALSE(server_got_an_update);
    EXPECT_EQ(server.version(), 0);
  }
}

// Starts worker.connect() on `r`; the error it gives up with lands in `error`.
void spawn_connect(Runner& r, Worker& worker, std::string& error) {
  r.spawn([&worker, &error]() -> asio::awaitable<void> {
    try {
      co_await worker.connect();
    } catch (const dm::DistributedError& e) {
      error = e.what();
    }
  });
}

TEST(Sealing, AWorkerThatGivesUpNamesTheWelcomeItCouldNotOpen) {
  // The first attempt reaches a server that protects its frames otherwise; the server is then
  // gone, so the later attempts find nothing to connect to. The worker's error names both.
  Runner r;
  dm::Model server_model = small_model(1);
  ParameterServerOptions options;
  options.secret = kSecret;
  options.wire = WireProtection::authenticated;
  ParameterServer server(r.io.get_executor(), server_model, options);
  r.spawn([&]() -> asio::awaitable<void> {
    asio::steady_timer poll(r.io);
    while (server.stats().workers_dropped == 0) {
      poll.expires_after(5ms);
      co_await poll.async_wait(asio::use_awaitable);
    }
    server.close();
  });
  dm::Model worker_model = small_model(2);
  WorkerOptions w;
  w.port = server.port();
  w.secret = kSecret;
  w.connect_attempts = 3;
  w.initial_backoff = 200ms;
  w.connect_timeout = 2000ms;
  Worker worker(r.io.get_executor(), worker_model, w);
  std::string error;
  spawn_connect(r, worker, error);
  r.run();
  EXPECT_NE(error.find("after 3 attempts"), std::string::npos) << error;
  EXPECT_NE(error.find("could not open its welcome"), std::string::npos) << error;
  EXPECT_NE(error.find("wire protection"), std::string::npos) << error;
}

TEST(Sealing, AServerWithoutTheSecretCannotWelcomeAWorker) {
  Runner r;
  tcp::acceptor impostor(r.io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const std::uint16_t port = impostor.local_endpoint().port();
  dm::Model model = ps_test::small_model(3);
  r.spawn([&]() -> asio::awaitable<void> {
    // Plays the server's side of the protocol without knowing the secret: it cannot check the
    // answer, and the parameters it sends are sealed with keys from its own guess.
    tcp::socket s = co_await impostor.async_accept(asio::use_awaitable);
    const auth::Nonce nonce = auth::make_nonce();
    co_await wire::write_frame(s, wire::MessageType::challenge, nonce, 2000ms);
    const wire::Frame answer = co_await wire::read_frame(s, 2000ms, wire::kMaxControlPayload);
    const wire::Response response = wire::split_response(answer.payload);
    wire::Sealing guess = wire::Sealing::derive("a guess", nonce, response.worker_nonce, wire::End::server);
    const auto payload = wire::encode_tensor_payload("parameters", model.module().flat_parameters(), {{"version", "0"}});
    co_await wire::write_frame(s, wire::MessageType::parameters, payload, 2000ms, &guess);
  });
  WorkerOptions w;
  w.port = port;
  w.secret = kSecret;
  w.connect_attempts = 1;
  Worker worker(r.io.get_executor(), model, w);
  std::string error;
  spawn_connect(r, worker, error);
  r.run();
  EXPECT_NE(error.find("failed authentication"), std::string::npos) << error;
  EXPECT_EQ(worker.connections(), 0);
}

}  // namespace
