// IDX reading: every element type, raw and gzip (one or several members), against values
// encoded big-endian by the test itself.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "democratising/base/error.hpp"
#include "democratising/io/idx.hpp"
#include "io/idx_fixtures.hpp"
#include "io/temp_dir.hpp"

namespace {

using dm::DType;
using dm::testing::append_be;
using dm::testing::Bytes;
using dm::testing::gzip;
using dm::testing::idx_bytes;

struct Encoded {
  Bytes payload;
  std::vector<double> values;  // what each element must read back as
};

// Values spanning the type's range (negative ones included) and their big-endian encoding.
Encoded encode(int type, std::size_t n) {
  Encoded e;
  for (std::size_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::int64_t>(i);
    switch (type) {
      case 0x08: { const auto v = static_cast<std::uint8_t>(k * 37 % 256); append_be(e.payload, v, 1); e.values.push_back(v); break; }
      case 0x09: { const auto v = static_cast<std::int8_t>(k * 37 % 256 - 128); append_be(e.payload, static_cast<std::uint8_t>(v), 1); e.values.push_back(v); break; }
      case 0x0B: { const auto v = static_cast<std::int16_t>(k * 4099 % 65536 - 32768); append_be(e.payload, static_cast<std::uint16_t>(v), 2); e.values.push_back(v); break; }
      case 0x0C: { const auto v = static_cast<std::int32_t>(k * 987654321 % 4294967296 - 2147483648); append_be(e.payload, static_cast<std::uint32_t>(v), 4); e.values.push_back(v); break; }
      case 0x0D: { const float v = static_cast<float>(k) * -1.25f + 0.1f; std::uint32_t u; std::memcpy(&u, &v, 4); append_be(e.payload, u, 4); e.values.push_back(v); break; }
      case 0x0E: { const double v = static_cast<double>(k) * 3.141592653589793 - 1e-300; std::uint64_t u; std::memcpy(&u, &v, 8); append_be(e.payload, u, 8); e.values.push_back(v); break; }
    }
  }
  return e;
}

struct TypeCase {
  int code;
  DType dtype;
};

class IdxTypeTest : public ::testing::TestWithParam<TypeCase> {};

TEST_P(IdxTypeTest, RawAndGzipReadBackExactly) {
  const auto [code, dtype] = GetParam();
  const std::vector<std::uint32_t> dims = {3, 5, 7};
  const Encoded enc = encode(code, 3 * 5 * 7);
  const Bytes raw = idx_bytes(code, dims, enc.payload);
  dm::testing::TempDir dir;
  dm::testing::write_bytes(dir.file("raw"), raw);
  dm::testing::write_bytes(dir.file("one.gz"), gzip(raw));
  // Two gzip members, as `cat a.gz b.gz` makes: the split falls inside the header.
  const Bytes head(raw.begin(), raw.begin() + 6), tail(raw.begin() + 6, raw.end());
  Bytes two = gzip(head);
  const Bytes second = gzip(tail);
  two.insert(two.end(), second.begin(), second.end());
  dm::testing::write_bytes(dir.file("two.gz"), two);

  for (const char* name : {"raw", "one.gz", "two.gz"}) {
    const dm::Tensor t = dm::io::read_idx(dir.file(name));
    EXPECT_EQ(t.dtype(), dtype) << name;
    EXPECT_EQ(t.shape(), (std::vector<std::int64_t>{3, 5, 7})) << name;
    const auto got = t.to_vector<double>();
    ASSERT_EQ(got.size(), enc.values.size());
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], enc.values[i]) << name << " element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, IdxTypeTest,
                         ::testing::Values(TypeCase{0x08, DType::u8}, TypeCase{0x09, DType::i32},
                                           TypeCase{0x0B, DType::i32}, TypeCase{0x0C, DType::i32},
                                           TypeCase{0x0D, DType::f32}, TypeCase{0x0E, DType::f64}),
                         [](const auto& info) { return "type_" + std::to_string(info.param.code); });

TEST(Idx, OneDimAndEmptyFiles) {
  dm::testing::TempDir dir;
  dm::testing::write_bytes(dir.file("labels"), idx_bytes(0x08, {4}, {std::byte{9}, std::byte{0}, std::byte{3}, std::byte{7}}));
  EXPECT_EQ(dm::io::read_idx(dir.file("labels")).to_vector<int>(), (std::vector<int>{9, 0, 3, 7}));
  dm::testing::write_bytes(dir.file("empty"), idx_bytes(0x0D, {0, 28, 28}, {}));
  const dm::Tensor e = dm::io::read_idx(dir.file("empty"));
  EXPECT_EQ(e.shape(), (std::vector<std::int64_t>{0, 28, 28}));
  EXPECT_EQ(e.dtype(), DType::f32);
}

TEST(Idx, MissingFileIsAnIoErrorNamingThePath) {
  dm::testing::TempDir dir;
  const std::string path = dir.file("absent-idx3-ubyte.gz");
  try {
    dm::io::read_idx(path);
    FAIL() << "expected IoError";
  } catch (const dm::IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
