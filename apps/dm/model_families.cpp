// The model families of the dm tool: the MLP specs the library parses, a small CNN and a small
// vision transformer.
#include "model_families.hpp"

#include <charconv>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "setup.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/normalization.hpp"
#include "democratising/nn/patchify.hpp"
#include "democratising/nn/tokens.hpp"
#include "democratising/nn/transformer.hpp"
#include "democratising/nn/unflatten.hpp"

namespace dm::cli {
namespace {

constexpr std::int64_t kSide = 28;  // Fashion-MNIST images are 28x28, one channel

// One convolution block: 3x3 convolution, batch norm over the whole batch, ReLU, 2x2 pooling.
void add_conv_block(nn::Sequential& net, std::int64_t in_channels, std::int64_t out_channels) {
  net.add(nn::Conv2d(in_channels, out_channels, 3, 1, 1))
      .add(nn::BatchNorm2d(out_channels))
      .add(nn::ReLU())
      .add(nn::MaxPool2d(2));
}

// The dash-separated sizes of "family:A-B-..." : `count` whole numbers in 1..65536. `usage` ends
// each message, e.g. "expected cnn or cnn:32-64-128".
std::vector<std::int64_t> parse_sizes(const std::string& spec, std::string_view sizes, std::size_t count,
                                      const std::string& what, const std::string& usage) {
  std::vector<std::int64_t> values;
  while (true) {
    const std::size_t dash = sizes.find('-');
    const std::string_view part = sizes.substr(0, dash);
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || value < 1 || value > (1 << 16))
      throw UsageError("[dm] model '" + spec + "': sizes must be whole numbers in 1..65536 (" + usage + ")");
    values.push_back(value);
    if (dash == std::string_view::npos) break;
    sizes = sizes.substr(dash + 1);
  }
  if (values.size() != count) throw UsageError("[dm] model '" + spec + "': " + what + " (" + usage + ")");
  return values;
}

// "C1-C2-H" of "cnn:C1-C2-H": three positive sizes.
CnnSizes parse_cnn_sizes(const std::string& spec, std::string_view sizes) {
  const auto v = parse_sizes(spec, sizes, 3, "a cnn takes three sizes, C1-C2-H", "expected cnn or cnn:32-64-128");
  return {.conv1 = v[0], .conv2 = v[1], .hidden = v[2]};
}

// "D-H-L-M" of "vit:D-H-L-M": four positive sizes, the heads dividing D.
VitSizes parse_vit_sizes(const std::string& spec, std::string_view sizes) {
  const std::string usage = "expected vit or vit:64-4-2-128";
  const auto v = parse_sizes(spec, sizes, 4, "a vit takes four sizes, D-H-L-M", usage);
  if (v[0] % v[1] != 0)
    throw UsageError("[dm] model '" + spec + "': the " + std::to_string(v[1]) + " heads must divide the embedding size " +
                     std::to_string(v[0]) + " (" + usage + ")");
  return {.dim = v[0], .heads = v[1], .layers = v[2], .mlp = v[3]};
}

bool has_prefix(const std::string& spec, std::string_view prefix) { return spec.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

nn::Sequential fashion_cnn(const CnnSizes& s) {
  nn::Sequential net;
  net.add(nn::Unflatten(1, {1, kSide, kSide}));
  add_conv_block(net, 1, s.conv1);
  add_conv_block(net, s.conv1, s.conv2);
  const std::int64_t side = kSide / 4;  // two poolings of 2
  net.add(nn::Flatten())
      .add(nn::Dropout(s.dropout))
      .add(nn::Dense(s.conv2 * side * side, s.hidden))
      .add(nn::ReLU())
      .add(nn::Dense(s.hidden, kClasses));
  return net;
}

nn::Sequential fashion_vit(const VitSizes& s) {
  constexpr std::int64_t patch = 7;  // 16 patches of 49 values: short sequences, cheap attention
  const nn::Patchify patchify(kSide, patch);
  const std::int64_t tokens = patchify.num_patches();
  nn::Sequential net;
  net.add(patchify).add(nn::Dense(patchify.patch_features(), s.dim)).add(nn::PositionalEmbedding(tokens, s.dim));
  for (std::int64_t i = 0; i < s.layers; ++i) net.add(nn::TransformerEncoderLayer(s.dim, s.heads, s.mlp));
  net.add(nn::LayerNorm({s.dim})).add(nn::TokenMean()).add(nn::Dense(s.dim, kClasses));
  return net;
}

std::string_view model_family(const std::string& spec) {
  for (std::string_view family : {"cnn", "vit"})
    if (spec == family || (has_prefix(spec, family) && spec.size() > family.size() && spec[family.size()] == ':'))
      return family;
  return "mlp";
}

nn::Sequential network_from_spec(const std::string& spec) {
  if (spec == "cnn") return fashion_cnn();
  constexpr std::string_view cnn_prefix = "cnn:";
  if (has_prefix(spec, cnn_prefix))
    return fashion_cnn(parse_cnn_sizes(spec, std::string_view(spec).substr(cnn_prefix.size())));
  if (spec == "vit") return fashion_vit();
  constexpr std::string_view vit_prefix = "vit:";
  if (has_prefix(spec, vit_prefix))
    return fashion_vit(parse_vit_sizes(spec, std::string_view(spec).substr(vit_prefix.size())));
  try {
    return nn::mlp_from_spec(spec);
  } catch (const Error& e) {
    throw UsageError(std::string(e.what()) + "; or cnn for the convolutional network, vit for the vision transformer");
  }
}

}  // namespace dm::cli
