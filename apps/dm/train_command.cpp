// dm train: epochs of minibatch training on Fashion-MNIST, with an evaluation on the test
// split, a summary line, a metrics line and a checkpoint after each epoch.
//
// A run resumed from a checkpoint continues bit for bit like the run that wrote it: the
// checkpoint holds the parameters, the optimizer state, the epochs done and the global
// generator's state, and the loader's order is a pure function of (seed, epoch).
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "commands.hpp"
#include "democratising/data_parallel.hpp"
#include "democratising/error.hpp"
#include "democratising/optim/optimizer.hpp"
#include "democratising/optim/schedule.hpp"
#include "democratising/random.hpp"
#include "democratising/runtime.hpp"
#include "metrics.hpp"
#include "progress.hpp"
#include "setup.hpp"

namespace dm::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// Options not given on the command line of a resumed run come from its checkpoint.
void fill_from_checkpoint(const CLI::App& command, const RunRecord& record, TrainOptions& o) {
  if (command.count("--model") == 0) o.model = record.model;
  if (command.count("--epochs") == 0) o.epochs = static_cast<int>(record.epochs_planned);
  if (command.count("--optimizer") == 0) o.optimizer = record.optimizer;
  if (command.count("--lr") == 0) o.lr = record.lr;
  if (command.count("--momentum") == 0) o.momentum = record.momentum;
  if (command.count("--schedule") == 0) o.schedule = record.schedule;
  if (command.count("--batch-size") == 0) o.batch_size = record.batch_size;
  if (command.count("--shard-size") == 0) o.shard_size = record.shard_size;
  if (command.count("--seed") == 0) o.seed = record.seed;
  if (command.count("--limit") == 0) o.limit = record.limit;
}

/// The rate of every step of the run: a pure function of the global step, so a resumed run
/// picks up the curve where it stopped.
std::shared_ptr<const optim::Schedule> make_schedule(const TrainOptions& o, std::int64_t steps_per_epoch) {
  if (o.schedule == "constant") return std::make_shared<optim::ConstantLR>(o.lr);
  return std::make_shared<optim::CosineLR>(o.lr, std::max<std::int64_t>(1, steps_per_epoch * o.epochs));
}

/// One pass over the training loader; returns the mean loss per sample and the samples seen.
/// Each step is synchronous and data-parallel (DataParallel: shards of a fixed size on the
/// pool, gradients reduced in shard order), so --threads changes the speed, never the result.
std::pair<double, std::int64_t> train_epoch(Model& model, data::DataLoader& loader, const optim::Schedule& schedule,
                                            const DataParallelOptions& options, int epoch, int epochs) {
  DataParallel trainer(model, options);
  ProgressLine progress(epoch + 1, epochs, loader.dataset().size());
  double loss_sum = 0.0;  // sum of per-sample losses, in batch order (the same on every run)
  std::int64_t seen = 0;
  std::int64_t step = static_cast<std::int64_t>(epoch) * static_cast<std::int64_t>(loader.size());
  for (const Batch& batch : loader) {
    model.optimizer().set_lr(schedule.lr_at(step++));
    Tensor loss;
    try {
      loss = trainer.train_step(batch.x, batch.y);
    } catch (const NonFiniteStepError& e) {  // a diverged step: say where, and what to do about it
      throw NonFiniteStepError("[dm train] epoch " + std::to_string(epoch + 1) + " step " +
                               std::to_string(seen / loader.options().batch_size + 1) + ": " + e.what() +
                               " (or pass --on-non-finite skip)");
    }
    const std::int64_t n = batch.x.size(0);
    loss_sum += loss.item<double>() * static_cast<double>(n);
    seen += n;
    progress.update(seen, loss_sum / static_cast<double>(seen));
  }
  progress.finish();
  if (trainer.skipped_steps() > 0)
    std::fprintf(stderr, "dm train: epoch %d skipped %lld of %lld steps for a NaN or infinite loss or gradient\n",
                 epoch + 1, static_cast<long long>(trainer.skipped_steps()), static_cast<long long>(loader.size()));
  return {seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0, seen};
}

}  // namespace

CLI::App* add_train_command(CLI::App& app, TrainOptions& o) {
  CLI::App* cmd = app.add_subcommand("train", "Train a model on Fashion-MNIST");
  cmd->add_option("--model", o.model, "Network, e.g. mlp:784-128-10 (Dense layers with ReLU between them)")
      ->capture_default_str();
  cmd->add_option("--epochs", o.epochs, "Total number of epochs (a resumed run stops there too)")
      ->capture_default_str();
  cmd->add_option("--stop-after", o.stop_after,
                  "End this run after N epochs (of the planned --epochs); continue later with --resume")
      ->check(CLI::PositiveNumber);
  // The ranges of the settings a checkpoint records are not CLI11 checks but broken_train_rule's,
  // which main applies to these flags and from_metadata to a resumed checkpoint's record.
  cmd->add_option("--batch-size", o.batch_size, "Samples per step")->capture_default_str();
  cmd->add_option("--lr", o.lr, "Learning rate")->capture_default_str();
  cmd->add_option("--optimizer", o.optimizer, "sgd (with --momentum), adam or adamw")->capture_default_str();
  cmd->add_option("--momentum", o.momentum, "SGD momentum, in [0, 1]")->capture_default_str();
  cmd->add_option("--schedule", o.schedule, "Learning-rate schedule over the run: cosine (decays to 0) or constant")
      ->capture_default_str();
  cmd->add_option("--threads", o.threads, "Worker threads (default: all cores)")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--shard-size", o.shard_size,
                  "Samples per data-parallel shard: each batch is cut into shards of this size, whatever "
                  "--threads (default: the whole batch for models of 1M parameters or more, else max(32, half "
                  "the batch))");
  cmd->add_option("--seed", o.seed, "Seed of the initialisation and of the shuffling")->capture_default_str();
  cmd->add_option("--checkpoint", o.checkpoint, "Checkpoint written (crash-safely) after every epoch");
  cmd->add_option("--resume", o.resume, "Continue the run that wrote this checkpoint");
  cmd->add_option("--data", o.data, "Directory of the Fashion-MNIST IDX files")->capture_default_str();
  cmd->add_option("--limit", o.limit, "Train on the first N samples only")->check(CLI::PositiveNumber);
  cmd->add_option("--metrics", o.metrics, "JSON-lines file with one record per epoch");
  cmd->add_option("--on-non-finite", o.on_non_finite,
                  "A step whose loss or gradient is NaN or infinite (the run diverged): stop with an error, "
                  "keeping the last checkpoint, or skip the step")
      ->check(CLI::IsMember({"stop", "skip"}))
      ->capture_default_str();
  return cmd;
}

int run_train(const CLI::App& command, TrainOptions o) {
  if (o.threads > 0) set_num_threads(o.threads);
  const bool resuming = !o.resume.empty();
  std::optional<RunRecord> resumed;
  if (resuming) {
    resumed = read_run_record(o.resume);
    fill_from_checkpoint(command, *resumed, o);
  }

  manual_seed(o.seed);
  Model model = build_model(o.model, o.optimizer, o.lr, o.momentum);
  std::int64_t parameters = 0;
  for (const auto& named : model.module().named_parameters()) parameters += named.second.numel();
  o.shard_size = effective_shard_size(o, parameters);
  data::DataLoader train = train_loader(o.data, o.limit, o.batch_size, o.seed);
  const data::DataLoader test = test_loader(o.data, 1000);

  const auto schedule = make_schedule(o, static_cast<std::int64_t>(train.size()));
  std::int64_t first_epoch = 0;
  if (resumed) {
    model.load_checkpoint(o.resume);
    first_epoch = resumed->epochs_done;
    set_generator_state(resumed->generator);
  }
  std::optional<MetricsFile> metrics;
  if (!o.metrics.empty()) metrics.emplace(o.metrics, /*append=*/resuming);

  const DataParallelOptions step_options{
      .shard_size = o.shard_size,
      .non_finite = o.on_non_finite == "skip" ? NonFinitePolicy::skip : NonFinitePolicy::raise};
  std::optional<EvalResult> last;
  const std::int64_t last_epoch = o.stop_after > 0 ? std::min<std::int64_t>(o.epochs, first_epoch + o.stop_after) : o.epochs;
  for (std::int64_t epoch = first_epoch; epoch < last_epoch; ++epoch) {
    const auto start = Clock::now();
    train.set_epoch(static_cast<std::uint64_t>(epoch));
    model.module().train();
    const auto [train_loss, seen] = train_epoch(model, train, *schedule, step_options, static_cast<int>(epoch), o.epochs);
    const double train_seconds = seconds_since(start);
    last = finish_epoch(o, model, test, epoch, train_loss, seen, train_seconds, start, metrics ? &*metrics : nullptr);
  }
  if (!last) last = model.evaluate(test);  // nothing left to train: report the model as it is
  std::printf("test accuracy: %.4f\n", last->accuracy);
  return 0;
}

}  // namespace dm::cli
