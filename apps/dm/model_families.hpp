#pragma once
// The networks `dm train --model` (and dm eval, dm ps) name, for 28x28 Fashion-MNIST images that
// come flat (784 values per sample):
//   mlp:784-256-128-10   Dense layers of these sizes with ReLU between them
//   cnn                  two 3x3 convolution blocks, then a small classifier (fashion_cnn)
//   cnn:C1-C2-H          the same with C1 and C2 channels and H hidden units
//   vit                  a small vision transformer over 16 patches of 7x7 (fashion_vit)
//   vit:D-H-L-M          the same with embedding size D, H heads, L encoder layers, MLP width M
#include <cstdint>
#include <string>
#include <string_view>

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

/// The sizes of the vit family.
struct VitSizes {
  std::int64_t dim = 64;       // D, the size of a token
  std::int64_t heads = 4;      // attention heads; they must divide D
  std::int64_t layers = 2;     // encoder blocks
  std::int64_t mlp = 128;      // hidden units of each block's MLP
};

/// Patchify (N, 784) into 16 patches of 7x7 (N, 16, 49); Dense to D; a learned positional
/// embedding (16, D); `layers` pre-norm TransformerEncoderLayers (GELU MLP); LayerNorm; the mean
/// over the 16 tokens; Dense to the 10 classes.
nn::Sequential fashion_vit(const VitSizes& sizes = {});

/// The family a --model spec names: "cnn" or "vit" (bare or with sizes after ':'), else "mlp"
/// (network_from_spec reports a malformed spec).
std::string_view model_family(const std::string& spec);

/// The network of a --model spec (see the file comment); UsageError for one that is malformed.
nn::Sequential network_from_spec(const std::string& spec);

}  // namespace dm::cli
