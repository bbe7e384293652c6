// The model families of the dm tool: the MLP specs the library parses, and a small CNN.
#include "model_families.hpp"

#include <charconv>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "setup.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/normalization.hpp"
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

// "C1-C2-H" of "cnn:C1-C2-H": three positive sizes.
CnnSizes parse_cnn_sizes(const std::string& spec, std::string_view sizes) {
  std::vector<std::int64_t> values;
  while (true) {
    const std::size_t dash = sizes.find('-');
    const std::string_view part = sizes.substr(0, dash);
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || value < 1 || value > (1 << 16))
      throw UsageError("[dm] model '" + spec + "': sizes must be whole numbers in 1..65536 (expected cnn or cnn:32-64-128)");
    values.push_back(value);
    if (dash == std::string_view::npos) break;
    sizes = sizes.substr(dash + 1);
  }
  if (values.size() != 3)
    throw UsageError("[dm] model '" + spec + "': a cnn takes three sizes, C1-C2-H (expected cnn or cnn:32-64-128)");
  return {.conv1 = values[0], .conv2 = values[1], .hidden = values[2]};
}

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

nn::Sequential network_from_spec(const std::string& spec) {
  if (spec == "cnn") return fashion_cnn();
  constexpr std::string_view cnn_prefix = "cnn:";
  if (spec.compare(0, cnn_prefix.size(), cnn_prefix) == 0)
    return fashion_cnn(parse_cnn_sizes(spec, std::string_view(spec).substr(cnn_prefix.size())));
  try {
    return nn::mlp_from_spec(spec);
  } catch (const Error& e) {
    throw UsageError(std::string(e.what()) + "; or cnn for the convolutional network");
  }
}

}  // namespace dm::cli
