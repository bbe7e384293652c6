#pragma once
// The parameter server's shared state: what the accept loop, the per-worker sessions and the
// public verbs see. Everything here is touched from the one executor only, so no locks.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "democratising/distributed/parameter_server.hpp"
#include "distributed/frame.hpp"
#include "distributed/sealing.hpp"
#include "distributed/worker_ledger.hpp"

namespace dm::dist {

/// One connected peer.
struct ServerSession {
  ServerSession(asio::ip::tcp::socket s, std::uint64_t session_id)
      : socket(std::move(s)), id(session_id), reply_signal(socket.get_executor()) {}
  asio::ip::tcp::socket socket;
  /// The frame keys once authenticated with a secret; without a secret (loopback) frames are plain.
  std::optional<wire::Sealing> sealing;
  std::uint64_t id;
  std::string peer;
  /// The name the worker gives in its updates (set by its first one; fixed for the connection).
  std::string worker;
  /// Wakes the session when its update has been answered (cancel() is the signal).
  asio::steady_timer reply_signal;
  bool answered = false;
  std::int64_t nonfinite_in_a_row = 0;  // updates refused for non-finite values since its last good one
  bool closing = false;  // the server decided to end this session (finished, dropped, closed)
  bool cut_off = false;  // closed while authenticating, to make room for a newer peer

  wire::Sealing* seal() { return sealing ? &*sealing : nullptr; }
};

struct PendingUpdate {
  std::shared_ptr<ServerSession> session;
  Tensor gradient;  // one f32 block in the model's parameter layout
  std::int64_t base_version = 0;
  double loss = 0.0;
  std::string worker;  // its sender's name, for the ledger
};

struct ParameterServer::Impl : std::enable_shared_from_this<ParameterServer::Impl> {
  Impl(asio::any_io_executor ex, Model& m, ParameterServerOptions o);

  asio::any_io_executor executor;
  Model& model;
  ParameterServerOptions options;
  asio::ip::tcp::acceptor acceptor;
  /// Wakes next_update when an update arrives or a worker leaves.
  asio::steady_timer wake;

  std::shared_ptr<const nn::ParameterLayout> layout;  // the model's: frames carry blocks in it
  Tensor flat;  // the model's flat parameter buffer
  std::int64_t numel = 0;
  std::int64_t version = 0;
  bool finished = false;
  bool quorum_reached = false;  // min_workers joined at least once
  bool closed = false;
  bool finish_requested = false;  // finish(): end at the current version
  ParameterServerStats stats;
  WorkerLedger ledger;
  std::uint64_t next_session_id = 1;

  std::deque<std::shared_ptr<ServerSession>> handshaking;  // not yet authenticated, oldest first
  std::set<std::shared_ptr<ServerSession>> live;     // authenticated workers
  std::deque<PendingUpdate> pending;                 // received, not yet handed out
  std::vector<std::shared_ptr<ServerSession>> awaiting;  // handed out, not yet answered

  void start_accepting();
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::shared_ptr<ServerSession> session);
  asio::awaitable<void> authenticate(ServerSession& session);
  /// Closes the oldest peer still authenticating, if the handshake budget is full.
  void make_room_for_a_handshake();

  /// Parameters frame payload of the current version.
  wire::TensorPayloadParts parameters_payload() const;
  /// Sends `head` + `body` as `type` and marks the session answered; a failure drops the session.
  asio::awaitable<void> answer(const std::shared_ptr<ServerSession>& session, wire::MessageType type,
                               std::span<const std::byte> head = {}, std::span<const std::byte> body = {});
  /// Removes a session from every list and closes its socket.
  void drop(const std::shared_ptr<ServerSession>& session);
  void notify();
  void signal(ServerSession& session);
  /// Gradients (named views into `flat_gradient`) in the model's parameter layout.
  Gradients as_gradients(const Tensor& flat_gradient) const;
};

}  // namespace dm::dist
