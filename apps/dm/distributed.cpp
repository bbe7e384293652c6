// dm train --distributed: the training loop of `dm train` over a DistributedTrainer. All ranks
// build the same loader (same seed, so the same batches in the same order) and each trains on
// its slice of every batch; the combined gradients keep the ranks' parameters identical, so
// rank 0's evaluation, metrics and checkpoints speak for all.
#include "distributed.hpp"

#include <chrono>
#include <cstdio>
#include <optional>

#include "democratising/distributed/distributed_trainer.hpp"
#include "democratising/distributed/world.hpp"
#include "democratising/optim/schedule.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"
#include "metrics.hpp"
#include "option_checks.hpp"
#include "setup.hpp"

namespace dm::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Rows [rank * n / size, (rank + 1) * n / size) of a batch. The slices differ by a row when
// the ranks do not divide the batch (64 on 3 ranks: 21, 21, 22); the trainer weights each by
// its size, so the step is still the whole batch's.
Tensor shard(const Tensor& batch, const dist::World& world) {
  const std::int64_t n = batch.size(0);
  const std::int64_t begin = n * world.rank() / world.size();
  const std::int64_t end = n * (world.rank() + 1) / world.size();
  return batch.narrow(0, begin, end - begin).contiguous();
}

}  // namespace

void add_distributed_flags(CLI::App& train_command, DistributedFlags& flags) {
  train_command.add_flag("--distributed", flags.enabled,
                         "Data-parallel training across the ranks of an MPI job (start with mpirun -np N)");
  train_command.add_option("--bucket-kb", flags.bucket_kb, "Size of a gradient bucket for --distributed, in KiB")
      ->check(positive_integer())
      ->capture_default_str();
  train_command
      .add_option("--collective-timeout-ms", flags.timeout_ms,
                  "With --distributed: how long a collective waits for the other ranks before the job fails")
      ->check(positive_integer())
      ->capture_default_str();
}

namespace {

int train_on_ranks(const TrainOptions& o, const DistributedFlags& flags, dist::World& world) {
  const bool leader = world.rank() == 0;
  if (o.batch_size < world.size())
    throw UsageError("--batch-size " + std::to_string(o.batch_size) + " is smaller than the " +
                     std::to_string(world.size()) + " ranks");

  manual_seed(o.seed);
  Model model = build_model(o.model, o.optimizer, o.lr, o.momentum);
  check_model_fits_data(model.module(), o.model, "dm train");
  data::DataLoader train = train_loader(o.data, o.limit, o.batch_size, o.seed);
  const data::DataLoader test = test_loader(o.data, 1000);
  dist::DistributedTrainer trainer(model, world, {.bucket_bytes = flags.bucket_kb << 10});
  const std::int64_t steps_per_epoch = static_cast<std::int64_t>(train.size());
  std::shared_ptr<const optim::Schedule> schedule;
  if (o.schedule == "constant") {
    schedule = std::make_shared<optim::ConstantLR>(o.lr);
  } else {
    schedule = std::make_shared<optim::CosineLR>(o.lr, std::max<std::int64_t>(1, steps_per_epoch * o.epochs));
  }
  std::optional<MetricsFile> metrics;
  if (leader && !o.metrics.empty()) {
    metrics.emplace(o.metrics, /*append=*/false);
    metrics->write(run_config(o, "cpu", steps_per_epoch, model.module().num_parameters(), 0, world.size()));
  }
  if (leader) std::printf("data-parallel training on %d ranks\n", world.size());

  std::optional<EvalResult> last;
  for (std::int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const auto start = Clock::now();
    train.set_epoch(static_cast<std::uint64_t>(epoch));
    model.module().train();
    double loss_sum = 0.0;
    std::int64_t seen = 0;
    std::int64_t step = epoch * steps_per_epoch;
    const double first_lr = schedule->lr_at(step);
    for (const Batch& batch : train) {
      const double lr = schedule->lr_at(step++);
      model.optimizer().set_lr(lr);
      const std::int64_t n = batch.x.size(0);
      if (n < world.size()) continue;  // a last batch too small to give every rank a row
      // The trainer returns the whole batch's mean loss, the same on every rank.
      const double loss = trainer.train_step(shard(batch.x, world), shard(batch.y, world)).item<double>();
      loss_sum += loss * static_cast<double>(n);
      seen += n;
      if (metrics && o.log_every > 0 && step % o.log_every == 0)
        metrics->write(StepMetrics{.step = step, .epoch = epoch + 1, .loss = loss, .lr = lr});
    }
    const double train_seconds = seconds_since(start);
    if (!leader) continue;
    last = model.evaluate(test);
    finish_epoch(o, model, *last,
                 {.epoch = epoch,
                  .lr = first_lr,
                  .train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0,
                  .seen = seen,
                  .train_seconds = train_seconds,
                  .started = start},
                 metrics ? &*metrics : nullptr);
  }
  world.barrier();  // the others wait for rank 0's last evaluation and checkpoint
  if (leader) {
    if (!last) last = model.evaluate(test);
    std::printf("test accuracy: %.4f\n", last->accuracy);
  }
  return 0;
}

}  // namespace

int run_distributed_train(const TrainOptions& o, const DistributedFlags& flags) {
  if (!o.resume.empty()) throw UsageError("--resume is not supported with --distributed");
  if (o.stop_after > 0) throw UsageError("--stop-after is not supported with --distributed");
  if (o.device != "cpu") throw UsageError("--device " + o.device + " is not supported with --distributed: it trains on cpu");
  if (o.threads > 0) set_num_threads(o.threads);
  dist::World world = dist::World::mpi({.timeout = std::chrono::milliseconds(flags.timeout_ms)});
  if (world.size() == 1) return train_on_ranks(o, flags, world);
  try {
    return train_on_ranks(o, flags, world);
  } catch (const UsageError&) {
    throw;  // every rank reads the same command line, so every rank stops here alike
  } catch (const std::exception& e) {
    // The other ranks wait in, or are about to enter, a collective this rank will never join
    // (or, after a timeout, one that a silent rank will never finish): only ending the whole
    // job gets them out, at once and with the reason.
    dist::abort_mpi_job("dm: error: rank " + std::to_string(world.rank()) + ": " + e.what(), 1);
  }
}

}  // namespace dm::cli
