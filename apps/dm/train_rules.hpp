#pragma once
// The rules a training run's settings obey, wherever they come from: the command line of
// `dm train`, or the metadata of the checkpoint a run resumes from. One set, so a checkpoint
// cannot carry a setting the flags would refuse (a momentum of 2.5, a batch of INT64_MAX).
#include <cstdint>
#include <optional>
#include <string>

namespace dm::cli {

/// At most this many samples per batch or shard: IDX files count samples in 32 bits, so no
/// dataset the tool reads holds more, and anything larger can only be a mistake.
inline constexpr std::int64_t kMaxSamplesPerStep = 0xffffffffLL;

/// The settings the rules cover, named as the flags name them.
struct TrainSettings {
  std::int64_t epochs = 0;
  std::int64_t batch_size = 0;
  std::int64_t shard_size = 0;  // 0: chosen from the model and the batch
  std::int64_t limit = 0;       // 0: every sample
  double lr = 0.0;
  double momentum = 0.0;
  std::string optimizer;
  std::string schedule;
};

/// The first rule `s` breaks, as "--flag: what is wrong, got value", or nullopt when it
/// breaks none.
std::optional<std::string> broken_train_rule(const TrainSettings& s);

}  // namespace dm::cli
