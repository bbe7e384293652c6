#pragma once
// dm::dist::ParameterServer: holds a Model's parameters, takes gradient updates from workers
// over TCP, applies them with the model's optimizer and sends the new parameters back.
//
//   asio::io_context io;
//   dm::dist::ParameterServer server(io.get_executor(), model, {.port = 5555, .secret = secret});
//   // in a coroutine on io:
//   while (auto update = co_await server.next_update()) {
//     server.apply_update(*update);
//     co_await server.broadcast_parameters();
//   }
//
// Everything runs on the one executor given (a single-threaded io_context); the verbs must be
// awaited there. Workers authenticate with an HMAC challenge over a shared secret, and every
// frame after it is sealed (AES-256-GCM, keys from the secret and both sides' nonces) or, by
// choice, only authenticated (WireProtection): an altered, replayed or reordered frame drops
// the connection. Without a secret the server
// binds loopback only and frames are plain. Frames are size-checked before allocation, every
// read and write has a deadline, and a worker that dies, goes silent or misbehaves is dropped
// while the others go on.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "democratising/distributed/wire_protection.hpp"
#include "democratising/model/model.hpp"

namespace dm::dist {

enum class UpdateMode {
  synchronous,        // one step per round: waits for every live worker, applies their mean
  asynchronous,       // each update is applied as it arrives
  bounded_staleness,  // as asynchronous, but an update more than max_staleness versions old is dropped
};

/// "sync", "async", "bounded"; ValueError otherwise.
UpdateMode parse_update_mode(const std::string& name);

/// Where a ParameterServer listens, how it applies updates, and its limits and timeouts.
struct ParameterServerOptions {
  /// Address to bind. Without a secret only loopback addresses are accepted (ValueError otherwise).
  std::string address = "127.0.0.1";
  /// 0: any free port (see port()).
  std::uint16_t port = 0;
  /// Shared secret of the HMAC challenge; empty: no secret, loopback only.
  std::string secret;
  /// With a secret: how frames are protected (workers must choose the same).
  WireProtection wire = WireProtection::sealed;
  /// How updates are combined and applied (see UpdateMode).
  UpdateMode mode = UpdateMode::asynchronous;
  /// bounded_staleness: the most versions a gradient's parameters may lag behind.
  std::int64_t max_staleness = 0;
  /// next_update returns nullopt once the parameters reach this version; 0: never.
  std::int64_t max_version = 0;
  /// Hold every update until this many workers have joined (once), so that the first
  /// synchronous round does not start before the fleet is up.
  std::size_t min_workers = 1;
  /// Checkpoint file (safetensors via Model::save_checkpoint); empty: none.
  std::string checkpoint;
  /// Save every this many versions (and at the end); 0: only at the end.
  std::int64_t checkpoint_every = 0;
  /// Start from `checkpoint` when the file exists (parameters, optimizer state and version).
  bool resume = false;
  /// Extra metadata stored in every checkpoint.
  std::map<std::string, std::string> checkpoint_metadata;
  /// A new peer must authenticate within this time (one deadline for the whole exchange).
  std::chrono::milliseconds handshake_timeout{1000};
  /// A worker that sends no update for this long (while not waiting for us) is dropped.
  std::chrono::milliseconds worker_timeout{10000};
  /// next_update throws TimeoutError when no update arrives for this long; the server is then
  /// closed (checkpoint saved, no more workers accepted, those connected disconnected).
  std::chrono::milliseconds idle_timeout{60000};
  /// Largest frame accepted; the parameters must fit.
  std::size_t max_frame_bytes = std::size_t{512} << 20;
  /// Authenticated workers beyond this many are refused.
  std::size_t max_workers = 64;
  /// Peers still authenticating, a budget apart from the workers' so that unauthenticated
  /// connections can never take a worker's place. When it is full, the oldest of them is cut
  /// off to make room: a flood of connections that reopen as fast as they are closed then
  /// delays an honest worker's handshake, and never locks it out.
  std::size_t max_handshakes = 16;
  /// An update with a NaN or infinite gradient or loss is refused (the worker gets the current
  /// parameters instead); a worker that sends this many such updates in a row is dropped.
  std::int64_t max_nonfinite_updates = 3;
};

/// What next_update hands over: one worker's gradient, or in synchronous mode the mean of a round.
struct Update {
  /// The gradient to apply.
  Gradients gradients;
  std::int64_t base_version = 0;  ///< the parameter version the gradient was computed on
  /// How many workers' gradients it averages.
  std::int64_t contributors = 1;
  double loss = 0.0;  ///< the workers' mean batch loss
};

/// What a ParameterServer has done so far.
struct ParameterServerStats {
  /// The parameters' version.
  std::int64_t version = 0;
  /// Updates that arrived, applied or not.
  std::int64_t updates_received = 0;
  std::int64_t stale_dropped = 0;    ///< bounded staleness: updates refused as too old
  std::int64_t peers_rejected = 0;   ///< failed authentication, a malformed or late handshake, or cut off
  std::int64_t workers_dropped = 0;  ///< authenticated, then died, went silent or misbehaved
  std::int64_t nonfinite_rejected = 0;  ///< updates refused for a NaN or infinite gradient or loss
  /// Workers connected now.
  std::int64_t live_workers = 0;
};

/// What one worker has done, by the name it gives (WorkerOptions::name), across its connections.
struct WorkerStats {
  /// The name it gives (WorkerOptions::name).
  std::string name;
  /// Updates it pushed that the server took (non-finite ones refused are not counted).
  std::int64_t pushes = 0;
  /// Samples its pushes were computed on.
  std::int64_t samples = 0;
  /// samples over the time from its first push to its last (0 until it has pushed twice).
  double samples_per_s = 0.0;
  /// Pushes handed to training (synchronous: as part of a round's mean).
  std::int64_t applied = 0;
  /// Versions the parameters had moved on past a push's base when it was handed to training,
  /// averaged over its applied pushes (pushes refused as too stale are not in it).
  double mean_staleness = 0.0;
  /// The largest of those.
  std::int64_t max_staleness = 0;
  /// bounded_staleness: its pushes refused as too old.
  std::int64_t stale_dropped = 0;
  /// Connections on which it pushed at least once.
  std::int64_t connections = 0;
  /// connections - 1: how often it came back (its connection broke, or its process restarted
  /// under the same name).
  std::int64_t reconnects = 0;
  /// Whether it is connected now.
  bool connected = false;
};

/// Holds a Model's parameters and applies the gradients Workers send over TCP (see the file comment).
class ParameterServer {
 public:
  /// Binds and starts accepting on `executor`. ValueError for a non-loopback address without
  /// a secret or a bad option; IoError when the address cannot be bound; FormatError for a
  /// checkpoint that does not fit the model when resuming.
  ParameterServer(asio::any_io_executor executor, Model& model, ParameterServerOptions options = {});
  ~ParameterServer();
  ParameterServer(const ParameterServer&) = delete;
  ParameterServer& operator=(const ParameterServer&) = delete;

  /// The bound port.
  std::uint16_t port() const;
  /// The parameters' version: the number of updates applied since the start of training.
  std::int64_t version() const;
  /// Counters of what the server has done.
  ParameterServerStats stats() const;
  /// Each worker's figures, by name, since this server started.
  std::vector<WorkerStats> worker_stats() const;

  /// The next update to apply (see UpdateMode), or nullopt when max_version is reached or the
  /// server was closed. TimeoutError after idle_timeout without any update, and the server
  /// closes: it never goes on accepting workers whose updates no one answers.
  asio::awaitable<std::optional<Update>> next_update();
  /// Applies it with the model's optimizer, advances the version, checkpoints when due.
  void apply_update(const Update& update);
  /// Sends the current parameters to every worker waiting for them; a worker that cannot take
  /// them in time is dropped.
  asio::awaitable<void> broadcast_parameters();
  /// After training: waits until every worker has heard that it is over and left, at most
  /// `timeout`, then closes.
  asio::awaitable<void> drain(std::chrono::milliseconds timeout);
  /// Ends training at the current version: the next next_update tells every worker and returns
  /// nullopt, as when max_version is reached (for a caller that stops on its own criterion,
  /// e.g. a test accuracy).
  void finish();
  /// Saves the checkpoint now (no-op without a checkpoint path).
  void save_checkpoint() const;
  /// Stops accepting and disconnects every worker.
  void close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace dm::dist
