// Sequential: layers in order, registered as children "0", "1", ... so parameters are named
// "0.weight", "0.bias", "2.weight"...; and the "mlp:784-128-10" spec parser.
#include "democratising/nn/sequential.hpp"

#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/nn/layers.hpp"

namespace dm::nn {

Sequential& Sequential::add_shared(std::shared_ptr<Module> layer) {
  if (!layer) throw ValueError("[Sequential] cannot add a null layer");
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) const {
  Tensor h = x;
  for (const auto& layer : layers_) h = layer->forward(h);
  return h;
}

std::string Sequential::name() const {
  std::string out = "Sequential(";
  for (std::size_t i = 0; i < layers_.size(); ++i) out += (i ? ", " : "") + layers_[i]->name();
  return out + ")";
}

namespace {

[[noreturn]] void bad_spec(const std::string& spec, const std::string& why) {
  throw ValueError("[mlp_from_spec] '" + spec + "': " + why + " (expected e.g. \"mlp:784-128-10\")");
}

}  // namespace

Sequential mlp_from_spec(const std::string& spec) {
  constexpr std::string_view prefix = "mlp:";
  if (spec.compare(0, prefix.size(), prefix) != 0) bad_spec(spec, "missing the \"mlp:\" prefix");
  std::vector<std::int64_t> sizes;
  std::string_view rest = std::string_view(spec).substr(prefix.size());
  while (true) {
    const std::size_t dash = rest.find('-');
    const std::string_view part = rest.substr(0, dash);
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size()) {
      std::string why = "'";  // built step by step: GCC 12 warns falsely on "'" + std::string(...)
      why.append(part).append("' is not a layer size");
      bad_spec(spec, why);
    }
    if (value < 1) bad_spec(spec, "layer sizes must be positive, got " + std::to_string(value));
    sizes.push_back(value);
    if (dash == std::string_view::npos) break;
    rest = rest.substr(dash + 1);
  }
  if (sizes.size() < 2) bad_spec(spec, "needs at least an input and an output size");
  Sequential net;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    if (i > 0) net.add(ReLU());
    net.add(Dense(sizes[i], sizes[i + 1]));
  }
  return net;
}

}  // namespace dm::nn
