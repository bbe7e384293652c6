// The server's network side: accepting peers, authenticating them, and one session per
// worker that reads its updates and waits for their answers.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "democratising/base/error.hpp"
#include "distributed/auth.hpp"
#include "distributed/frame_io.hpp"
#include "distributed/handshake.hpp"
#include "distributed/parameter_server_state.hpp"

namespace dm::dist {
namespace {

constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);


std::string describe(const asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "<unknown peer>";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

void ParameterServer::Impl::start_accepting() {
  asio::co_spawn(executor, [self = shared_from_this()]() { return self->accept_loop(); }, asio::detached);
}

asio::awaitable<void> ParameterServer::Impl::accept_loop() {
  auto self = shared_from_this();  // keeps the state alive while the loop is suspended
  while (!closed && !finished) {
    auto [ec, socket] = co_await acceptor.async_accept(tuple_awaitable);
    if (ec) {
      if (closed || finished || ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. the peer reset before we accepted: keep serving
    }
    make_room_for_a_handshake();
    asio::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    auto session = std::make_shared<ServerSession>(std::move(socket), next_session_id++);
    session->peer = describe(session->socket);
    handshaking.push_back(session);
    asio::co_spawn(executor, [self, session]() { return self->serve(session); }, asio::detached);
  }
}

// Refusing newcomers while the budget is full would let a flood that reopens its connections
// as soon as they close keep every place, and an honest worker would never get one. Cutting
// off the oldest instead gives every newcomer the time of max_handshakes later arrivals to
// answer the challenge, which on any network takes one round trip.
void ParameterServer::Impl::make_room_for_a_handshake() {
  if (handshaking.size() < std::max<std::size_t>(1, options.max_handshakes)) return;
  std::shared_ptr<ServerSession> oldest = std::move(handshaking.front());
  handshaking.pop_front();
  oldest->cut_off = true;
  oldest->closing = true;
  asio::error_code ignored;
  oldest->socket.close(ignored);
}

asio::awaitable<void> ParameterServer::Impl::authenticate(ServerSession& session) {
  // One deadline for the whole exchange: a peer that trickles cannot stretch it.
  const auto deadline = std::chrono::steady_clock::now() + options.handshake_timeout;
  auto left = [&] { return std::max(deadline - std::chrono::steady_clock::now(), wire::Duration::zero()); };
  const auth::Nonce nonce = auth::make_nonce();
  co_await wire::write_frame(session.socket, wire::MessageType::challenge, nonce, left());
  // A tiny limit: before authentication a peer may not make us allocate anything sizeable.
  const wire::Frame answer = co_await wire::read_frame(session.socket, left(), wire::kMaxControlPayload);
  if (answer.type != wire::MessageType::response)
    throw DistributedError(std::string("[ParameterServer] expected a challenge response, got ") + wire::message_name(answer.type));
  const wire::Response response = wire::split_response(answer.payload);
  if (!auth::verify(options.secret, wire::both_nonces(nonce, response.worker_nonce), response.mac)) {
    const std::string reason = "authentication failed";
    try {
      co_await wire::write_frame(session.socket, wire::MessageType::refused,
                                 std::as_bytes(std::span(reason.data(), reason.size())), left());
    } catch (const Error&) {
      // The peer may already be gone; it is refused either way.
    }
    throw DistributedError("[ParameterServer] " + session.peer + ": authentication failed");
  }
  // From here on every frame of this connection is sealed (frames are plain only without a
  // secret, which the server allows on loopback addresses alone).
  if (!options.secret.empty())
    session.sealing = wire::Sealing::derive(options.secret, nonce, response.worker_nonce, wire::End::server, options.wire);
}

asio::awaitable<void> ParameterServer::Impl::serve(std::shared_ptr<ServerSession> session) {
  auto self = shared_from_this();
  bool authenticated = false;
  try {
    co_await authenticate(*session);
    std::erase(handshaking, session);
    if (session->cut_off) throw DistributedError("[ParameterServer] " + session->peer + ": cut off while authenticating");
    authenticated = true;
    if (!closed && !finished && live.size() >= options.max_workers) {
      const std::string reason = "the server has " + std::to_string(live.size()) + " workers, its limit";
      co_await wire::write_frame(session->socket, wire::MessageType::refused,
                                 std::as_bytes(std::span(reason.data(), reason.size())), options.handshake_timeout,
                                 session->seal());
      throw DistributedError("[ParameterServer] " + session->peer + ": refused, " + reason);
    }
    if (closed || finished) {
      co_await wire::write_frame(session->socket, wire::MessageType::done, {}, options.handshake_timeout, session->seal());
    } else {
      live.insert(session);
      if (live.size() >= options.min_workers) quorum_reached = true;
      stats.live_workers = static_cast<std::int64_t>(live.size());
      const auto welcome = parameters_payload();
      co_await wire::write_frame(session->socket, wire::MessageType::parameters, welcome.head, welcome.body(),
                                 options.worker_timeout, session->seal());
      // Named: GCC 12 mishandles temporaries with destructors inside a co_await.
      // One NaN or infinity applied to the parameters would spread to every parameter it
      // touches at the next step and stay for the rest of the run: such an update is never let
      // through. The values are checked as they arrive (while in cache), not in a pass after.
      const wire::TensorExpectation gradient{"gradient", numel, true, true};
      while (!session->closing) {
        // The gradient is received straight into its own tensor, which the update then holds.
        wire::TensorFrame frame = co_await wire::read_tensor_frame(session->socket, options.worker_timeout,
                                                                   options.max_frame_bytes, session->seal(), gradient);
        if (session->closing) break;
        if (frame.type == wire::MessageType::bye) break;
        if (frame.type != wire::MessageType::update)
          throw FormatError(std::string("[ParameterServer] expected an update, got ") + wire::message_name(frame.type));
        if (finished) {
          co_await wire::write_frame(session->socket, wire::MessageType::done, {}, options.worker_timeout, session->seal());
          break;
        }
        // A compressing worker sends bf16; the server widens it (exactly) and sums in f32.
        wire::TensorPayload update = std::move(frame.tensor);
        if (update.tensor.dtype() == DType::bf16) update.tensor = update.tensor.to(DType::f32);
        const std::int64_t base = wire::metadata_int(update.metadata, "base_version");
        if (base < 0 || base > version)
          throw FormatError("[ParameterServer] update based on version " + std::to_string(base) + ", the server is at " +
                            std::to_string(version));
        const double loss = wire::metadata_double(update.metadata, "loss", 0.0);
        if (!frame.finite || !std::isfinite(loss)) {
          ++stats.nonfinite_rejected;
          if (++session->nonfinite_in_a_row >= options.max_nonfinite_updates)
            throw DistributedError("[ParameterServer] " + session->peer + " sent " +
                                   std::to_string(session->nonfinite_in_a_row) +
                                   " updates with NaN or infinite values in a row");
          std::fprintf(stderr, "dm ps: refused an update with NaN or infinite values from %s\n", session->peer.c_str());
          // Nothing of it is applied; the worker carries on from the current parameters.
          const auto payload = parameters_payload();
          co_await wire::write_frame(session->socket, wire::MessageType::parameters, payload.head, payload.body(),
                                     options.worker_timeout, session->seal());
          continue;
        }
        const std::int64_t samples = wire::metadata_int(update.metadata, "samples", 0, 0, std::int64_t{1} << 40);
        // The name is optional in the metadata: a peer that gives none is known by its address.
        const auto name_entry = update.metadata.find("worker");
        const std::string name = name_entry != update.metadata.end() ? name_entry->second : session->peer;
        check_worker_name(name);
        if (session->worker.empty()) {
          session->worker = name;
          ledger.connected(name, std::chrono::steady_clock::now());
        } else if (session->worker != name) {
          throw FormatError("[ParameterServer] " + session->peer + " changed its name from '" + session->worker + "'");
        }
        session->nonfinite_in_a_row = 0;
        session->answered = false;
        pending.push_back({session, std::move(update.tensor), base, loss, name});
        ++stats.updates_received;
        ledger.pushed(name, samples, std::chrono::steady_clock::now());
        notify();
        // The worker now waits for its answer: no read deadline while we hold it up.
        while (!session->answered && !session->closing) {
          session->reply_signal.expires_at(asio::steady_timer::time_point::max());
          co_await session->reply_signal.async_wait(tuple_awaitable);
        }
      }
    }
  } catch (const std::exception& e) {
    if (authenticated && live.count(session)) {
      ++stats.workers_dropped;
    } else {
      ++stats.peers_rejected;
    }
    // Peers cut off under a flood would be one line each: they are counted, not printed.
    if (!closed && !session->cut_off) std::fprintf(stderr, "dm ps: dropped %s: %s\n", session->peer.c_str(), e.what());
  }
  std::erase(handshaking, session);
  drop(session);
}

asio::awaitable<void> ParameterServer::Impl::answer(const std::shared_ptr<ServerSession>& session, wire::MessageType type,
                                                     std::span<const std::byte> head, std::span<const std::byte> body) {
  if (session->closing) co_return;
  try {
    co_await wire::write_frame(session->socket, type, head, body, options.worker_timeout, session->seal());
    if (type == wire::MessageType::done) session->closing = true;
  } catch (const Error& e) {
    // It could not take its answer in time: the session ends and drops it.
    session->closing = true;
    ++stats.workers_dropped;
    if (!closed) std::fprintf(stderr, "dm ps: dropped %s: %s\n", session->peer.c_str(), e.what());
    asio::error_code ignored;
    session->socket.close(ignored);
  }
  session->answered = true;
  signal(*session);
}

void ParameterServer::Impl::drop(const std::shared_ptr<ServerSession>& session) {
  session->closing = true;
  live.erase(session);
  stats.live_workers = static_cast<std::int64_t>(live.size());
  std::erase_if(pending, [&](const PendingUpdate& p) { return p.session == session; });
  std::erase(awaiting, session);
  asio::error_code ignored;
  session->socket.close(ignored);
  signal(*session);
  notify();  // a synchronous round may be complete without it
}

void ParameterServer::Impl::notify() { wake.cancel(); }

void ParameterServer::Impl::signal(ServerSession& session) { session.reply_signal.cancel(); }

}  // namespace dm::dist
