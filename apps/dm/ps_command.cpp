// dm ps serve / dm ps work.
//
// The server prints "dm ps: listening on HOST:PORT", then "version V loss L workers W" every
// few versions, and "dm ps: finished at version V"; a worker prints "dm ps: worker done after
// N steps at version V". A server that receives no update for its idle timeout saves its
// checkpoint and exits with an error (code 1): it never lingers half alive. The shared secret
// comes from --secret-file or DM_PS_SECRET, never from the command line, where other users
// could read it.
#include "ps_command.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "commands.hpp"
#include "democratising/distributed/parameter_server.hpp"
#include "democratising/distributed/worker.hpp"
#include "democratising/base/error.hpp"
#include "democratising/io/file.hpp"
#include "setup.hpp"

namespace dm::cli {
namespace {

std::string read_secret(const PsOptions& o) {
  if (!o.secret_file.empty()) {
    // A regular file only, opened without blocking: a FIFO given here would hang the process.
    const std::vector<std::byte> bytes = io::read_file(o.secret_file, std::size_t{1} << 20);
    std::string secret(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) throw UsageError("[dm ps] the secret file '" + o.secret_file + "' is empty");
    return secret;
  }
  const char* env = std::getenv("DM_PS_SECRET");
  return env ? std::string(env) : std::string();
}

// Runs one coroutine to completion on a fresh io_context, rethrowing what it throws.
void run_to_completion(asio::io_context& io, asio::awaitable<void> task) {
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

asio::awaitable<void> serve(dist::ParameterServer& server, std::int64_t report_every) {
  double loss_sum = 0.0;
  std::int64_t counted = 0;
  while (auto update = co_await server.next_update()) {
    server.apply_update(*update);
    loss_sum += update->loss;
    ++counted;
    if (server.version() % report_every == 0) {
      std::printf("version %lld loss %.4f workers %lld\n", static_cast<long long>(server.version()),
                  loss_sum / static_cast<double>(counted), static_cast<long long>(server.stats().live_workers));
      std::fflush(stdout);
      loss_sum = 0.0;
      counted = 0;
    }
    co_await server.broadcast_parameters();
  }
  co_await server.drain(std::chrono::milliseconds(10000));
}

int run_serve(const PsOptions& o) {
  if (o.port < 0 || o.port > 65535) throw UsageError("[dm ps] --port must be in 0..65535");
  Model model = build_model(o.model, o.optimizer, o.lr, o.momentum);
  dist::ParameterServerOptions options;
  options.address = o.host;
  options.port = static_cast<std::uint16_t>(o.port);
  options.secret = read_secret(o);
  options.mode = dist::parse_update_mode(o.mode);
  options.max_staleness = o.max_staleness;
  options.max_version = o.steps;
  options.min_workers = static_cast<std::size_t>(std::max<std::int64_t>(1, o.workers));
  options.checkpoint = o.checkpoint;
  options.checkpoint_every = o.checkpoint_every;
  options.resume = o.resume;
  // What dm eval needs to rebuild the model and its optimizer's state from the file.
  options.checkpoint_metadata = {{"model", o.model}, {"optimizer", o.optimizer}, {"momentum", exact(o.momentum)}};
  options.worker_timeout = std::chrono::milliseconds(o.worker_timeout_ms);
  if (o.idle_timeout_ms < 0) throw UsageError("[dm ps] --idle-timeout-ms must be >= 0");
  options.idle_timeout =
      std::chrono::milliseconds(o.idle_timeout_ms > 0 ? o.idle_timeout_ms : std::max(60000, 3 * o.worker_timeout_ms));
  asio::io_context io;
  dist::ParameterServer server(io.get_executor(), model, options);
  std::printf("dm ps: listening on %s:%u (%s, version %lld)\n", o.host.c_str(), server.port(), o.mode.c_str(),
              static_cast<long long>(server.version()));
  std::fflush(stdout);
  if (!o.port_file.empty()) {
    // Written whole then renamed, so a reader never sees half a number.
    const std::string tmp = o.port_file + ".tmp";
    { std::ofstream(tmp) << server.port() << "\n"; }
    std::rename(tmp.c_str(), o.port_file.c_str());
  }
  run_to_completion(io, serve(server, std::max<std::int64_t>(1, o.steps / 20)));
  const auto stats = server.stats();
  std::printf(
      "dm ps: finished at version %lld (dropped %lld workers, rejected %lld peers, %lld stale updates, "
      "%lld non-finite updates)\n",
      static_cast<long long>(stats.version), static_cast<long long>(stats.workers_dropped),
      static_cast<long long>(stats.peers_rejected), static_cast<long long>(stats.stale_dropped),
      static_cast<long long>(stats.nonfinite_rejected));
  return 0;
}

asio::awaitable<void> work(dist::Worker& worker, data::DataLoader& loader, const PsOptions& o, std::int64_t& steps) {
  co_await worker.connect();
  asio::steady_timer delay(co_await asio::this_coro::executor);
  for (;;) {
    for (const Batch& batch : loader) {
      co_await worker.send_update(worker.compute_gradients(batch));
      const bool more = co_await worker.sync_parameters();
      if (!more) co_return;
      ++steps;
      if (o.max_steps > 0 && steps >= o.max_steps) {
        co_await worker.leave();
        co_return;
      }
      if (o.step_delay_ms > 0) {
        delay.expires_after(std::chrono::milliseconds(o.step_delay_ms));
        co_await delay.async_wait(asio::use_awaitable);
      }
    }
  }
}

int run_work(const PsOptions& o) {
  if (o.port <= 0 || o.port > 65535) throw UsageError("[dm ps] --port must be in 1..65535");
  Model model = build_model(o.model, "sgd", 0.0, 0.0);  // the server's optimizer does the updates
  data::DataLoader loader = train_loader(o.data, o.limit, o.batch_size, o.seed);
  dist::WorkerOptions options;
  options.host = o.host;
  options.port = static_cast<std::uint16_t>(o.port);
  options.secret = read_secret(o);
  asio::io_context io;
  dist::Worker worker(io.get_executor(), model, options);
  std::int64_t steps = 0;
  run_to_completion(io, work(worker, loader, o, steps));
  std::printf("dm ps: worker done after %lld steps at version %lld (%d connections)\n", static_cast<long long>(steps),
              static_cast<long long>(worker.version()), worker.connections());
  return 0;
}

}  // namespace

CLI::App* add_ps_command(CLI::App& app, PsOptions& o) {
  CLI::App* ps = app.add_subcommand("ps", "parameter server training over TCP");
  ps->require_subcommand(1);
  for (CLI::App* sub : {ps->add_subcommand("serve", "run the parameter server"),
                        ps->add_subcommand("work", "run a worker against a server")}) {
    sub->add_option("--host", o.host, "address to bind (serve) or of the server (work)");
    sub->add_option("--port", o.port, "TCP port (serve: 0 picks a free one)");
    sub->add_option("--secret-file", o.secret_file, "file holding the shared secret (else $DM_PS_SECRET)");
    sub->add_option("--model", o.model, "network, e.g. mlp:784-128-10 (the same on both sides)");
  }
  CLI::App* serve = ps->get_subcommand("serve");
  serve->add_option("--mode", o.mode, "sync, async or bounded")->check(CLI::IsMember({"sync", "async", "bounded"}));
  serve->add_option("--max-staleness", o.max_staleness, "bounded: drop updates more versions old than this");
  serve->add_option("--steps", o.steps, "parameter versions to train to");
  serve->add_option("--workers", o.workers, "workers to wait for before the first update");
  serve->add_option("--optimizer", o.optimizer, "sgd, adam or adamw");
  serve->add_option("--lr", o.lr, "learning rate");
  serve->add_option("--momentum", o.momentum, "SGD momentum");
  serve->add_option("--checkpoint", o.checkpoint, "checkpoint file");
  serve->add_option("--checkpoint-every", o.checkpoint_every, "versions between checkpoints");
  serve->add_flag("--resume", o.resume, "start from --checkpoint when it exists");
  serve->add_option("--port-file", o.port_file, "write the bound port here");
  serve->add_option("--worker-timeout-ms", o.worker_timeout_ms, "drop a worker silent for this long");
  serve->add_option("--idle-timeout-ms", o.idle_timeout_ms,
                    "exit with an error after this long without any update (0: max(60 s, 3 x worker timeout))");
  CLI::App* work = ps->get_subcommand("work");
  work->add_option("--data", o.data, "Fashion-MNIST directory");
  work->add_option("--limit", o.limit, "use only the first N training samples");
  work->add_option("--batch-size", o.batch_size, "batch size");
  work->add_option("--seed", o.seed, "shuffling seed (give each worker its own)");
  work->add_option("--max-steps", o.max_steps, "leave after this many steps (0: until the server finishes)");
  work->add_option("--step-delay-ms", o.step_delay_ms, "pause after each step");
  return ps;
}

int run_ps(const CLI::App& ps, const PsOptions& o) {
  if (ps.get_subcommand("serve")->parsed()) return run_serve(o);
  return run_work(o);
}

}  // namespace dm::cli
