#include "setup.hpp"

#include <algorithm>
#include <chrono>
#include <charconv>
#include <cstdio>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "democratising/base/checked.hpp"
#include "democratising/data/dataset.hpp"
#include "democratising/data/fashion_mnist.hpp"
#include "democratising/base/error.hpp"
#include "democratising/io/safetensors.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/nn/summary.hpp"
#include "model_families.hpp"
#include "democratising/optim/optimizer.hpp"

namespace dm::cli {
namespace {

constexpr const char* kFormat = "dm-train-1";

template <class T>
T parse_number(const std::map<std::string, std::string>& md, const std::string& key, const std::string& path) {
  const auto it = md.find(key);
  if (it == md.end())
    throw FormatError("[dm] checkpoint '" + path + "' lacks the metadata entry '" + key +
                      "' (not written by dm train?)");
  T value{};
  const std::string& text = it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw FormatError("[dm] checkpoint '" + path + "' has a malformed metadata entry " + key + "='" + text + "'");
  return value;
}

std::string parse_text(const std::map<std::string, std::string>& md, const std::string& key, const std::string& path) {
  const auto it = md.find(key);
  if (it == md.end())
    throw FormatError("[dm] checkpoint '" + path + "' lacks the metadata entry '" + key +
                      "' (not written by dm train?)");
  return it->second;
}

}  // namespace

std::string exact(double v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

Model build_model(const std::string& spec, const std::string& optimizer, double lr, double momentum) {
  // A spec or optimizer the library refuses is a bad command line, not a failed run.
  ModelOptions options;
  try {
    options.optimizer = optim::make_optimizer(optimizer, lr, momentum);
  } catch (const ValueError& e) {
    throw UsageError(e.what());
  }
  return network_from_spec(spec).build(options);
}

data::DataLoader train_loader(const std::string& dir, std::int64_t limit, std::int64_t batch_size, std::uint64_t seed) {
  data::FashionMNIST train(data::Split::train, dir);
  data::DataLoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = true;
  options.seed = seed;
  options.normalize = data::Normalize{kPixelMean, kPixelStd};
  if (limit > 0 && limit < train.size())
    return data::DataLoader(data::TensorDataset(train.images().narrow(0, 0, limit), train.labels().narrow(0, 0, limit)),
                            options);
  return data::DataLoader(std::move(train), options);
}

data::DataLoader test_loader(const std::string& dir, std::int64_t batch_size) {
  data::DataLoaderOptions options;
  options.batch_size = batch_size;
  options.normalize = data::Normalize{kPixelMean, kPixelStd};
  return data::DataLoader(data::FashionMNIST(data::Split::test, dir), options);
}

namespace {

// The layers of a network in order, looking into nested Sequentials.
void leaf_layers(const nn::Module& module, std::vector<const nn::Module*>& out) {
  if (const auto* sequential = dynamic_cast<const nn::Sequential*>(&module)) {
    for (std::size_t i = 0; i < sequential->size(); ++i) leaf_layers(*(*sequential)[i], out);
  } else {
    out.push_back(&module);
  }
}

}  // namespace

void check_model_fits_data(const nn::Module& model, const std::string& spec, const std::string& command) {
  std::vector<const nn::Module*> layers;
  leaf_layers(model, layers);
  // An MLP's sizes are its Dense layers', said in the spec's own terms; any other network is
  // asked directly, with one probe image.
  const auto* first = layers.empty() ? nullptr : dynamic_cast<const nn::Dense*>(layers.front());
  const auto* last = layers.empty() ? nullptr : dynamic_cast<const nn::Dense*>(layers.back());
  const std::string prefix = "[" + command + "] model " + spec;
  if (!first || !last) {
    std::vector<nn::SummaryRow> rows;
    try {
      rows = nn::summary(model, {1, kInputFeatures});
    } catch (const Error& e) {
      throw UsageError(prefix + " does not take 28x28 Fashion-MNIST images: " + e.what());
    }
    if (!rows.empty() && rows.back().output_shape != Shape{1, kClasses})
      throw UsageError(prefix + " gives outputs of shape " + rows.back().output_shape.str() + " per image, but the data has " +
                       std::to_string(kClasses) + " classes");
    return;
  }
  if (first->in_features() != kInputFeatures)
    throw UsageError(prefix + " takes " + std::to_string(first->in_features()) + " inputs per sample, but the data has " +
                     std::to_string(kInputFeatures) + " (28x28 Fashion-MNIST images): start the model with " +
                     std::to_string(kInputFeatures));
  if (last->out_features() != kClasses)
    throw UsageError(prefix + " gives " + std::to_string(last->out_features()) + " outputs, but the data has " +
                     std::to_string(kClasses) + " classes: end the model with " + std::to_string(kClasses));
}

void finish_epoch(const TrainOptions& o, const Model& model, const EvalResult& result, const EpochResult& e,
                  MetricsFile* metrics) {
  EpochMetrics m;
  m.epoch = e.epoch + 1;
  m.lr = e.lr;
  m.train_loss = e.train_loss;
  m.samples_per_s = e.train_seconds > 0 ? static_cast<double>(e.seen) / e.train_seconds : 0.0;
  m.test_loss = result.loss;
  m.test_accuracy = result.accuracy;
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - e.started).count();
  std::printf("%s\n", summary_line(m, o.epochs).c_str());
  std::fflush(stdout);
  if (metrics) metrics->write(m);
  if (!o.checkpoint.empty()) model.save_checkpoint(o.checkpoint, to_metadata(run_record(o, e.epoch + 1)));
}

RunConfig run_config(const TrainOptions& o, const std::string& device, std::int64_t steps_per_epoch,
                     std::int64_t parameters, std::int64_t first_epoch, int world_size) {
  return {{"model", o.model},
          {"parameters", parameters},
          {"optimizer", o.optimizer},
          {"lr", o.lr},
          {"momentum", o.momentum},
          {"schedule", o.schedule},
          {"epochs", std::int64_t{o.epochs}},
          {"first_epoch", first_epoch + 1},
          {"batch_size", o.batch_size},
          {"shard_size", o.shard_size},
          {"steps_per_epoch", steps_per_epoch},
          {"seed", o.seed},
          {"limit", o.limit},
          {"threads", std::int64_t{o.threads}},
          {"ranks", std::int64_t{world_size}},
          {"device", device},
          {"data", o.data},
          {"log_every", o.log_every},
          {"resumed_from", o.resume}};
}

std::int64_t effective_shard_size(const TrainOptions& o, std::int64_t parameters) {
  constexpr std::int64_t kLargeModel = 1'000'000;
  if (o.shard_size > 0) return o.shard_size;
  if (parameters >= kLargeModel) return o.batch_size;
  return std::max<std::int64_t>(32, ceil_div(o.batch_size, 2));
}

TrainSettings settings_of(const TrainOptions& o) {
  return {.epochs = o.epochs,
          .batch_size = o.batch_size,
          .shard_size = o.shard_size,
          .limit = o.limit,
          .lr = o.lr,
          .momentum = o.momentum,
          .optimizer = o.optimizer,
          .schedule = o.schedule};
}

TrainSettings settings_of(const RunRecord& r) {
  return {.epochs = r.epochs_planned,
          .batch_size = r.batch_size,
          .shard_size = r.shard_size,
          .limit = r.limit,
          .lr = r.lr,
          .momentum = r.momentum,
          .optimizer = r.optimizer,
          .schedule = r.schedule};
}

void check_train_flags(const TrainOptions& o) {
  if (const auto broken = broken_train_rule(settings_of(o))) throw UsageError("[dm train] " + *broken);
}

RunRecord run_record(const TrainOptions& o, std::int64_t epochs_done) {
  return {.epochs_done = epochs_done,
          .epochs_planned = o.epochs,
          .model = o.model,
          .optimizer = o.optimizer,
          .lr = o.lr,
          .momentum = o.momentum,
          .schedule = o.schedule,
          .batch_size = o.batch_size,
          .shard_size = o.shard_size,  // made effective before training starts
          .seed = o.seed,
          .limit = o.limit,
          .generator = generator_state()};
}

std::map<std::string, std::string> to_metadata(const RunRecord& r) {
  return {{"run_format", kFormat},
          {"epoch", std::to_string(r.epochs_done)},
          {"epochs", std::to_string(r.epochs_planned)},
          {"schedule", r.schedule},
          {"model", r.model},
          {"optimizer", r.optimizer},
          {"lr", exact(r.lr)},
          {"momentum", exact(r.momentum)},
          {"batch_size", std::to_string(r.batch_size)},
          {"shard_size", std::to_string(r.shard_size)},
          {"seed", std::to_string(r.seed)},
          {"limit", std::to_string(r.limit)},
          {"generator_seed", std::to_string(r.generator.seed)},
          {"generator_offset", std::to_string(r.generator.offset)}};
}

RunRecord from_metadata(const std::map<std::string, std::string>& md, const std::string& path) {
  const std::string format = parse_text(md, "run_format", path);
  if (format != kFormat)
    throw FormatError("[dm] checkpoint '" + path + "' has run format '" + format + "', expected '" + kFormat + "'");
  RunRecord r;
  r.epochs_done = parse_number<std::int64_t>(md, "epoch", path);
  r.epochs_planned = parse_number<std::int64_t>(md, "epochs", path);
  r.schedule = parse_text(md, "schedule", path);
  r.model = parse_text(md, "model", path);
  r.optimizer = parse_text(md, "optimizer", path);
  r.lr = parse_number<double>(md, "lr", path);
  r.momentum = parse_number<double>(md, "momentum", path);
  r.batch_size = parse_number<std::int64_t>(md, "batch_size", path);
  r.shard_size = parse_number<std::int64_t>(md, "shard_size", path);
  r.seed = parse_number<std::uint64_t>(md, "seed", path);
  r.limit = parse_number<std::int64_t>(md, "limit", path);
  r.generator.seed = parse_number<std::uint64_t>(md, "generator_seed", path);
  r.generator.offset = parse_number<std::uint64_t>(md, "generator_offset", path);
  // The flags' rules first: a resumed run must not get by the file what the command line refuses.
  if (const auto broken = broken_train_rule(settings_of(r)))
    throw FormatError("[dm] checkpoint '" + path + "' records a setting dm train refuses: " + *broken);
  // A record also holds what no flag sets: epochs done, and the shard size actually used.
  if (r.epochs_done < 0 || r.shard_size < 1)
    throw FormatError("[dm] checkpoint '" + path + "' records impossible values (epoch " + std::to_string(r.epochs_done) +
                      ", shard size " + std::to_string(r.shard_size) + ")");
  return r;
}

RunRecord read_run_record(const std::string& path) { return from_metadata(io::load_safetensors_metadata(path), path); }

}  // namespace dm::cli
