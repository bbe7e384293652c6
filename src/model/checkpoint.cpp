// Model checkpoints as safetensors: parameters under "param.<name>", the module's buffers
// (batch norm's running statistics) under "buffer.<name>", optimizer state under
// "optim.<name>", a trainer's own tensors under "extra.<name>", metadata "format" and
// "optimizer" beside the caller's keys. Loading checks the whole file against the model before
// it changes anything. A model without buffers writes exactly what it wrote before buffers
// existed, so older checkpoints of such models still load.
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/ops/finite.hpp"
#include "democratising/io/safetensors.hpp"
#include "democratising/model/model.hpp"
#include "model_state.hpp"

namespace dm {
namespace {

constexpr const char* kFormat = "democratising-checkpoint-1";
constexpr std::string_view kParamPrefix = "param.";
constexpr std::string_view kOptimPrefix = "optim.";
constexpr std::string_view kBufferPrefix = "buffer.";
constexpr std::string_view kExtraPrefix = "extra.";

[[noreturn]] void mismatch(const std::string& path, const std::string& what) {
  throw FormatError("[load_checkpoint] " + path + ": " + what);
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

std::string describe(const Tensor& t) { return std::string(dtype_name(t.dtype())) + " " + t.shape().str(); }

// A copy of the optimizer's state that its next load_state cannot overwrite.
nn::NamedTensors snapshot(const optim::Optimizer& optimizer) {
  nn::NamedTensors out;
  for (const auto& [name, t] : optimizer.state()) out.emplace_back(name, t.clone());
  return out;
}

// The first tensor holding NaN or infinity, so that a diverged run is named, not saved or loaded.
const std::string* first_non_finite(const io::NamedTensors& tensors) {
  for (const auto& [name, t] : tensors)
    if (!all_finite(t)) return &name;
  return nullptr;
}

}  // namespace

void Model::save_checkpoint(const std::string& path, const std::map<std::string, std::string>& metadata,
                            CheckpointOptions options) const {
  const State& s = *state_;
  std::shared_lock lock(*s.mutex);
  io::NamedTensors tensors;
  for (auto& [name, p] : s.layout->named_views(s.flat)) tensors.emplace_back(std::string(kParamPrefix) + name, std::move(p));
  for (auto& [name, b] : s.module->named_buffers()) tensors.emplace_back(std::string(kBufferPrefix) + name, std::move(b));
  for (const auto& [name, t] : s.optimizer->state()) tensors.emplace_back(std::string(kOptimPrefix) + name, t);
  if (options.extra)
    for (const auto& [name, t] : *options.extra) tensors.emplace_back(std::string(kExtraPrefix) + name, t);
  if (!options.allow_non_finite)
    if (const std::string* bad = first_non_finite(tensors))
      throw ValueError("[save_checkpoint] " + path + ": tensor '" + *bad +
                       "' holds NaN or infinity (the run diverged); nothing was written");
  io::Metadata meta = metadata;
  meta["format"] = kFormat;  // ours win: a loader relies on them
  meta["optimizer"] = s.optimizer->name();
  io::save_safetensors(path, tensors, meta);
}

std::map<std::string, std::string> Model::load_checkpoint(const std::string& path, CheckpointOptions options) {
  State& s = *state_;
  io::SafetensorsContents contents = io::load_safetensors_contents(path);
  if (!options.allow_non_finite)
    if (const std::string* bad = first_non_finite(contents.tensors))
      throw ValueError("[load_checkpoint] " + path + ": tensor '" + *bad +
                       "' holds NaN or infinity (saved from a run that diverged?); the model is unchanged");

  const auto format = contents.metadata.find("format");
  if (format == contents.metadata.end() || format->second != kFormat)
    mismatch(path, "metadata \"format\" is " +
                       (format == contents.metadata.end() ? std::string("missing") : "'" + format->second + "'") +
                       ", expected '" + kFormat + "'");

  std::map<std::string, Tensor> params;
  std::map<std::string, Tensor> buffers;
  nn::NamedTensors optim_state;
  nn::NamedTensors extra;
  for (auto& [name, t] : contents.tensors) {
    if (starts_with(name, kParamPrefix)) {
      params.emplace(name.substr(kParamPrefix.size()), std::move(t));
    } else if (starts_with(name, kBufferPrefix)) {
      buffers.emplace(name.substr(kBufferPrefix.size()), std::move(t));
    } else if (starts_with(name, kOptimPrefix)) {
      optim_state.emplace_back(name.substr(kOptimPrefix.size()), std::move(t));
    } else if (starts_with(name, kExtraPrefix)) {
      extra.emplace_back(name.substr(kExtraPrefix.size()), std::move(t));
    } else {
      mismatch(path, "tensor '" + name + "' is neither a parameter, a buffer, optimizer state nor a trainer's extra");
    }
  }

  std::unique_lock lock(*s.mutex);
  const auto optimizer = contents.metadata.find("optimizer");
  if (optimizer == contents.metadata.end() || optimizer->second != s.optimizer->name())
    mismatch(path, "optimizer is " +
                       (optimizer == contents.metadata.end() ? std::string("missing") : "'" + optimizer->second + "'") +
                       ", this model uses '" + s.optimizer->name() + "'");
  const nn::ParameterLayout& layout = *s.layout;
  std::set<std::string> expected;
  for (const nn::ParameterLayout::Entry& e : layout.entries()) {
    expected.insert(e.name);
    const auto it = params.find(e.name);
    if (it == params.end()) mismatch(path, "parameter '" + e.name + "' is missing");
    if (it->second.shape() != e.shape || it->second.dtype() != layout.dtype())
      mismatch(path, "parameter '" + e.name + "' is " + describe(it->second) + ", the model has " +
                         std::string(dtype_name(layout.dtype())) + " " + e.shape.str());
  }
  for (const auto& [name, _] : params)
    if (!expected.count(name)) mismatch(path, "parameter '" + name + "' is not in the model");

  const nn::NamedTensors model_buffers = s.module->named_buffers();
  std::set<std::string> expected_buffers;
  for (const auto& [name, current] : model_buffers) {
    expected_buffers.insert(name);
    const auto it = buffers.find(name);
    if (it == buffers.end()) mismatch(path, "buffer '" + name + "' is missing");
    if (it->second.shape() != current.shape() || it->second.dtype() != current.dtype())
      mismatch(path, "buffer '" + name + "' is " + describe(it->second) + ", the model has " + describe(current));
  }
  for (const auto& [name, _] : buffers)
    if (!expected_buffers.count(name)) mismatch(path, "buffer '" + name + "' is not in the model");

  // The optimizer checks its own state's names and shapes; on failure it gets its old state
  // back, so the model is left as it was.
  NoGradGuard no_grad;
  const nn::NamedTensors previous = snapshot(*s.optimizer);
  try {
    s.optimizer->load_state(optim_state);
  } catch (const Error& e) {
    s.optimizer->load_state(previous);
    mismatch(path, std::string("optimizer state: ") + e.what());
  }
  const std::vector<Tensor> views = layout.views(s.flat);
  for (std::size_t i = 0; i < views.size(); ++i) Tensor(views[i]).copy_(params.at(layout[i].name));
  for (const auto& [name, _] : model_buffers) s.module->load_buffer(name, buffers.at(name));
  if (options.extra) *options.extra = std::move(extra);
  return contents.metadata;
}

}  // namespace dm
