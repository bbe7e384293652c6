// nn::Patchify: a reshape that splits each image side into (patches, patch side), a permute that
// brings the two patch indices in front of the channel and the in-patch indices, and a reshape
// that merges them. Autograd sees three view ops, so the backward is the inverse permutation.
#include "democratising/nn/patchify.hpp"

#include "democratising/base/error.hpp"
#include "window_checks.hpp"

namespace dm::nn {

using detail::pair_str;

Patchify::Patchify(Size2 image_size, Size2 patch_size, std::int64_t channels)
    : image_(image_size), patch_(patch_size), channels_(channels) {
  if (image_.h < 1 || image_.w < 1 || patch_.h < 1 || patch_.w < 1 || channels < 1)
    throw ShapeError("[Patchify] sizes must be positive, got image " + pair_str(image_) + ", patch " +
                     pair_str(patch_) + ", " + std::to_string(channels) + " channels");
  if (image_.h % patch_.h != 0 || image_.w % patch_.w != 0)
    throw ShapeError("[Patchify] patches of " + pair_str(patch_) + " do not tile an image of " + pair_str(image_));
}

std::int64_t Patchify::num_patches() const { return (image_.h / patch_.h) * (image_.w / patch_.w); }

std::int64_t Patchify::patch_features() const { return channels_ * patch_.h * patch_.w; }

Tensor Patchify::forward(const Tensor& x) const {
  const std::int64_t flat = channels_ * image_.h * image_.w;
  const bool as_flat = x.defined() && x.dim() == 2 && x.size(1) == flat;
  const bool as_images = x.defined() && x.dim() == 4 && x.size(1) == channels_ && x.size(2) == image_.h &&
                         x.size(3) == image_.w;
  if (!as_flat && !as_images)
    throw ShapeError("[" + name() + "] x must be (batch, " + std::to_string(channels_) + ", " +
                     std::to_string(image_.h) + ", " + std::to_string(image_.w) + ") or (batch, " +
                     std::to_string(flat) + "), got " +
                     (x.defined() ? "shape " + x.shape().str() : std::string("an undefined tensor")));
  const std::int64_t n = x.size(0), rows = image_.h / patch_.h, cols = image_.w / patch_.w;
  // (N, C, rows, ph, cols, pw) -> (N, rows, cols, C, ph, pw) -> (N, P, C*ph*pw)
  const Tensor split = x.reshape({n, channels_, rows, patch_.h, cols, patch_.w});
  return split.permute({0, 2, 4, 1, 3, 5}).reshape({n, num_patches(), patch_features()});
}

std::string Patchify::name() const {
  return "Patchify(" + pair_str(image_) + " -> " + std::to_string(num_patches()) + " patches of " + pair_str(patch_) +
         (channels_ == 1 ? "" : ", " + std::to_string(channels_) + " channels") + ")";
}

}  // namespace dm::nn
