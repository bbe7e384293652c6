// Fashion-MNIST from the IDX files of Debian's dataset-fashion-mnist package.
#include "democratising/data/fashion_mnist.hpp"

#include <sys/stat.h>

#include <string>

#include "democratising/base/error.hpp"
#include "democratising/io/idx.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::data {
namespace {

constexpr const char* kPackageHint = "install the Debian package dataset-fashion-mnist (apt install dataset-fashion-mnist)";

bool exists(const std::string& path, bool want_dir) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

// The package ships gzip-compressed files; an unpacked copy works too.
std::string locate(const std::string& dir, const std::string& stem) {
  const std::string gz = dir + "/" + stem + ".gz";
  if (exists(gz, false)) return gz;
  const std::string raw = dir + "/" + stem;
  if (exists(raw, false)) return raw;
  throw IoError("[FashionMNIST] missing file '" + gz + "'; " + kPackageHint);
}

[[noreturn]] void malformed(const std::string& path, const std::string& problem) {
  throw FormatError("[FashionMNIST] '" + path + "': " + problem);
}

// u8 pixels (n, 28, 28) -> f32 in [0, 1], shape (n, 784) or (n, 1, 28, 28).
Tensor to_unit_floats(const Tensor& pixels, bool flatten) {
  const std::int64_t n = pixels.size(0);
  const Shape shape = flatten ? Shape{n, FashionMNIST::kRows * FashionMNIST::kCols}
                              : Shape{n, 1, FashionMNIST::kRows, FashionMNIST::kCols};
  Tensor out = Tensor::empty(shape, DType::f32);
  const auto* src = pixels.data<std::uint8_t>();
  float* dst = out.data<float>();
  par_for(pixels.numel(), 1 << 16, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
  });
  return out;
}

// u8 labels (n) -> i64 (n), each checked to name one of the classes.
Tensor to_class_indices(const Tensor& labels, const std::string& path) {
  Tensor out = Tensor::empty({labels.size(0)}, DType::i64);
  const auto* src = labels.data<std::uint8_t>();
  auto* dst = out.data<std::int64_t>();
  for (std::int64_t i = 0; i < labels.size(0); ++i) {
    if (src[i] >= FashionMNIST::kClasses)
      malformed(path, "label " + std::to_string(src[i]) + " at index " + std::to_string(i) + " is not a class in 0..9");
    dst[i] = src[i];
  }
  return out;
}

TensorDataset load_split(Split split, const std::string& dir, FashionMNISTOptions options) {
  if (!exists(dir, true)) throw IoError("[FashionMNIST] directory '" + dir + "' not found; " + kPackageHint);
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const std::string images_path = locate(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = locate(dir, prefix + "-labels-idx1-ubyte");

  const Tensor images = io::read_idx(images_path);
  const Tensor labels = io::read_idx(labels_path);
  if (images.dtype() != DType::u8 || images.dim() != 3 || images.size(1) != FashionMNIST::kRows ||
      images.size(2) != FashionMNIST::kCols)
    malformed(images_path, "expected u8 images (N, 28, 28), got " + std::string(dtype_name(images.dtype())) + " " +
                               images.shape().str());
  if (labels.dtype() != DType::u8 || labels.dim() != 1)
    malformed(labels_path, "expected u8 labels (N), got " + std::string(dtype_name(labels.dtype())) + " " +
                               labels.shape().str());
  // An empty split would train nothing and report a rate of 0 samples/s as if all went well.
  if (images.size(0) == 0) malformed(images_path, "holds no images; a split needs at least one sample");
  if (labels.size(0) != images.size(0))
    malformed(labels_path, std::to_string(labels.size(0)) + " labels for " + std::to_string(images.size(0)) +
                               " images in '" + images_path + "'");
  return TensorDataset(to_unit_floats(images, options.flatten), to_class_indices(labels, labels_path));
}

}  // namespace

FashionMNIST::FashionMNIST(Split split, const std::string& dir, FashionMNISTOptions options)
    : TensorDataset(load_split(split, dir, options)) {}

}  // namespace dm::data
