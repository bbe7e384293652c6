#pragma once
// Fashion-MNIST (Xiao et al. 2017): 28x28 grey images of clothes in 10 classes, 60000 for
// training and 10000 for testing. Debian's package `dataset-fashion-mnist` installs the IDX
// files under /usr/share/datasets/fashion-mnist.
#include <string>

#include "democratising/data/dataset.hpp"

namespace dm::data {

enum class Split { train, test };

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// How FashionMNIST shapes its images.
struct FashionMNISTOptions {
  /// Images as (N, 784) when true, (N, 1, 28, 28) when false.
  bool flatten = true;
};

/// Images are f32 in [0, 1]; labels are i64 in 0..9. A missing directory or file throws
/// IoError naming the expected path and the Debian package; a malformed file FormatError.
class FashionMNIST : public TensorDataset {
 public:
  /// Reads one split from `dir` (the Debian package's directory unless given).
  explicit FashionMNIST(Split split, const std::string& dir = kFashionMnistDir, FashionMNISTOptions options = {});

  /// @name Dimensions
  //@{
  /// Classes, and the rows and columns of an image.
  static constexpr int kClasses = 10;
  static constexpr int kRows = 28;
  static constexpr int kCols = 28;
  //@}

  /// Every image: (N, 784), or (N, 1, 28, 28) unflattened.
  const Tensor& images() const { return x(); }
  /// Every label: (N) i64 in 0..9.
  const Tensor& labels() const { return y(); }
};

}  // namespace dm::data
