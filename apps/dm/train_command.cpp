// dm train: epochs of minibatch training on Fashion-MNIST, with an evaluation on the test
// split, a summary line, a metrics line and a checkpoint after each epoch.
//
// A run resumed from a checkpoint continues bit for bit like the run that wrote it: the
// checkpoint holds the parameters, the optimizer state, the epochs done and the global
// generator's state, and the loader's order is a pure function of (seed, epoch).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "commands.hpp"
#include "democratising/model/data_parallel.hpp"
#include "democratising/nn/summary.hpp"
#include "device_option.hpp"
#include "family_recipes.hpp"
#include "option_checks.hpp"
#include "placement.hpp"
#include "democratising/base/error.hpp"
#include "democratising/optim/optimizer.hpp"
#include "democratising/optim/schedule.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"
#include "metrics.hpp"
#include "progress.hpp"
#include "setup.hpp"
#include "train_resume.hpp"

namespace dm::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

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

namespace {

struct EpochTotals {
  double loss = 0.0;  // mean per sample
  std::int64_t seen = 0;
  double first_lr = 0.0;
};

/// One pass over the training loader. On the CPU each step is synchronous and data-parallel
/// (DataParallel: shards of a fixed size on the pool, gradients reduced in shard order), so
/// --threads changes the speed, never the result.
EpochTotals train_epoch(Placement& placement, Model& model, data::DataLoader& loader, const optim::Schedule& schedule,
                        const TrainOptions& o, int epoch, int last_epoch, MetricsFile* metrics) {
  ProgressLine progress(epoch + 1, o.epochs, last_epoch, loader.dataset().size());
  const std::int64_t skipped_before = placement.skipped_steps();
  EpochTotals totals;
  double loss_sum = 0.0;  // sum of per-sample losses, in batch order (the same on every run)
  std::int64_t counted = 0;  // samples of the steps not skipped
  std::int64_t step = static_cast<std::int64_t>(epoch) * static_cast<std::int64_t>(loader.size());
  totals.first_lr = schedule.lr_at(step);
  for (const Batch& batch : loader) {
    const double lr = schedule.lr_at(step++);
    model.optimizer().set_lr(lr);
    double loss = 0.0;
    try {
      loss = placement.train_step(batch.x, batch.y);
    } catch (const NonFiniteStepError& e) {  // a diverged step: say where, and what to do about it
      throw NonFiniteStepError("[dm train] epoch " + std::to_string(epoch + 1) + " step " +
                               std::to_string(totals.seen / loader.options().batch_size + 1) + ": " + e.what() +
                               " (or pass --on-non-finite skip)");
    }
    const std::int64_t n = batch.x.size(0);
    if (std::isfinite(loss)) {  // a skipped step adds nothing to the epoch's mean
      loss_sum += loss * static_cast<double>(n);
      counted += n;
    }
    totals.seen += n;
    if (metrics && o.log_every > 0 && step % o.log_every == 0)
      metrics->write(StepMetrics{.step = step, .epoch = epoch + 1, .loss = loss, .lr = lr});
    progress.update(totals.seen, counted > 0 ? loss_sum / static_cast<double>(counted) : loss);
  }
  progress.finish();
  const std::int64_t skipped = placement.skipped_steps() - skipped_before;
  if (skipped > 0)
    std::fprintf(stderr, "dm train: epoch %d skipped %lld of %lld steps for a NaN or infinite loss or gradient\n",
                 epoch + 1, static_cast<long long>(skipped), static_cast<long long>(loader.size()));
  totals.loss = counted > 0 ? loss_sum / static_cast<double>(counted) : 0.0;
  return totals;
}

/// dm train --summary: the network's table, for one flattened image.
int print_summary(const Model& model, const TrainOptions& o) {
  std::printf("model %s, input (1, %lld)\n", o.model.c_str(), static_cast<long long>(kInputFeatures));
  std::fputs(nn::summary_table(nn::summary(model.module(), {1, kInputFeatures})).c_str(), stdout);
  return 0;
}

}  // namespace

CLI::App* add_train_command(CLI::App& app, TrainOptions& o) {
  CLI::App* cmd = app.add_subcommand("train", "Train a model on Fashion-MNIST");
  cmd->footer(
      "Defaults: each --model family trains with its own recipe where the command line gives no --optimizer,\n"
      "--lr or --epochs (the values after '=' above are the mlp's): " + family_recipes_text() + ".\n"
      "dm train's settings are its own, not the library's: the library's optim::SGDOptions default to lr 0.01\n"
      "and momentum 0, a Model built without an optimizer uses SGD with lr 0.05 and momentum 0.9, and\n"
      "optim::AdamOptions default to lr 0.001. --lr applies to every optimizer; --momentum to sgd only.\n"
      "Metrics file: one JSON object per line: a \"config\" record first (the run's settings), a \"step\"\n"
      "record every --log-every steps, and an \"epoch\" record after each epoch; dm report draws them.");
  cmd->add_option("--model", o.model,
                  "Network: e.g. mlp:784-128-10 (Dense layers with ReLU between them; it must take 784 inputs "
                  "and give 10 outputs), or cnn (two 3x3 convolution blocks of 32 and 64 channels and a "
                  "128-unit classifier; cnn:C1-C2-H for other sizes), or vit (a vision transformer over 16 patches "
                  "of 7x7: embedding size 64, 4 heads, 2 encoder layers, MLP width 128; vit:D-H-L-M for other sizes)")
      ->capture_default_str();
  cmd->add_option("--epochs", o.epochs, "Total number of epochs (the --model family's, see below; a resumed run stops there too)")
      ->capture_default_str();
  cmd->add_option("--stop-after", o.stop_after,
                  "End this run after N epochs (of the planned --epochs); continue later with --resume")
      ->check(positive_integer());
  // The ranges of the settings a checkpoint records are not CLI11 checks but broken_train_rule's,
  // which main applies to these flags and from_metadata to a resumed checkpoint's record.
  cmd->add_option("--batch-size", o.batch_size, "Samples per step")->capture_default_str();
  cmd->add_option("--lr", o.lr, "Learning rate, the peak of the cosine schedule (the --model family's, see below)")->capture_default_str();
  cmd->add_option("--optimizer", o.optimizer, "sgd (with --momentum), adam or adamw (weight decay 0.01) (the --model family's, see below)")
      ->capture_default_str();
  cmd->add_option("--momentum", o.momentum, "SGD momentum, in [0, 1]")->capture_default_str();
  cmd->add_option("--schedule", o.schedule, "Learning-rate schedule over the run: cosine (decays to 0) or constant")
      ->capture_default_str();
  cmd->add_option("--threads", o.threads, "Worker threads (default: all cores)")->check(integer_in(1, 1 << 16));
  cmd->add_option("--shard-size", o.shard_size,
                  "Samples per data-parallel shard: each batch is cut into shards of this size, whatever "
                  "--threads (default: the whole batch for models of 1M parameters or more, else max(32, half "
                  "the batch))");
  cmd->add_option("--seed", o.seed, "Seed of the initialisation and of the shuffling")->capture_default_str();
  cmd->add_option("--device", o.device,
                  "Where to train: cpu, cuda (GPU 0) or cuda:N; a GPU that is not there is an error before "
                  "anything starts. With --distributed: cpu, or cuda (each rank its local GPU, over NCCL)")
      ->capture_default_str();
  cmd->add_option("--checkpoint", o.checkpoint, "Checkpoint written (crash-safely) after every epoch");
  cmd->add_option("--resume", o.resume, "Continue the run that wrote this checkpoint");
  cmd->add_option("--data", o.data, "Directory of the Fashion-MNIST IDX files")->capture_default_str();
  cmd->add_option("--limit", o.limit, "Train on the first N samples only")->check(positive_integer());
  cmd->add_option("--metrics", o.metrics,
                  "JSON-lines file: the run's configuration, then one record per epoch (with its learning rate)");
  cmd->add_option("--log-every", o.log_every,
                  "Also record the loss and learning rate of every N-th step in the --metrics file")
      ->check(positive_integer());
  cmd->add_flag("--summary", o.summary,
                "Print the model's layers, output shapes and parameter counts, then exit without training");
  cmd->add_option("--on-non-finite", o.on_non_finite,
                  "A step whose loss or gradient is NaN or infinite (the run diverged): stop with an error, "
                  "keeping the last checkpoint, or skip the step")
      ->check(CLI::IsMember({"stop", "skip"}))
      ->capture_default_str();
  return cmd;
}

int run_train(const CLI::App& command, TrainOptions o) {
  // The device first: a GPU that is not there is said before anything is read or allocated.
  const Device device = resolve_device(o.device, "dm train");
  if (o.threads > 0) set_num_threads(o.threads);
  const bool resuming = !o.resume.empty();
  std::optional<RunRecord> resumed;
  if (resuming) {
    resumed = read_run_record(o.resume);
    fill_from_checkpoint(command, *resumed, o);
  }

  manual_seed(o.seed);
  Model model = build_model(o.model, o.optimizer, o.lr, o.momentum);
  check_model_fits_data(model.module(), o.model, "dm train");
  if (o.summary) return print_summary(model, o);
  const std::int64_t parameters = model.module().num_parameters();
  o.shard_size = effective_shard_size(o, parameters);
  data::DataLoader train = train_loader(o.data, o.limit, o.batch_size, o.seed);
  const data::DataLoader test = test_loader(o.data, 1000);

  const auto steps_per_epoch = static_cast<std::int64_t>(train.size());
  const auto schedule = make_schedule(o, steps_per_epoch);
  std::int64_t first_epoch = 0;
  if (resumed) {
    model.load_checkpoint(o.resume);
    first_epoch = resumed->epochs_done;
    set_generator_state(resumed->generator);
  }
  std::optional<MetricsFile> metrics;
  if (!o.metrics.empty()) {
    metrics.emplace(o.metrics, /*append=*/resuming);
    metrics->write(run_config(o, device.str(), steps_per_epoch, parameters, first_epoch, 1));
  }

  Placement placement(model, device,
                      {.shard_size = o.shard_size,
                       .non_finite = o.on_non_finite == "skip" ? NonFinitePolicy::skip : NonFinitePolicy::raise});
  std::optional<EvalResult> last;
  const std::int64_t last_epoch = o.stop_after > 0 ? std::min<std::int64_t>(o.epochs, first_epoch + o.stop_after) : o.epochs;
  for (std::int64_t epoch = first_epoch; epoch < last_epoch; ++epoch) {
    const auto start = Clock::now();
    train.set_epoch(static_cast<std::uint64_t>(epoch));
    model.module().train();
    const EpochTotals totals = train_epoch(placement, model, train, *schedule, o, static_cast<int>(epoch),
                                           static_cast<int>(last_epoch), metrics ? &*metrics : nullptr);
    const double train_seconds = seconds_since(start);
    last = placement.evaluate(test);
    placement.sync_to_model();
    finish_epoch(o, model, *last,
                 {.epoch = epoch,
                  .lr = totals.first_lr,
                  .train_loss = totals.loss,
                  .seen = totals.seen,
                  .train_seconds = train_seconds,
                  .started = start},
                 metrics ? &*metrics : nullptr);
  }
  if (!last) last = placement.evaluate(test);  // nothing left to train: report the model as it is
  std::printf("test accuracy: %.4f\n", last->accuracy);
  return 0;
}

}  // namespace dm::cli
