#include "train_rules.hpp"

#include <climits>
#include <cmath>

#include "setup.hpp"

namespace dm::cli {
namespace {

std::string problem(const char* flag, const std::string& what, const std::string& got) {
  return std::string(flag) + ": " + what + ", got " + got;
}

}  // namespace

std::optional<std::string> broken_train_rule(const TrainSettings& s) {
  const std::string max_samples = std::to_string(kMaxSamplesPerStep);
  if (s.epochs < 0 || s.epochs > INT_MAX)
    return problem("--epochs", "must lie in [0, " + std::to_string(INT_MAX) + "]", std::to_string(s.epochs));
  if (s.batch_size < 1 || s.batch_size > kMaxSamplesPerStep)
    return problem("--batch-size", "must lie in [1, " + max_samples + "]", std::to_string(s.batch_size));
  if (s.shard_size < 0 || s.shard_size > kMaxSamplesPerStep)
    return problem("--shard-size", "must lie in [0, " + max_samples + "] (0: automatic)", std::to_string(s.shard_size));
  if (s.limit < 0) return problem("--limit", "must not be negative", std::to_string(s.limit));
  // Written as !(x > 0) so that NaN fails too.
  if (!(s.lr > 0.0) || !std::isfinite(s.lr)) return problem("--lr", "must be positive and finite", exact(s.lr));
  if (!(s.momentum >= 0.0 && s.momentum <= 1.0)) return problem("--momentum", "must lie in [0, 1]", exact(s.momentum));
  if (s.optimizer != "sgd" && s.optimizer != "adam" && s.optimizer != "adamw")
    return problem("--optimizer", "must be sgd, adam or adamw", "'" + s.optimizer + "'");
  if (s.schedule != "cosine" && s.schedule != "constant")
    return problem("--schedule", "must be cosine or constant", "'" + s.schedule + "'");
  return std::nullopt;
}

}  // namespace dm::cli
