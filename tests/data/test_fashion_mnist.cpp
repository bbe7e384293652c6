// Fashion-MNIST from Debian's dataset-fashion-mnist package. These tests need the package:
// without it they fail (the library's promise is that the installed dataset loads).
#include <gtest/gtest.h>
#include <zlib.h>

#include <array>

#include "democratising/data/dataloader.hpp"
#include "democratising/data/fashion_mnist.hpp"
#include "democratising/base/error.hpp"
#include "io/idx_fixtures.hpp"
#include "io/temp_dir.hpp"

namespace {

using dm::data::FashionMNIST;
using dm::data::Split;

// The whole decompressed file, read with zlib's gz* API: a path independent of read_idx.
std::vector<unsigned char> gunzip_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  if (!f) return {};
  std::vector<unsigned char> out;
  std::array<unsigned char, 1 << 16> chunk;
  int n = 0;
  while ((n = gzread(f, chunk.data(), chunk.size())) > 0) out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  gzclose(f);
  return out;
}

class FashionMNISTPackage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    train_ = new FashionMNIST(Split::train);
    test_ = new FashionMNIST(Split::test);
  }
  static void TearDownTestSuite() {
    delete train_;
    delete test_;
  }
  static FashionMNIST* train_;
  static FashionMNIST* test_;
};
FashionMNIST* FashionMNISTPackage::train_ = nullptr;
FashionMNIST* FashionMNISTPackage::test_ = nullptr;

TEST_F(FashionMNISTPackage, SizesShapesAndDTypes) {
  EXPECT_EQ(train_->size(), 60000);
  EXPECT_EQ(test_->size(), 10000);
  EXPECT_EQ(train_->images().shape(), (std::vector<std::int64_t>{60000, 784}));
  EXPECT_EQ(test_->images().shape(), (std::vector<std::int64_t>{10000, 784}));
  EXPECT_EQ(train_->images().dtype(), dm::DType::f32);
  EXPECT_EQ(train_->labels().shape(), (std::vector<std::int64_t>{60000}));
  EXPECT_EQ(train_->labels().dtype(), dm::DType::i64);
}

TEST_F(FashionMNISTPackage, PixelsInUnitRangeAndLabelsBalanced) {
  for (const FashionMNIST* ds : {train_, test_}) {
    const float* px = ds->images().data<float>();
    float lo = 1.0f, hi = 0.0f;
    for (std::int64_t i = 0; i < ds->images().numel(); ++i) {
      lo = std::min(lo, px[i]);
      hi = std::max(hi, px[i]);
    }
    EXPECT_EQ(lo, 0.0f);
    EXPECT_EQ(hi, 1.0f);
    // Fashion-MNIST is exactly balanced: 6000 (train) or 1000 (test) images per class.
    std::array<std::int64_t, 10> counts{};
    for (std::int64_t label : ds->labels().to_vector<std::int64_t>()) {
      ASSERT_GE(label, 0);
      ASSERT_LE(label, 9);
      ++counts[static_cast<std::size_t>(label)];
    }
    for (std::int64_t c : counts) EXPECT_EQ(c, ds->size() / 10);
  }
}

TEST_F(FashionMNISTPackage, MatchesTheRawFilesDecodedIndependently) {
  const std::string dir = dm::data::kFashionMnistDir;
  const auto images = gunzip_file(dir + "/t10k-images-idx3-ubyte.gz");
  const auto labels = gunzip_file(dir + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_EQ(images.size(), 16u + 10000u * 784u);
  ASSERT_EQ(labels.size(), 8u + 10000u);
  EXPECT_EQ(images[2], 0x08);
  EXPECT_EQ(images[3], 3);
  const float* px = test_->images().data<float>();
  for (std::size_t i = 0; i < 10000u * 784u; ++i)
    ASSERT_EQ(px[i], static_cast<float>(images[16 + i]) / 255.0f) << "pixel " << i;
  const auto got = test_->labels().to_vector<std::int64_t>();
  for (std::size_t i = 0; i < 10000u; ++i) ASSERT_EQ(got[i], labels[8 + i]) << "label " << i;
}

TEST_F(FashionMNISTPackage, ImageLayoutOptionAndLoading) {
  const FashionMNIST nchw(Split::test, dm::data::kFashionMnistDir, {.flatten = false});
  EXPECT_EQ(nchw.images().shape(), (std::vector<std::int64_t>{10000, 1, 28, 28}));
  EXPECT_EQ(nchw.images().to_vector<float>(), test_->images().to_vector<float>());
  const dm::data::DataLoader loader(*test_, {.batch_size = 256, .shuffle = true, .seed = 1});
  EXPECT_EQ(loader.size(), 40);
  const dm::Batch b = loader.batch(39);
  EXPECT_EQ(b.x.shape(), (std::vector<std::int64_t>{10000 - 39 * 256, 784}));
  EXPECT_EQ(b.y.shape(), (std::vector<std::int64_t>{10000 - 39 * 256}));
}

TEST(FashionMNIST, MissingDirectoryNamesThePackageAndPath) {
  dm::testing::TempDir tmp;
  const std::string dir = tmp.file("no-fashion-mnist-here");
  try {
    FashionMNIST ds(Split::train, dir);
    FAIL() << "expected IoError";
  } catch (const dm::IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("dataset-fashion-mnist"), std::string::npos) << what;
    EXPECT_NE(what.find(dir), std::string::npos) << what;
  }
}

TEST(FashionMNIST, MissingFileNamesThePackageAndFile) {
  dm::testing::TempDir tmp;  // exists, but holds no files
  try {
    FashionMNIST ds(Split::test, tmp.path().string());
    FAIL() << "expected IoError";
  } catch (const dm::IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("dataset-fashion-mnist"), std::string::npos) << what;
    EXPECT_NE(what.find("t10k-images-idx3-ubyte"), std::string::npos) << what;
  }
}

// A tiny dataset written by the test: uncompressed files work, and inconsistent ones do not.
TEST(FashionMNIST, SmallHandMadeFilesAndTheirChecks) {
  using dm::testing::Bytes;
  dm::testing::TempDir tmp;
  Bytes pixels(2 * 28 * 28);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::byte>(i % 256);
  const auto write_labels = [&](std::initializer_list<int> values, std::vector<std::uint32_t> dims) {
    Bytes payload;
    dm::testing::append(payload, values);
    dm::testing::write_bytes(tmp.file("train-labels-idx1-ubyte"), dm::testing::idx_bytes(0x08, dims, payload));
  };
  dm::testing::write_bytes(tmp.file("train-images-idx3-ubyte"), dm::testing::idx_bytes(0x08, {2, 28, 28}, pixels));
  write_labels({3, 9}, {2});
  const FashionMNIST ds(Split::train, tmp.path().string());
  EXPECT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.labels().to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, 9}));
  EXPECT_EQ(ds.images().data<float>()[300], static_cast<float>(300 % 256) / 255.0f);

  write_labels({3, 10}, {2});
  EXPECT_THROW(FashionMNIST(Split::train, tmp.path().string()), dm::FormatError);  // label out of 0..9
  write_labels({3, 4, 5}, {3});
  EXPECT_THROW(FashionMNIST(Split::train, tmp.path().string()), dm::FormatError);  // 3 labels, 2 images
}

}  // namespace
