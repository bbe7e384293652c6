#pragma once
// nn::Patchify: images cut into non-overlapping patches, each flattened into one token, the
// first step of a vision transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", 2021).
// A Dense layer after it projects each patch, which is the same as a convolution whose kernel and
// stride are the patch size, without an im2col:
//
//   dm::nn::Sequential().add(dm::nn::Patchify(28, 7)).add(dm::nn::Dense(49, 64));  // (N, 784) -> (N, 16, 64)
#include <cstdint>
#include <string>

#include "democratising/nn/conv.hpp"
#include "democratising/nn/module.hpp"

namespace dm::nn {

/// (N, C, H, W) images, or the same flat as (N, C*H*W), to (N, P, C*ph*pw): P = (H/ph)*(W/pw)
/// patches in row-major order, each holding its values channel by channel, then row by row (the
/// order of a Conv2d weight's (C, ph, pw)). Made by a reshape and a permute of views; the one
/// copy is the final reshape's. An input of another shape is a ShapeError naming the layer and
/// the shape.
class Patchify : public Module {
 public:
  /// Images of `image_size` with `channels` channels cut into patches of `patch_size`, which
  /// must divide the image (ShapeError otherwise; every size at least 1).
  Patchify(Size2 image_size, Size2 patch_size, std::int64_t channels = 1);
  Tensor forward(const Tensor& x) const override;
  /// E.g. "Patchify((28, 28) -> 16 patches of (7, 7))".
  std::string name() const override;
  /// P, the number of patches (tokens) per image.
  std::int64_t num_patches() const;
  /// C*ph*pw, the values per patch.
  std::int64_t patch_features() const;

 private:
  Size2 image_, patch_;
  std::int64_t channels_;
};

}  // namespace dm::nn
