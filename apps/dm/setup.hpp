#pragma once
// What `dm train` and `dm eval` share: the model from its spec, the Fashion-MNIST loaders with
// their normalisation, and the metadata a checkpoint carries.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "democratising/data/dataloader.hpp"
#include "democratising/model/model.hpp"
#include "commands.hpp"
#include "metrics.hpp"
#include "train_rules.hpp"
#include "democratising/core/random.hpp"

namespace dm::cli {

/// Fashion-MNIST's pixel mean and standard deviation over the training split (inputs in [0, 1]).
inline constexpr double kPixelMean = 0.2860;
inline constexpr double kPixelStd = 0.3530;

/// The network of `spec` ("mlp:784-128-10", "cnn": see model_families.hpp) wrapped in a Model
/// with that optimizer; UsageError for a spec or optimizer name the library refuses.
Model build_model(const std::string& spec, const std::string& optimizer, double lr, double momentum);

/// The shortest text that reads back to the same double (for checkpoint metadata).
std::string exact(double v);

/// The training split (only its first `limit` samples when limit > 0), shuffled by `seed`.
data::DataLoader train_loader(const std::string& dir, std::int64_t limit, std::int64_t batch_size, std::uint64_t seed);
/// The test split, in order.
data::DataLoader test_loader(const std::string& dir, std::int64_t batch_size);

/// What a training checkpoint records beside the tensors, so that a resumed run continues
/// exactly: the epochs done, the hyperparameters and the global generator's state.
struct RunRecord {
  std::int64_t epochs_done = 0;
  std::int64_t epochs_planned = 0;  // the horizon of the learning-rate schedule
  std::string model;
  std::string optimizer;
  double lr = 0.0;
  double momentum = 0.0;
  std::string schedule;
  std::int64_t batch_size = 0;
  std::int64_t shard_size = 0;  // the data-parallel split: part of what decides the result
  std::uint64_t seed = 0;
  std::int64_t limit = 0;
  GeneratorState generator{0, 0};
};

/// Fashion-MNIST's samples: 28x28 images, flattened, in 10 classes.
inline constexpr std::int64_t kInputFeatures = 28 * 28;
inline constexpr std::int64_t kClasses = 10;

/// UsageError naming both sizes when `model` (built from `spec`) does not take kInputFeatures
/// inputs or does not give kClasses outputs; `command` prefixes the message ("dm train").
void check_model_fits_data(const nn::Module& model, const std::string& spec, const std::string& command);

/// What an epoch did, for finish_epoch.
struct EpochResult {
  std::int64_t epoch = 0;  // 0-based
  double lr = 0.0;         // the rate of its first step
  double train_loss = 0.0;
  std::int64_t seen = 0;
  double train_seconds = 0.0;
  std::chrono::steady_clock::time_point started;
};

/// The end of a training epoch on the reporting process, once `test_result` is known: prints the
/// summary line, appends to the metrics file (when given) and writes the checkpoint (when asked
/// for) from the model's own parameters.
void finish_epoch(const TrainOptions& options, const Model& model, const EvalResult& test_result,
                  const EpochResult& epoch, MetricsFile* metrics);

/// The config record of a run's metrics file: every setting that decides the run, and the facts
/// a report needs beside them (steps per epoch, parameter count, the epoch it starts from).
RunConfig run_config(const TrainOptions& options, const std::string& device, std::int64_t steps_per_epoch,
                     std::int64_t parameters, std::int64_t first_epoch, int world_size);

/// --shard-size, or when it is 0: the whole batch for a model of a million parameters or more,
/// else max(32, half the batch). A large model's matrix products are big enough to split well
/// across the cores on their own, and one shard then saves a second full-size copy of every
/// weight gradient and the pass that sums them (measured 9% faster for 784-1024-1024-10 at
/// batch 256); a small model's are not, and shards keep every core busy. Two shards keep each
/// shard's products large; 32 samples keep small batches splittable. A function of the batch
/// and the model only, never of the thread count.
std::int64_t effective_shard_size(const TrainOptions& options, std::int64_t parameters);
/// The settings of `dm train`'s flags, and the ones a checkpoint records, for broken_train_rule.
TrainSettings settings_of(const TrainOptions& options);
TrainSettings settings_of(const RunRecord& record);
/// UsageError "[dm train] --flag: ..." when the flags break a rule of broken_train_rule.
void check_train_flags(const TrainOptions& options);

/// The record of a run with these options after `epochs_done` epochs, with the generator's state now.
RunRecord run_record(const TrainOptions& options, std::int64_t epochs_done);
std::map<std::string, std::string> to_metadata(const RunRecord& record);
/// FormatError naming `path` and the entry when the metadata lacks one, holds a malformed value,
/// or holds a setting the flags would refuse (broken_train_rule).
RunRecord from_metadata(const std::map<std::string, std::string>& metadata, const std::string& path);
/// The record of a checkpoint file, read from its header only.
RunRecord read_run_record(const std::string& path);

}  // namespace dm::cli
