#pragma once
// The networks `dm train --model` (and dm eval, dm ps) name, for 28x28 Fashion-MNIST images that
// come flat (784 values per sample):
//   mlp:784-256-128-10   Dense layers of these sizes with ReLU between them
//   cnn                  two 3x3 convolution blocks, then a small classifier (fashion_cnn)
//   cnn:C1-C2-H          the same with C1 and C2 channels and H hidden units
#include <cstdint>
#include <string>

#include "democratising/nn/sequential.hpp"

namespace dm::cli {

/// The sizes of the cnn family.
struct CnnSizes {
  std::int64_t conv1 = 32;   // channels of the first convolution
  std::int64_t conv2 = 64;   // channels of the second
  std::int64_t hidden = 128;  // units of the hidden Dense layer
  double dropout = 0.25;      // before the hidden Dense layer
};

/// Unflatten (N, 784) to (N, 1, 28, 28); two blocks of Conv2d 3x3 (padding 1), ReLU and
/// MaxPool2d 2; Flatten; Dropout; Dense to `hidden`, ReLU, Dense to the 10 classes.
nn::Sequential fashion_cnn(const CnnSizes& sizes = {});

/// The network of a --model spec (see the file comment); UsageError for one that is malformed.
nn::Sequential network_from_spec(const std::string& spec);

}  // namespace dm::cli
