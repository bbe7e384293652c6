#pragma once
// dm::dist::Worker: computes gradients on its data, pushes them to a ParameterServer and
// pulls the parameters back.
//
//   dm::dist::Worker worker(io.get_executor(), model, {.port = 5555, .secret = secret});
//   co_await worker.connect();
//   for (const dm::Batch& batch : loader) {
//     dm::Gradients grads = worker.compute_gradients(batch);
//     co_await worker.send_update(grads);
//     if (!co_await worker.sync_parameters()) break;  // the server has finished
//   }
//
// When the connection breaks (the server restarted from its checkpoint, say) the worker
// reconnects with exponential backoff and takes the server's parameters as they are.
//
// With `compression = Compression::bf16` each update travels as bf16 (half the bytes) with
// error feedback: what rounding loses is added to the next update before it is rounded, so the
// updates sent add up to the true ones short only of the last rounding (as DDP's buckets).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "democratising/data/batch.hpp"
#include "democratising/distributed/distributed_trainer.hpp"
#include "democratising/distributed/wire_protection.hpp"
#include "democratising/model/model.hpp"

namespace dm::dist {

/// Where a Worker finds its server, and its timeouts and retries.
struct WorkerOptions {
  /// The server's address.
  std::string host = "127.0.0.1";
  /// The server's port.
  std::uint16_t port = 0;
  /// The shared secret of the server's HMAC challenge (empty when the server has none).
  std::string secret;
  /// With a secret: how frames are protected (the server's choice; see WireProtection).
  WireProtection wire = WireProtection::sealed;
  /// How long one connection attempt, authentication included, may take.
  std::chrono::milliseconds connect_timeout{2000};
  /// How long to wait for the parameters after an update (a synchronous round waits for the
  /// slowest worker).
  std::chrono::milliseconds reply_timeout{60000};
  /// Reconnection: attempts, and the first and largest pause between them.
  int connect_attempts = 40;
  /// The pause after the first failed attempt; each next pause doubles.
  std::chrono::milliseconds initial_backoff{50};
  /// The longest pause between attempts.
  std::chrono::milliseconds max_backoff{1000};
  /// Largest frame accepted from the server; the parameters must fit.
  std::size_t max_frame_bytes = std::size_t{512} << 20;
  /// Names this worker in the server's per-worker figures (WorkerStats), across reconnects:
  /// 1..128 printable characters without spaces. Empty: this host's name and process id.
  std::string name;
  /// What form updates travel in: f32 as computed, or bf16 with error feedback.
  Compression compression = Compression::none;
};

/// Computes gradients on its own data, pushes them to a ParameterServer and pulls the
/// parameters back (see the file comment).
class Worker {
 public:
  /// Does not connect yet; `model` must have the server's architecture.
  Worker(asio::any_io_executor executor, Model& model, WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Connects, authenticates and loads the server's parameters, retrying with backoff.
  /// DistributedError when the server refuses the secret (no retry) or stays unreachable.
  asio::awaitable<void> connect();
  /// Forward and backward on this batch with the current parameters (no network).
  Gradients compute_gradients(const Batch& batch);
  /// Pushes the gradients, tagged with the version they were computed on and the batch loss.
  asio::awaitable<void> send_update(const Gradients& gradients);
  /// Waits for the parameters that answer the last update and loads them into the model;
  /// false when the server has finished training.
  asio::awaitable<bool> sync_parameters();
  /// Tells the server this worker is leaving and closes the connection.
  asio::awaitable<void> leave();

  /// The version of the parameters the model holds now.
  std::int64_t version() const;
  /// The loss of the last compute_gradients.
  double last_loss() const;
  /// Whether the server has said that training is over.
  bool finished() const;
  /// How many times the connection was (re)established.
  int connections() const;
  /// The name the server knows this worker by.
  const std::string& name() const;
  /// Compressed only: what rounding has lost and the next update will carry (f32, in the
  /// model's parameter layout); undefined without compression.
  Tensor compression_residual() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::dist
