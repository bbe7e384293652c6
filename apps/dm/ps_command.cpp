// dm ps serve / dm ps work.
//
// The server prints "dm ps: listening on HOST:PORT", then "version V loss L workers W" and a
// line per worker (ps_report.hpp) every few versions, "version V test_accuracy A ..." every
// --eval-every versions, and "dm ps: finished at version V" followed by each worker's final
// line and the total samples/s; a worker prints "dm ps: worker done after N steps at version
// V". A server that receives no update for its idle timeout saves its checkpoint and exits
// with an error (code 1): it never lingers half alive. The shared secret comes from
// --secret-file or DM_PS_SECRET, never from the command line, where other users could read it.
#include "ps_command.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
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
#include "ps_report.hpp"
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

using Clock = std::chrono::steady_clock;

// What the serving loop reports to, beside stdout.
struct ServeReport {
  const PsOptions& options;
  Model& model;
  std::int64_t report_every = 1;
  const data::DataLoader* test = nullptr;  // when evaluating
  MetricsFile* metrics = nullptr;
  Clock::time_point started;  // the first update taken
  Clock::time_point ended;    // the last one applied

  double seconds(Clock::time_point at) const { return std::chrono::duration<double>(at - started).count(); }

  void workers(const dist::ParameterServer& server, bool final) const {
    const auto all = server.worker_stats();
    for (const dist::WorkerStats& w : all) std::printf("%s%s\n", final ? "dm ps: final " : "", worker_line(w).c_str());
    std::fflush(stdout);
    if (metrics) metrics->write_line(workers_record(all, server.version(), seconds(final ? ended : Clock::now()), final));
  }

  // True when the target accuracy is reached.
  bool evaluate(const dist::ParameterServer& server) const {
    const EvalResult r = model.evaluate(*test);
    const double at = seconds(Clock::now());
    std::printf("version %lld test_accuracy %.4f test_loss %.4f seconds %.3f\n", static_cast<long long>(server.version()),
                r.accuracy, r.loss, at);
    std::fflush(stdout);
    if (metrics) metrics->write_line(eval_record(server.version(), at, r.loss, r.accuracy));
    return options.target_accuracy > 0.0 && r.accuracy >= options.target_accuracy;
  }
};

asio::awaitable<void> serve(dist::ParameterServer& server, ServeReport& report) {
  double loss_sum = 0.0;
  std::int64_t counted = 0;
  bool first = true;
  while (auto update = co_await server.next_update()) {
    if (first) report.started = Clock::now();
    first = false;
    server.apply_update(*update);
    report.ended = Clock::now();
    loss_sum += update->loss;
    ++counted;
    if (server.version() % report.report_every == 0) {
      std::printf("version %lld loss %.4f workers %lld\n", static_cast<long long>(server.version()),
                  loss_sum / static_cast<double>(counted), static_cast<long long>(server.stats().live_workers));
      report.workers(server, false);
      loss_sum = 0.0;
      counted = 0;
    }
    if (report.test && server.version() % report.options.eval_every == 0 && report.evaluate(server)) {
      std::printf("dm ps: reached test accuracy %.4f at version %lld\n", report.options.target_accuracy,
                  static_cast<long long>(server.version()));
      server.finish();
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
  options.wire = dist::parse_wire_protection(o.wire);
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
  if (o.eval_every < 0) throw UsageError("[dm ps] --eval-every must be >= 0");
  if (o.target_accuracy < 0.0 || o.target_accuracy > 1.0) throw UsageError("[dm ps] --target-accuracy must be in [0, 1]");
  if (o.target_accuracy > 0.0 && o.eval_every == 0) throw UsageError("[dm ps] --target-accuracy needs --eval-every");
  std::optional<data::DataLoader> test;
  if (o.eval_every > 0) {
    check_model_fits_data(model.module(), o.model, "dm ps serve");
    test.emplace(test_loader(o.data, 1000));
  }
  std::unique_ptr<MetricsFile> metrics;
  if (!o.metrics.empty()) {
    metrics = std::make_unique<MetricsFile>(o.metrics, /*append=*/false);
    const RunConfig config{{"model", o.model},
                           {"mode", o.mode},
                           {"max_staleness", o.max_staleness},
                           {"steps", o.steps},
                           {"workers", o.workers},
                           {"optimizer", o.optimizer},
                           {"lr", o.lr},
                           {"momentum", o.momentum},
                           {"eval_every", o.eval_every},
                           {"target_accuracy", o.target_accuracy}};
    metrics->write_line(to_json_line(config, kPsMetricsFormat));
  }
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
  ServeReport report{o, model, std::max<std::int64_t>(1, o.steps / 20), test ? &*test : nullptr, metrics.get(), {}, {}};
  report.started = report.ended = Clock::now();
  run_to_completion(io, serve(server, report));
  const auto stats = server.stats();
  std::printf(
      "dm ps: finished at version %lld (dropped %lld workers, rejected %lld peers, %lld stale updates, "
      "%lld non-finite updates)\n",
      static_cast<long long>(stats.version), static_cast<long long>(stats.workers_dropped),
      static_cast<long long>(stats.peers_rejected), static_cast<long long>(stats.stale_dropped),
      static_cast<long long>(stats.nonfinite_rejected));
  report.workers(server, true);
  std::int64_t samples = 0;
  for (const dist::WorkerStats& w : server.worker_stats()) samples += w.samples;
  const double seconds = report.seconds(report.ended);
  std::printf("dm ps: %lld samples in %.3f s: %.1f samples/s\n", static_cast<long long>(samples), seconds,
              seconds > 0.0 ? static_cast<double>(samples) / seconds : 0.0);
  if (metrics) metrics->write_line(summary_record(server.version(), seconds, samples));
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
  options.wire = dist::parse_wire_protection(o.wire);
  options.name = o.name;
  if (o.compress != "none" && o.compress != "bf16") throw UsageError("[dm ps] --compress must be none or bf16");
  options.compression = o.compress == "bf16" ? dist::Compression::bf16 : dist::Compression::none;
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
    sub->add_option("--wire", o.wire,
                    "with a secret: sealed (encrypted and authenticated) or authenticated (readable on the path; "
                    "its MAC costs a third of sealing's cipher); both ends alike")
        ->check(CLI::IsMember({"sealed", "authenticated"}));
    sub->add_option("--model", o.model, "network, e.g. mlp:784-128-10 (the same on both sides)");
    sub->add_option("--data", o.data, "Fashion-MNIST directory (serve: its test split, for --eval-every)");
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
  serve->add_option("--metrics", o.metrics, "JSON-lines file of per-worker figures and evaluations");
  serve->add_option("--eval-every", o.eval_every, "evaluate on the test split every N versions (0: never)");
  serve->add_option("--target-accuracy", o.target_accuracy, "end training once the test accuracy reaches this");
  CLI::App* work = ps->get_subcommand("work");
  work->add_option("--limit", o.limit, "use only the first N training samples");
  work->add_option("--batch-size", o.batch_size, "batch size");
  work->add_option("--seed", o.seed, "shuffling seed (give each worker its own)");
  work->add_option("--max-steps", o.max_steps, "leave after this many steps (0: until the server finishes)");
  work->add_option("--step-delay-ms", o.step_delay_ms, "pause after each step");
  work->add_option("--name", o.name, "this worker's name in the server's figures (keep it across restarts)");
  work->add_option("--compress", o.compress, "none or bf16: updates as bf16 with error feedback")
      ->check(CLI::IsMember({"none", "bf16"}));
  return ps;
}

int run_ps(const CLI::App& ps, const PsOptions& o) {
  if (ps.get_subcommand("serve")->parsed()) return run_serve(o);
  return run_work(o);
}

}  // namespace dm::cli
