// The edges of the data layer: a split with no samples is an error naming the file (not a run
// that trains nothing), and batch sizes up to INT64_MAX give one batch, not wrapped arithmetic.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "democratising/data/dataloader.hpp"
#include "democratising/data/dataset.hpp"
#include "democratising/data/fashion_mnist.hpp"
#include "democratising/base/error.hpp"
#include "io/idx_fixtures.hpp"
#include "io/temp_dir.hpp"

namespace {

using dm::Tensor;
using dm::testing::Bytes;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// Unpacked IDX files of one split: n images of 28x28 zeros and n labels of class 0.
void write_split(const dm::testing::TempDir& dir, const std::string& prefix, std::uint32_t n) {
  const Bytes pixels(static_cast<std::size_t>(n) * 28 * 28, std::byte{0});
  const Bytes labels(n, std::byte{0});
  dm::testing::write_bytes(dir.file(prefix + "-images-idx3-ubyte"), dm::testing::idx_bytes(0x08, {n, 28, 28}, pixels));
  dm::testing::write_bytes(dir.file(prefix + "-labels-idx1-ubyte"), dm::testing::idx_bytes(0x08, {n}, labels));
}

TEST(FashionMNISTFiles, AnEmptySplitIsAFormatErrorNamingTheFile) {
  dm::testing::TempDir dir;
  write_split(dir, "train", 0);
  write_split(dir, "t10k", 3);
  try {
    dm::data::FashionMNIST empty(dm::data::Split::train, dir.path().string());
    ADD_FAILURE() << "an empty training split loaded with " << empty.size() << " samples";
  } catch (const dm::FormatError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(dir.file("train-images-idx3-ubyte")), std::string::npos) << what;
    EXPECT_NE(what.find("no images"), std::string::npos) << what;
  }
  // The same files with samples load: the error is about the count, not the fixture.
  const dm::data::FashionMNIST test(dm::data::Split::test, dir.path().string());
  EXPECT_EQ(test.size(), 3);
}

TEST(DataLoaderLimits, BatchSizesUpToInt64MaxGiveOneBatchOfEverything) {
  const Tensor x = Tensor::arange(0, 10).reshape({5, 2});
  const Tensor y = Tensor::arange(0, 5, 1, dm::DType::i64);
  for (const std::int64_t batch : {std::int64_t{5}, std::int64_t{6}, kMax / 2, kMax - 1, kMax}) {
    SCOPED_TRACE(batch);
    const dm::data::DataLoader loader(dm::data::TensorDataset(x, y), {.batch_size = batch});
    ASSERT_EQ(loader.size(), 1);
    std::int64_t batches = 0;
    for (const dm::Batch& b : loader) {
      ++batches;
      EXPECT_EQ(b.x.shape(), (std::vector<std::int64_t>{5, 2}));
      EXPECT_EQ(b.y.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
    }
    EXPECT_EQ(batches, 1);
  }
  // And the last, partial batch of an ordinary size is still cut where it should be.
  const dm::data::DataLoader threes(dm::data::TensorDataset(x, y), {.batch_size = 3});
  ASSERT_EQ(threes.size(), 2);
  std::vector<std::int64_t> sizes;
  for (const dm::Batch& b : threes) sizes.push_back(b.x.size(0));
  EXPECT_EQ(sizes, (std::vector<std::int64_t>{3, 2}));
}

}  // namespace
