// The parameter server's verbs: handing out updates by mode, applying them, answering workers.
#include "democratising/distributed/parameter_server.hpp"

#include <filesystem>
#include <set>

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/address.hpp>
#include <asio/use_awaitable.hpp>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "distributed/frame_io.hpp"
#include "distributed/parameter_server_state.hpp"

namespace dm::dist {
namespace {

constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

asio::ip::address bind_address(const ParameterServerOptions& o) {
  const std::string host = o.address == "localhost" ? "127.0.0.1" : o.address;
  asio::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw ValueError("[ParameterServer] '" + o.address + "' is not an IP address");
  if (o.secret.empty() && !address.is_loopback())
    throw ValueError("[ParameterServer] refusing to listen on " + o.address +
                     " without a secret: give a shared secret or bind a loopback address");
  return address;
}

}  // namespace

UpdateMode parse_update_mode(const std::string& name) {
  if (name == "sync" || name == "synchronous") return UpdateMode::synchronous;
  if (name == "async" || name == "asynchronous") return UpdateMode::asynchronous;
  if (name == "bounded" || name == "bounded_staleness") return UpdateMode::bounded_staleness;
  throw ValueError("[ParameterServer] unknown update mode '" + name + "' (sync, async, bounded)");
}

ParameterServer::Impl::Impl(asio::any_io_executor ex, Model& m, ParameterServerOptions o)
    : executor(std::move(ex)), model(m), options(std::move(o)), acceptor(executor), wake(executor) {
  if (options.max_staleness < 0) throw ValueError("[ParameterServer] max_staleness must be >= 0");
  if (options.max_version < 0) throw ValueError("[ParameterServer] max_version must be >= 0");
  if (options.max_nonfinite_updates < 1) throw ValueError("[ParameterServer] max_nonfinite_updates must be >= 1");
  layout = model.parameter_layout();
  flat = model.module().flat_parameters();
  if (layout->dtype() != DType::f32)
    throw DTypeError("[ParameterServer] parameters must be f32 (frames carry f32), got " +
                     std::string(dtype_name(layout->dtype())));
  numel = layout->numel();
  if (static_cast<std::size_t>(numel) * 4 + 4096 > options.max_frame_bytes)
    throw ValueError("[ParameterServer] max_frame_bytes is too small for " + std::to_string(numel) + " parameters");
  if (options.resume && !options.checkpoint.empty() && std::filesystem::exists(options.checkpoint)) {
    const auto metadata = model.load_checkpoint(options.checkpoint);
    version = wire::metadata_int(metadata, "ps_version");
  }
  stats.version = version;
  const asio::ip::tcp::endpoint endpoint(bind_address(options), options.port);
  asio::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw IoError("[ParameterServer] cannot listen on " + options.address + ":" + std::to_string(options.port) + ": " +
                  ec.message());
}

wire::TensorPayloadParts ParameterServer::Impl::parameters_payload() const {
  return wire::encode_tensor_parts("parameters", flat, {{"version", std::to_string(version)}});
}

Gradients ParameterServer::Impl::as_gradients(const Tensor& flat_gradient) const {
  Gradients grads;
  grads.flat = flat_gradient;
  grads.layout = layout;
  grads.tensors = layout->named_views(flat_gradient);
  return grads;
}

ParameterServer::ParameterServer(asio::any_io_executor executor, Model& model, ParameterServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), model, std::move(options))) {
  impl_->start_accepting();
}

ParameterServer::~ParameterServer() { close(); }

std::uint16_t ParameterServer::port() const {
  asio::error_code ec;
  const auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? impl_->options.port : endpoint.port();
}

std::int64_t ParameterServer::version() const { return impl_->version; }

ParameterServerStats ParameterServer::stats() const { return impl_->stats; }

std::vector<WorkerStats> ParameterServer::worker_stats() const {
  std::set<std::string> connected;
  for (const auto& session : impl_->live)
    if (!session->worker.empty()) connected.insert(session->worker);
  return impl_->ledger.snapshot(connected);
}

void ParameterServer::finish() {
  impl_->finish_requested = true;
  impl_->notify();
}

asio::awaitable<std::optional<Update>> ParameterServer::next_update() {
  auto self = impl_;
  Impl& s = *self;
  const auto deadline = std::chrono::steady_clock::now() + s.options.idle_timeout;
  for (;;) {
    if (s.closed) co_return std::nullopt;
    if (s.finished || s.finish_requested || (s.options.max_version > 0 && s.version >= s.options.max_version)) {
      if (!s.finished) {
        s.finished = true;
        asio::error_code ignored;
        s.acceptor.close(ignored);
        save_checkpoint();
      }
      // Everyone waiting hears that training is over.
      std::vector<std::shared_ptr<ServerSession>> waiting = std::exchange(s.awaiting, {});
      for (auto& p : std::exchange(s.pending, {})) waiting.push_back(p.session);
      for (auto& session : waiting) co_await s.answer(session, wire::MessageType::done);
      co_return std::nullopt;
    }
    if (!s.quorum_reached) {
      // Updates wait in `pending` until enough workers have joined.
    } else if (s.options.mode == UpdateMode::synchronous) {
      // A round is complete when every live worker has one update in (each waits for its answer).
      if (!s.live.empty() && s.pending.size() >= s.live.size()) {
        Tensor sum = s.layout->allocate();
        float* out = static_cast<float*>(sum.data_ptr());
        double loss = 0.0;
        for (const PendingUpdate& p : s.pending) {
          const float* g = static_cast<const float*>(p.gradient.data_ptr());
          for (std::int64_t i = 0; i < s.numel; ++i) out[i] += g[i];
          loss += p.loss;
          s.ledger.applied(p.worker, s.version - p.base_version);
          s.awaiting.push_back(p.session);
        }
        const auto n = static_cast<std::int64_t>(s.pending.size());
        const float inverse = 1.0f / static_cast<float>(n);
        for (std::int64_t i = 0; i < s.numel; ++i) out[i] *= inverse;
        s.pending.clear();
        co_return Update{s.as_gradients(sum), s.version, n, loss / static_cast<double>(n)};
      }
    } else {
      while (!s.pending.empty()) {
        PendingUpdate p = std::move(s.pending.front());
        s.pending.pop_front();
        const std::int64_t staleness = s.version - p.base_version;
        if (s.options.mode == UpdateMode::bounded_staleness && staleness > s.options.max_staleness) {
          // Too old to help: the worker gets today's parameters instead.
          ++s.stats.stale_dropped;
          s.ledger.stale_dropped(p.worker);
          const auto payload = s.parameters_payload();
          co_await s.answer(p.session, wire::MessageType::parameters, payload.head, payload.body());
          continue;
        }
        s.ledger.applied(p.worker, staleness);
        s.awaiting.push_back(p.session);
        co_return Update{s.as_gradients(p.gradient), p.base_version, 1, p.loss};
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      const std::string what = "[ParameterServer::next_update] no update for " +
                               std::to_string(s.options.idle_timeout.count()) + " ms (" +
                               std::to_string(s.live.size()) + " live workers)";
      // The server ends here rather than half-living on: still accepting and welcoming
      // workers whose updates no one will ever answer would hold them for nothing. What it
      // learnt so far is kept, for a restart with resume.
      save_checkpoint();
      close();
      throw TimeoutError(what);
    }
    s.wake.expires_at(deadline);
    co_await s.wake.async_wait(tuple_awaitable);
  }
}

void ParameterServer::apply_update(const Update& update) {
  Impl& s = *impl_;
  if (!update.gradients.flat.defined() || update.gradients.flat.numel() != s.numel)
    throw ShapeError("[ParameterServer::apply_update] the update does not match the model's " + std::to_string(s.numel) +
                     " parameters");
  s.model.apply_gradients(update.gradients);
  ++s.version;
  s.stats.version = s.version;
  if (s.options.checkpoint_every > 0 && s.version % s.options.checkpoint_every == 0) save_checkpoint();
}

asio::awaitable<void> ParameterServer::broadcast_parameters() {
  auto self = impl_;
  std::vector<std::shared_ptr<ServerSession>> targets = std::exchange(self->awaiting, {});
  if (targets.empty()) co_return;
  // The head is made once for every receiver; the body is sent from the parameters' own
  // memory, which no one changes until the last write is done (all on this executor).
  const auto payload = self->parameters_payload();
  for (auto& session : targets) co_await self->answer(session, wire::MessageType::parameters, payload.head, payload.body());
}

asio::awaitable<void> ParameterServer::drain(std::chrono::milliseconds timeout) {
  auto self = impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!self->closed && !self->live.empty() && std::chrono::steady_clock::now() < deadline) {
    self->wake.expires_at(deadline);
    co_await self->wake.async_wait(tuple_awaitable);
  }
  close();
}

void ParameterServer::save_checkpoint() const {
  const Impl& s = *impl_;
  if (s.options.checkpoint.empty()) return;
  auto metadata = s.options.checkpoint_metadata;
  metadata["ps_version"] = std::to_string(s.version);
  s.model.save_checkpoint(s.options.checkpoint, metadata);
}

void ParameterServer::close() {
  Impl& s = *impl_;
  if (s.closed) return;
  s.closed = true;
  asio::error_code ignored;
  s.acceptor.close(ignored);
  for (const auto& session : s.handshaking) {
    session->closing = true;
    session->socket.close(ignored);
  }
  for (const auto& session : s.live) {
    session->closing = true;
    session->socket.close(ignored);
    s.signal(*session);
  }
  s.notify();
}

}  // namespace dm::dist
