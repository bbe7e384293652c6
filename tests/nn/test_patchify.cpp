// nn::Patchify against a plain loop over pixels, for flat and 4-d input, one and several
// channels, rectangular patches and a non-contiguous input; gradcheck in f64; inputs of the wrong
// shape and patches that do not tile refused with a ShapeError naming the layer and the shape.
#include <gtest/gtest.h>

#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/patchify.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

// out[n][r * cols + c][ch * ph * pw + i * pw + j] = x[n][ch][r * ph + i][c * pw + j]
std::vector<double> patches_by_loop(const std::vector<double>& x, std::int64_t n, std::int64_t channels,
                                    std::int64_t h, std::int64_t w, std::int64_t ph, std::int64_t pw) {
  const std::int64_t rows = h / ph, cols = w / pw, features = channels * ph * pw;
  std::vector<double> out(static_cast<std::size_t>(n * rows * cols * features));
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        for (std::int64_t ch = 0; ch < channels; ++ch)
          for (std::int64_t i = 0; i < ph; ++i)
            for (std::int64_t j = 0; j < pw; ++j) {
              const std::int64_t token = r * cols + c, feature = (ch * ph + i) * pw + j;
              out[static_cast<std::size_t>((b * rows * cols + token) * features + feature)] =
                  x[static_cast<std::size_t>(((b * channels + ch) * h + r * ph + i) * w + c * pw + j)];
            }
  return out;
}

TEST(Patchify, FlatImagesMatchALoop) {
  const Tensor x = normal({3, 784}, 1);
  const nn::Patchify layer(28, 7);
  const Tensor y = layer(x);
  EXPECT_EQ(y.shape(), Shape({3, 16, 49}));
  EXPECT_EQ(layer.num_patches(), 16);
  EXPECT_EQ(layer.patch_features(), 49);
  // A pure rearrangement: exact.
  expect_close(y, patches_by_loop(x.to_vector<double>(), 3, 1, 28, 28, 7, 7), 0, 0);
}

TEST(Patchify, ChannelsAndRectangularPatchesMatchALoop) {
  const Tensor x = normal({2, 3, 6, 8}, 2, DType::f64);
  const nn::Patchify layer({6, 8}, {3, 2}, 3);
  const Tensor y = layer(x);
  EXPECT_EQ(y.shape(), Shape({2, 8, 18}));
  const std::vector<double> want = patches_by_loop(x.to_vector<double>(), 2, 3, 6, 8, 3, 2);
  expect_close(y, want, 0, 0);
  expect_close(layer(x.flatten(1)), want, 0, 0, "the same images given flat");
}

TEST(Patchify, NonContiguousInputMatchesALoop) {
  // (2, 1, 4, 4) images read through a transpose of a (2, 1, 4, 4) buffer.
  const Tensor base = normal({2, 1, 4, 4}, 3);
  const Tensor x = base.transpose(2, 3);
  ASSERT_FALSE(x.is_contiguous());
  const nn::Patchify layer(4, 2);
  expect_close(layer(x), patches_by_loop(x.contiguous().to_vector<double>(), 2, 1, 4, 4, 2, 2), 0, 0);
}

TEST(Patchify, GradcheckF64) {
  const nn::Patchify layer({4, 6}, {2, 3}, 2);
  const Tensor x = leaf64({2, 48}, 4);
  const auto r = dm::autograd::gradcheck([&](const std::vector<Tensor>& in) { return layer(in[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Patchify, GradcheckF64NonContiguous) {
  const nn::Patchify layer(4, 2, 2);
  // The leaf is (4, 4, 2, 3) -> permuted to (3, 2, 4, 4): strides that are nowhere contiguous.
  const Tensor x = leaf64({4, 4, 2, 3}, 5);
  const auto r = dm::autograd::gradcheck(
      [&](const std::vector<Tensor>& in) { return layer(in[0].permute({3, 2, 0, 1})); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Patchify, WrongInputIsAShapeErrorNamingTheLayerAndShape) {
  const nn::Patchify layer(28, 7);
  expect_throw_with<dm::ShapeError>([&] { (void)layer(Tensor::zeros({2, 783})); },
                                    "[Patchify((28, 28) -> 16 patches of (7, 7))] x must be (batch, 1, 28, 28) or "
                                    "(batch, 784), got shape (2, 783)");
  expect_throw_with<dm::ShapeError>([&] { (void)layer(Tensor::zeros({2, 3, 28, 28})); }, "got shape (2, 3, 28, 28)");
  expect_throw_with<dm::ShapeError>([&] { (void)layer(Tensor::zeros({784})); }, "got shape (784,)");
}

TEST(Patchify, PatchesThatDoNotTileAreRefused) {
  expect_throw_with<dm::ShapeError>([] { nn::Patchify(28, 5); }, "patches of (5, 5) do not tile an image of (28, 28)");
  expect_throw_with<dm::ShapeError>([] { nn::Patchify(28, 7, 0); }, "sizes must be positive");
}

}  // namespace
