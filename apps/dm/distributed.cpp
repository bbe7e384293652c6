// dm train --distributed: the training loop of `dm train` over a DistributedTrainer. All ranks
// build the same loader (same seed, so the same batches in the same order) and each trains on
// its slice of every batch; the combined gradients keep the ranks' parameters identical, so
// rank 0's evaluation, metrics and checkpoints speak for all.
//
// Checkpoints and --resume work as in dm train: rank 0 writes the checkpoint after every epoch
// (temporary file, fsync, rename), and every rank of a resumed run reads it, so the run
// continues as the one that wrote it would have: parameters, optimizer state, epochs done and
// the generator's state come from the file, and the loader's order is a function of (seed,
// epoch). With --compress bf16 each rank's error-feedback residuals are its own state: they are
// gathered to rank 0 for the checkpoint and handed back to their ranks on resume.
#include "distributed.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "democratising/core/random.hpp"
#include "democratising/distributed/distributed_trainer.hpp"
#include "democratising/distributed/world.hpp"
#include "democratising/io/safetensors.hpp"
#include "democratising/runtime/pool.hpp"
#include "device_option.hpp"
#include "gpu_replica.hpp"
#include "metrics.hpp"
#include "option_checks.hpp"
#include "setup.hpp"
#include "train_resume.hpp"

namespace dm::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// What a checkpoint of a distributed run records beside dm train's: the ranks and the
// compression it ran with, and (compressed) every rank's residuals, (ranks, parameters).
constexpr const char* kRanksKey = "ddp_ranks";
constexpr const char* kCompressKey = "ddp_compress";
constexpr const char* kResidualsName = "ddp.residuals";

// Rows [rank * n / size, (rank + 1) * n / size) of a batch. The slices differ by a row when
// the ranks do not divide the batch (64 on 3 ranks: 21, 21, 22); the trainer weights each by
// its size, so the step is still the whole batch's.
Tensor shard(const Tensor& batch, const dist::World& world) {
  const std::int64_t n = batch.size(0);
  const std::int64_t begin = n * world.rank() / world.size();
  const std::int64_t end = n * (world.rank() + 1) / world.size();
  return batch.narrow(0, begin, end - begin).contiguous();
}

std::optional<dist::Compression> compression_of(const std::string& name) {
  if (name == "none") return dist::Compression::none;
  if (name == "bf16") return dist::Compression::bf16;
  return std::nullopt;
}

// The compression a checkpoint's run used; empty for one written without --distributed.
std::string recorded_compression(const std::string& path) {
  const std::map<std::string, std::string> md = io::load_safetensors_metadata(path);
  const auto it = md.find(kCompressKey);
  return it == md.end() ? std::string() : it->second;
}

// Puts this rank's residuals back from a resumed checkpoint's extra tensors.
void restore_residuals(dist::DistributedTrainer& trainer, const nn::NamedTensors& extra, const std::string& path) {
  const dist::World& world = trainer.world();
  const Tensor* saved = nullptr;
  for (const auto& [name, t] : extra)
    if (name == kResidualsName) saved = &t;
  if (trainer.options().compression == dist::Compression::none) {
    if (saved && world.rank() == 0)
      std::printf("note: %s holds compression residuals; --compress none leaves them unused\n", path.c_str());
    return;
  }
  if (!saved) {
    // A run that did not compress so far: its residuals are zero, as a fresh compressed run's are.
    if (world.rank() == 0)
      std::printf("note: %s was written without compression; the residuals start from zero\n", path.c_str());
    return;
  }
  if (saved->dim() != 2 || saved->size(0) != world.size())
    throw UsageError("[dm train] --resume " + path + " holds the compression residuals of " +
                     (saved->dim() == 2 ? std::to_string(saved->size(0)) : std::string("?")) +
                     " ranks, this job has " + std::to_string(world.size()) + ": resume it with as many ranks (mpirun -np " +
                     (saved->dim() == 2 ? std::to_string(saved->size(0)) : std::string("N")) +
                     "), or with --compress none");
  try {
    trainer.set_compression_residual(saved->select(0, world.rank()).contiguous());
  } catch (const Error& e) {
    throw FormatError("[dm] checkpoint '" + path + "': " + e.what());
  }
}

// Rank 0's checkpoint of the run after `epochs_done` epochs; a collective when compressing
// (every rank's residuals go into it), so every rank calls it.
void write_checkpoint(const TrainOptions& o, const dist::DistributedTrainer& trainer, std::int64_t epochs_done) {
  const dist::World& world = trainer.world();
  const bool compressed = trainer.options().compression != dist::Compression::none;
  nn::NamedTensors extra;
  if (compressed) extra.emplace_back(kResidualsName, trainer.world().all_gather(trainer.compression_residual()));
  if (world.rank() != 0) return;
  std::map<std::string, std::string> metadata = to_metadata(run_record(o, epochs_done));
  metadata[kRanksKey] = std::to_string(world.size());
  metadata[kCompressKey] = dist::compression_name(trainer.options().compression);
  trainer.model().save_checkpoint(o.checkpoint, metadata, {.extra = &extra});
}

void print_buckets(const dist::DistributedTrainer& trainer, const DistributedFlags& flags) {
  const auto buckets = trainer.buckets();
  std::printf("data-parallel training on %d ranks: all-reduces by %s, %zu gradient bucket%s of about %lld KiB, "
              "compression %s%s\n",
              trainer.world().size(), trainer.world().all_reduce_route(), buckets.size(), buckets.size() == 1 ? "" : "s",
              static_cast<long long>(flags.bucket_kb),
              dist::compression_name(trainer.options().compression),
              trainer.options().compression == dist::Compression::none ? "" : " with error feedback");
  if (!flags.verbose) return;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    std::string names;
    for (const std::string& name : buckets[i].parameters) names += (names.empty() ? "" : " ") + name;
    std::printf("  bucket %zu (sent %s): %lld elements, %lld bytes per rank: %s\n", i + 1,
                i == 0 ? "first" : "next", static_cast<long long>(buckets[i].elements),
                static_cast<long long>(buckets[i].bytes), names.c_str());
  }
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
  train_command
      .add_option("--compress", flags.compress,
                  "With --distributed: how gradients travel between the ranks: none (f32), or bf16 (half the bytes; "
                  "each rank carries its rounding error over to its next step, so the errors do not add up). A "
                  "resumed run keeps its checkpoint's unless given")
      ->check(CLI::IsMember({"none", "bf16"}))
      ->capture_default_str();
  train_command
      .add_option("--all-reduce", flags.all_reduce,
                  "With --distributed: how gradients are summed across the ranks: mpi (MPI_Allreduce), tcp_ring (a "
                  "ring of TCP connections whose waits leave the CPU to backward), or automatic (tcp_ring when no two "
                  "ranks share a host, mpi otherwise)")
      ->check(CLI::IsMember({"automatic", "mpi", "tcp_ring"}))
      ->capture_default_str();
  train_command.add_flag("--ddp-verbose", flags.verbose,
                         "With --distributed: print every gradient bucket (its parameters, size and the order the "
                         "buckets are sent in) at the start");
}

void check_distributed_flags(const CLI::App& train_command, const DistributedFlags& flags) {
  if (flags.enabled) return;
  for (const char* flag : {"--compress", "--all-reduce", "--ddp-verbose"})
    if (train_command.count(flag) > 0) throw UsageError(std::string("[dm train] ") + flag + " needs --distributed");
}

namespace {

int train_on_ranks(const CLI::App& command, TrainOptions o, const DistributedFlags& flags, dist::World& world) {
  const bool leader = world.rank() == 0;
  const bool resuming = !o.resume.empty();
  std::optional<RunRecord> resumed;
  const std::optional<dist::Compression> flagged = compression_of(flags.compress);
  if (!flagged) throw UsageError("[dm train] --compress must be none or bf16, got '" + flags.compress + "'");
  dist::Compression compression = *flagged;
  if (resuming) {
    resumed = read_run_record(o.resume);
    fill_from_checkpoint(command, *resumed, o);
    const std::string recorded = recorded_compression(o.resume);
    if (command.count("--compress") == 0 && !recorded.empty()) {
      const std::optional<dist::Compression> kept = compression_of(recorded);
      if (!kept)
        throw FormatError("[dm] checkpoint '" + o.resume + "' has a malformed metadata entry " + kCompressKey + "='" +
                          recorded + "'");
      compression = *kept;
    }
  }
  if (o.batch_size < world.size())
    throw UsageError("--batch-size " + std::to_string(o.batch_size) + " is smaller than the " +
                     std::to_string(world.size()) + " ranks");

  manual_seed(o.seed);
  Model model = build_model(o.model, o.optimizer, o.lr, o.momentum);
  check_model_fits_data(model.module(), o.model, "dm train");
  const std::int64_t parameters = model.module().num_parameters();
  // Recorded in checkpoints, which dm train may resume too; the ranks' split does not use it.
  o.shard_size = effective_shard_size(o, parameters);
  data::DataLoader train = train_loader(o.data, o.limit, o.batch_size, o.seed);
  const data::DataLoader test = test_loader(o.data, 1000);
  nn::NamedTensors extra;
  std::int64_t first_epoch = 0;
  if (resumed) {
    // Every rank reads the same file, so every rank starts from the same bits.
    model.load_checkpoint(o.resume, {.extra = &extra});
    first_epoch = resumed->epochs_done;
    set_generator_state(resumed->generator);
  }
  // On a GPU (World::nccl) the ranks train copies of the parameters there; rank 0 evaluates and
  // checkpoints the model's host parameters, brought up to date each time.
  GpuReplica replica(model, world.device());
  dist::DistributedTrainer trainer(model, world, {.bucket_bytes = flags.bucket_kb << 10, .compression = compression});
  if (resumed) restore_residuals(trainer, extra, o.resume);
  const std::int64_t steps_per_epoch = static_cast<std::int64_t>(train.size());
  const auto schedule = make_schedule(o, steps_per_epoch);
  std::optional<MetricsFile> metrics;
  if (leader && !o.metrics.empty()) {
    metrics.emplace(o.metrics, /*append=*/resuming);
    RunConfig config = run_config(o, world.device().str(), steps_per_epoch, parameters, first_epoch, world.size());
    config.emplace_back("compress", std::string(dist::compression_name(compression)));
    config.emplace_back("bucket_bytes", flags.bucket_kb << 10);
    config.emplace_back("buckets", static_cast<std::int64_t>(trainer.bucket_count()));
    config.emplace_back("all_reduce", std::string(world.all_reduce_route()));
    metrics->write(config);
  }
  if (leader) print_buckets(trainer, flags);

  // The copy finish_epoch sees writes no checkpoint: write_checkpoint does, with what only the
  // distributed run records.
  TrainOptions reported = o;
  reported.checkpoint.clear();
  const std::int64_t last_epoch =
      o.stop_after > 0 ? std::min<std::int64_t>(o.epochs, first_epoch + o.stop_after) : o.epochs;
  std::optional<EvalResult> last;
  for (std::int64_t epoch = first_epoch; epoch < last_epoch; ++epoch) {
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
    if (leader) {
      replica.on_host([&] {
        last = model.evaluate(test);
        finish_epoch(reported, model, *last,
                     {.epoch = epoch,
                      .lr = first_lr,
                      .train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0,
                      .seen = seen,
                      .train_seconds = train_seconds,
                      .started = start},
                     metrics ? &*metrics : nullptr);
      });
    }
    if (!o.checkpoint.empty()) replica.on_host([&] { write_checkpoint(o, trainer, epoch + 1); });
  }
  world.barrier();  // the others wait for rank 0's last evaluation and checkpoint
  if (leader) {
    if (!last) last = replica.on_host([&] { return model.evaluate(test); });
    std::printf("test accuracy: %.4f\n", last->accuracy);
  }
  return 0;
}

}  // namespace

int run_distributed_train(const CLI::App& command, TrainOptions o, const DistributedFlags& flags) {
  const bool on_gpu = o.device != "cpu";
  if (on_gpu && o.device != "cuda")
    throw UsageError("[dm train] --device " + o.device +
                     " with --distributed: each rank drives the GPU of its local rank; give --device cuda");
  // A missing GPU is said here, before MPI starts or any collective runs.
  if (on_gpu) resolve_device(o.device, "dm train --distributed");
  if (o.threads > 0) set_num_threads(o.threads);
  const dist::AllReduceRoute route = flags.all_reduce == "mpi"        ? dist::AllReduceRoute::mpi
                                     : flags.all_reduce == "tcp_ring" ? dist::AllReduceRoute::tcp_ring
                                                                      : dist::AllReduceRoute::automatic;
  const dist::WorldOptions world_options{.timeout = std::chrono::milliseconds(flags.timeout_ms), .all_reduce_route = route};
  // CUDA tensors go over NCCL (MPI still starts the ranks and carries the host exchanges).
  dist::World world = on_gpu ? dist::World::nccl(world_options) : dist::World::mpi(world_options);
  if (world.size() == 1) return train_on_ranks(command, o, flags, world);
  try {
    return train_on_ranks(command, o, flags, world);
  } catch (const UsageError&) {
    throw;  // every rank reads the same command line and checkpoint, so every rank stops here alike
  } catch (const std::exception& e) {
    // The other ranks wait in, or are about to enter, a collective this rank will never join
    // (or, after a timeout, one that a silent rank will never finish): only ending the whole
    // job gets them out, at once and with the reason.
    dist::abort_mpi_job("dm: error: rank " + std::to_string(world.rank()) + ": " + e.what(), 1);
  }
}

}  // namespace dm::cli
