// The worker: gradients from its batches, pushed to the server; parameters pulled back;
// reconnection with exponential backoff when the connection breaks.
#include "democratising/distributed/worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "democratising/base/error.hpp"
#include "distributed/frame_io.hpp"
#include "distributed/gradient_compression.hpp"
#include "distributed/handshake.hpp"
#include "distributed/worker_ledger.hpp"

namespace dm::dist {
namespace {

constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

/// The server said no: retrying with the same secret cannot help.
class Refused : public DistributedError {
 public:
  using DistributedError::DistributedError;
};

// Host name and process id: distinct for processes running at once, which is what the server's
// per-worker lines need by default (a restarted process that should continue its line gives a
// name of its own).
std::string default_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "worker");
  std::string name = std::string(host) + "-" + std::to_string(::getpid());
  for (char& c : name)
    if (c < 0x21 || c > 0x7E) c = '_';
  return name.substr(0, 128);
}

}  // namespace

struct Worker::Impl {
  Impl(asio::any_io_executor ex, Model& m, WorkerOptions o) : executor(std::move(ex)), model(m), options(std::move(o)) {
    flat = model.module().flat_parameters();
    if (model.parameter_layout()->dtype() != DType::f32)
      throw DTypeError("[Worker] parameters must be f32 (frames carry f32), got " +
                       std::string(dtype_name(model.parameter_layout()->dtype())));
    if (options.name.empty()) options.name = default_name();
    try {
      check_worker_name(options.name);
    } catch (const FormatError& e) {
      throw ValueError(std::string("[Worker] ") + e.what());
    }
    parameters_expected = {"parameters", flat.numel(), false};
    if (options.compression == Compression::bf16) {
      residual = Tensor::zeros(Shape{flat.numel()}, DType::f32);
      sent = Tensor::empty(Shape{flat.numel()}, DType::bf16);
    }
  }

  asio::any_io_executor executor;
  Model& model;
  WorkerOptions options;
  Tensor flat;
  // Parameters arrive straight into a tensor of their own, then go into the model under its
  // lock. (A member, not a temporary in the co_await: GCC 12 mishandles temporaries with
  // destructors there.)
  wire::TensorExpectation parameters_expected;
  std::optional<asio::ip::tcp::socket> socket;
  std::optional<wire::Sealing> sealing;  // with a secret, every frame after the handshake
  std::int64_t version = -1;
  double last_loss = 0.0;
  std::int64_t last_samples = 0;
  Tensor residual;  // compressed only: error feedback, f32 in the layout
  Tensor sent;      // compressed only: the bf16 update of the last send
  bool finished = false;
  int connections = 0;

  void load(const wire::TensorFrame& frame) {
    const wire::TensorPayload& p = frame.tensor;
    version = wire::metadata_int(p.metadata, "version");
    // The frame is a block in the model's layout: one update through the model's Parameters
    // handle (under its write lock) sets every parameter.
    model.parameters().assign(p.tensor);
  }

  // Applies the server's answer to an update or a handshake; false when training is over.
  bool take(const wire::TensorFrame& frame) {
    switch (frame.type) {
      case wire::MessageType::parameters: load(frame); return true;
      case wire::MessageType::done: finished = true; return false;
      case wire::MessageType::refused:
        throw Refused("[Worker] the server refused us: " +
                      std::string(reinterpret_cast<const char*>(frame.payload.data()), frame.payload.size()));
      default:
        throw FormatError(std::string("[Worker] unexpected ") + wire::message_name(frame.type) + " from the server");
    }
  }

  asio::awaitable<void> connect_once() {
    auto s = co_await wire::connect(options.host, options.port, options.connect_timeout);
    std::optional<wire::Sealing> keys = co_await wire::answer_challenge(s, options.secret, options.connect_timeout, options.wire);
    // A server without the secret cannot seal this: its welcome fails to open.
    const wire::TensorFrame welcome = co_await wire::read_tensor_frame(s, options.reply_timeout, options.max_frame_bytes,
                                                                       keys ? &*keys : nullptr, parameters_expected);
    take(welcome);
    socket.emplace(std::move(s));
    sealing = std::move(keys);
    ++connections;
  }

  asio::awaitable<void> connect() {
    disconnect();
    auto backoff = options.initial_backoff;
    std::string last_error;
    // A welcome that does not open (another secret or wire protection, or tampering) says more
    // than the attempts after it, which may only find the server gone: it is kept to be named.
    std::string unopened;
    for (int attempt = 0; attempt < std::max(1, options.connect_attempts); ++attempt) {
      try {
        co_await connect_once();
        co_return;
      } catch (const Refused&) {
        throw;
      } catch (const wire::UnopenedFrame& e) {
        last_error = unopened = e.what();
      } catch (const Error& e) {
        last_error = e.what();
      }
      asio::steady_timer pause(executor);
      pause.expires_after(backoff);
      co_await pause.async_wait(tuple_awaitable);
      backoff = std::min(backoff * 2, options.max_backoff);
    }
    throw DistributedError("[Worker] cannot reach the server at " + options.host + ":" + std::to_string(options.port) +
                           " after " + std::to_string(options.connect_attempts) + " attempts: " + last_error +
                           (unopened.empty() || unopened == last_error
                                ? std::string()
                                : "; an earlier attempt reached it but could not open its welcome: " + unopened));
  }

  void disconnect() {
    if (!socket) return;
    asio::error_code ignored;
    socket->close(ignored);
    socket.reset();
    sealing.reset();
  }

  wire::Sealing* seal() { return sealing ? &*sealing : nullptr; }


  wire::TensorPayloadParts update_payload(const Tensor& body) const {
    return wire::encode_tensor_parts("gradient", body,
                                     {{"base_version", std::to_string(version)},
                                      {"loss", std::to_string(last_loss)},
                                      {"worker", options.name},
                                      {"samples", std::to_string(last_samples)}});
  }
};

Worker::Worker(asio::any_io_executor executor, Model& model, WorkerOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), model, std::move(options))) {}

Worker::~Worker() = default;

asio::awaitable<void> Worker::connect() { co_await impl_->connect(); }

Gradients Worker::compute_gradients(const Batch& batch) {
  Tensor loss;
  Gradients grads = impl_->model.compute_gradients(batch.x, batch.y, &loss);
  impl_->last_loss = loss.item<float>();
  impl_->last_samples = batch.x.dim() > 0 ? batch.x.size(0) : 0;
  return grads;
}

asio::awaitable<void> Worker::send_update(const Gradients& gradients) {
  Impl& s = *impl_;
  if (s.finished) co_return;
  if (!s.socket) co_await s.connect();
  if (s.finished) co_return;
  Tensor body = gradients.flat;
  if (s.options.compression == Compression::bf16) {
    if (!body.defined() || body.dtype() != DType::f32 || body.numel() != s.flat.numel())
      throw ShapeError("[Worker::send_update] the gradient does not match the model's " + std::to_string(s.flat.numel()) +
                       " f32 parameters");
    // Rounded once: a resend after a reconnect carries the same bf16 values.
    compression::compress_with_error_feedback(body.contiguous(), s.residual, s.sent);
    body = s.sent;
  }
  const auto payload = s.update_payload(body);
  try {
    co_await wire::write_frame(*s.socket, wire::MessageType::update, payload.head, payload.body(), s.options.reply_timeout,
                               s.seal());
  } catch (const Refused&) {
    throw;
  } catch (const Error&) {
    // The server went away. Its replacement has its own parameters; this gradient was computed
    // on ours, close enough for asynchronous SGD to use.
    s.disconnect();
  }
  if (!s.socket) {
    co_await s.connect();
    if (s.finished) co_return;
    const auto retry = s.update_payload(body);
    co_await wire::write_frame(*s.socket, wire::MessageType::update, retry.head, retry.body(), s.options.reply_timeout,
                             s.seal());
  }
}

asio::awaitable<bool> Worker::sync_parameters() {
  Impl& s = *impl_;
  if (s.finished) co_return false;
  if (!s.socket) {
    co_await s.connect();
    co_return !s.finished;
  }
  bool reconnect = false;
  try {
    const wire::TensorFrame frame = co_await wire::read_tensor_frame(*s.socket, s.options.reply_timeout,
                                                                     s.options.max_frame_bytes, s.seal(),
                                                                     s.parameters_expected);
    co_return s.take(frame);
  } catch (const Refused&) {
    throw;
  } catch (const DistributedError&) {
    reconnect = true;  // the connection broke: the server restarted or dropped us
  }
  if (reconnect) {
    co_await s.connect();  // the welcome carries the server's parameters
  }
  co_return !s.finished;
}

asio::awaitable<void> Worker::leave() {
  Impl& s = *impl_;
  if (s.socket) {
    try {
      co_await wire::write_frame(*s.socket, wire::MessageType::bye, {}, s.options.connect_timeout, s.seal());
    } catch (const Error&) {
      // Leaving anyway.
    }
    s.disconnect();
  }
}

std::int64_t Worker::version() const { return impl_->version; }
double Worker::last_loss() const { return impl_->last_loss; }
bool Worker::finished() const { return impl_->finished; }
int Worker::connections() const { return impl_->connections; }
const std::string& Worker::name() const { return impl_->options.name; }
Tensor Worker::compression_residual() const { return impl_->residual.defined() ? impl_->residual.clone() : Tensor(); }

}  // namespace dm::dist
