// Safetensors: round trips of every dtype, the on-disk layout checked field by field with an
// independent JSON parser, a hand-made file as another writer would produce it, and errors.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/io/safetensors.hpp"
#include "io/temp_dir.hpp"

namespace {

using dm::DType;
using dm::Shape;
using dm::Tensor;
using dm::testing::TempDir;

// Deterministic varied values of any dtype (a small LCG; not the library's generator).
Tensor make_values(const Shape& shape, DType dtype, std::uint32_t salt) {
  Tensor t = Tensor::empty(shape, dtype);
  std::uint32_t state = 12345u + salt * 7919u;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  auto* bytes = static_cast<unsigned char*>(t.data_ptr());
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const std::uint32_t r = next();
    switch (dtype) {
      case DType::f32: { float v = static_cast<float>(r % 20001) / 100.0f - 100.0f; std::memcpy(bytes + 4 * i, &v, 4); break; }
      case DType::f64: { double v = static_cast<double>(r) / 3.0 - 1e6; std::memcpy(bytes + 8 * i, &v, 8); break; }
      case DType::bf16: { std::uint16_t v = static_cast<std::uint16_t>(r & 0x7f7f); std::memcpy(bytes + 2 * i, &v, 2); break; }
      case DType::i32: { std::int32_t v = static_cast<std::int32_t>(r) - (1 << 23); std::memcpy(bytes + 4 * i, &v, 4); break; }
      case DType::i64: { std::int64_t v = (static_cast<std::int64_t>(r) << 20) - (std::int64_t{1} << 40); std::memcpy(bytes + 8 * i, &v, 8); break; }
      case DType::u8: bytes[i] = static_cast<unsigned char>(r); break;
      case DType::boolean: bytes[i] = static_cast<unsigned char>(r & 1u); break;
    }
  }
  return t;
}

void expect_same(const Tensor& expected, const Tensor& actual, const std::string& name) {
  ASSERT_TRUE(actual.defined()) << name;
  EXPECT_EQ(actual.dtype(), expected.dtype()) << name;
  EXPECT_EQ(actual.shape(), expected.shape()) << name;
  ASSERT_TRUE(actual.is_contiguous()) << name;
  const Tensor e = expected.contiguous();
  const auto n = static_cast<std::size_t>(e.numel()) * dm::itemsize(e.dtype());
  EXPECT_EQ(std::memcmp(actual.data_ptr(), e.data_ptr(), n), 0) << name << ": bytes differ";
}

const std::vector<Shape> kShapes = {Shape{}, Shape{0}, Shape{7}, Shape{2, 3}, Shape{3, 0, 2}, Shape{2, 1, 3, 2}};

class SafetensorsDTypeTest : public ::testing::TestWithParam<DType> {};

TEST_P(SafetensorsDTypeTest, FileRoundTripOfEveryShape) {
  TempDir dir;
  dm::io::NamedTensors tensors;
  for (std::size_t i = 0; i < kShapes.size(); ++i) {
    std::string name = "t";
    name += std::to_string(i);  // not "t" + to_string(i): GCC 12 warns falsely (-Wrestrict) on it
    tensors.emplace_back(name, make_values(kShapes[i], GetParam(), static_cast<std::uint32_t>(i)));
  }
  const std::string path = dir.file("x.safetensors");
  dm::io::save_safetensors(path, tensors, {{"dtype", std::string(dm::dtype_name(GetParam()))}});

  const auto loaded = dm::io::load_safetensors(path);
  ASSERT_EQ(loaded.size(), tensors.size());
  for (const auto& [name, t] : tensors) expect_same(t, loaded.at(name), name);
  EXPECT_EQ(dm::io::load_safetensors_metadata(path).at("dtype"), dm::dtype_name(GetParam()));
}

TEST_P(SafetensorsDTypeTest, MemoryRoundTripKeepsOrder) {
  dm::io::NamedTensors tensors;
  // Names in reverse alphabetical order: the buffer order must follow the given order.
  for (std::size_t i = 0; i < kShapes.size(); ++i)
    tensors.emplace_back(std::string(1, static_cast<char>('z' - i)), make_values(kShapes[i], GetParam(), 40u + static_cast<std::uint32_t>(i)));
  const auto bytes = dm::io::serialize_safetensors(tensors);
  const auto contents = dm::io::parse_safetensors(bytes.data(), bytes.size());
  ASSERT_EQ(contents.tensors.size(), tensors.size());
  EXPECT_TRUE(contents.metadata.empty());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(contents.tensors[i].first, tensors[i].first);
    expect_same(tensors[i].second, contents.tensors[i].second, tensors[i].first);
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, SafetensorsDTypeTest,
                         ::testing::Values(DType::f32, DType::f64, DType::bf16, DType::i32, DType::i64, DType::u8,
                                           DType::boolean),
                         [](const auto& info) { return std::string(dm::dtype_name(info.param)); });

std::uint64_t read_le_u64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::to_integer<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

// The bytes written follow the format: checked with nlohmann, independently of our reader.
TEST(Safetensors, SerializedLayoutFollowsTheFormat) {
  const Tensor a = make_values({2, 3}, DType::f32, 1);
  const Tensor b = make_values({5}, DType::i64, 2);
  const Tensor c = make_values({}, DType::bf16, 3);
  const auto bytes = dm::io::serialize_safetensors({{"a", a}, {"b", b}, {"c", c}}, {{"epoch", "3"}, {"note", "x\"y"}});
  ASSERT_GE(bytes.size(), 8u);
  const std::uint64_t n = read_le_u64(bytes.data());
  EXPECT_EQ(n % 8, 0u) << "header padded so the buffer is 8-byte aligned";
  ASSERT_LE(8 + n, bytes.size());
  const auto header = nlohmann::json::parse(reinterpret_cast<const char*>(bytes.data()) + 8,
                                            reinterpret_cast<const char*>(bytes.data()) + 8 + n);
  EXPECT_EQ(header["__metadata__"]["epoch"], "3");
  EXPECT_EQ(header["__metadata__"]["note"], "x\"y");
  const std::byte* buffer = bytes.data() + 8 + n;
  std::uint64_t expected_begin = 0;
  for (const auto& [name, t, dtype] : {std::tuple{"a", a, "F32"}, std::tuple{"b", b, "I64"}, std::tuple{"c", c, "BF16"}}) {
    const auto& e = header.at(name);
    EXPECT_EQ(e["dtype"], dtype);
    EXPECT_EQ(e["shape"].get<std::vector<std::int64_t>>(), t.shape().vec());
    const auto begin = e["data_offsets"][0].get<std::uint64_t>(), end = e["data_offsets"][1].get<std::uint64_t>();
    EXPECT_EQ(begin, expected_begin);
    const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * dm::itemsize(t.dtype());
    ASSERT_EQ(end - begin, nbytes);
    EXPECT_EQ(std::memcmp(buffer + begin, t.data_ptr(), nbytes), 0) << name;
    expected_begin = end;
  }
  EXPECT_EQ(8 + n + expected_begin, bytes.size()) << "no trailing bytes";
}

// A file as another writer might make it: keys out of buffer order, no padding, extra spaces.
TEST(Safetensors, ReadsAHandWrittenFile) {
  const std::string header =
      R"({ "__metadata__": {"format": "pt"}, "weight": {"dtype": "BF16", "shape": [2], "data_offsets": [8, 12]},)"
      R"( "bias": {"shape": [1], "data_offsets": [0, 8], "dtype": "I64"}, "flag": {"dtype": "BOOL", "shape": [2, 1], "data_offsets": [12, 14]} })";
  std::vector<unsigned char> raw(8);
  for (int i = 0; i < 8; ++i) raw[static_cast<std::size_t>(i)] = static_cast<unsigned char>(header.size() >> (8 * i));
  raw.insert(raw.end(), header.begin(), header.end());
  // bias = -2 as little-endian i64; weight = bf16 1.0 (0x3f80) and -2.5 (0xc020); flag = 1, 0
  for (unsigned char c : {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0x3f, 0x20, 0xc0, 0x01, 0x00}) raw.push_back(c);
  std::vector<std::byte> bytes(raw.size());
  std::memcpy(bytes.data(), raw.data(), raw.size());

  TempDir dir;
  const std::string path = dir.file("hand.safetensors");
  dm::testing::write_bytes(path, bytes);
  const auto contents = dm::io::load_safetensors_contents(path);
  ASSERT_EQ(contents.tensors.size(), 3u);
  EXPECT_EQ(contents.tensors[0].first, "bias");  // buffer order
  EXPECT_EQ(contents.tensors[1].first, "weight");
  EXPECT_EQ(contents.tensors[2].first, "flag");
  EXPECT_EQ(contents.metadata.at("format"), "pt");
  EXPECT_EQ(contents.tensors[0].second.to_vector<std::int64_t>(), std::vector<std::int64_t>{-2});
  EXPECT_EQ(contents.tensors[1].second.dtype(), DType::bf16);
  EXPECT_EQ(contents.tensors[1].second.to_vector<float>(), (std::vector<float>{1.0f, -2.5f}));
  EXPECT_EQ(contents.tensors[2].second.shape(), (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(contents.tensors[2].second.to_vector<bool>(), (std::vector<bool>{true, false}));
}

TEST(Safetensors, EmptyFileOfTensorsAndMetadataOnly) {
  TempDir dir;
  dm::io::save_safetensors(dir.file("none.safetensors"), {});
  EXPECT_TRUE(dm::io::load_safetensors(dir.file("none.safetensors")).empty());
  dm::io::save_safetensors(dir.file("meta.safetensors"), {}, {{"k", "v"}});
  EXPECT_TRUE(dm::io::load_safetensors(dir.file("meta.safetensors")).empty());
  EXPECT_EQ(dm::io::load_safetensors_metadata(dir.file("meta.safetensors")), (dm::io::Metadata{{"k", "v"}}));
}

TEST(Safetensors, NonContiguousInputIsWrittenInLogicalOrder) {
  // 2x3 tensor viewed as its 3x2 transpose: element (i, j) of the view is base (j, i).
  const Tensor base = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  const Tensor view = dm::make_view(base, Shape{3, 2}, Shape{1, 3}, 0);
  ASSERT_FALSE(view.is_contiguous());
  const auto bytes = dm::io::serialize_safetensors({{"t", view}});
  const auto contents = dm::io::parse_safetensors(bytes.data(), bytes.size());
  EXPECT_EQ(contents.tensors.at(0).second.shape(), (std::vector<std::int64_t>{3, 2}));
  EXPECT_EQ(contents.tensors.at(0).second.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Safetensors, SaveOverwritesAndLeavesNoTemporaryFiles) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  dm::io::save_safetensors(path, {{"w", Tensor::full({4}, 1.0)}});
  dm::io::save_safetensors(path, {{"w", Tensor::full({4}, 2.0)}, {"v", Tensor::zeros({2})}});
  const auto loaded = dm::io::load_safetensors(path);
  EXPECT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded.at("w").to_vector<float>(), (std::vector<float>{2, 2, 2, 2}));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "w.safetensors");
  }
  EXPECT_EQ(files, 1);
}

TEST(Safetensors, InvalidSaveArgumentsThrowAndKeepTheOldFile) {
  TempDir dir;
  const std::string path = dir.file("keep.safetensors");
  dm::io::save_safetensors(path, {{"w", Tensor::full({3}, 7.0)}});
  const Tensor t = Tensor::zeros({2});
  EXPECT_THROW(dm::io::save_safetensors(path, {{"a", t}, {"a", t}}), dm::ValueError);
  EXPECT_THROW(dm::io::save_safetensors(path, {{"__metadata__", t}}), dm::ValueError);
  EXPECT_THROW(dm::io::save_safetensors(path, {{"u", Tensor()}}), dm::ValueError);
  EXPECT_EQ(dm::io::load_safetensors(path).at("w").to_vector<float>(), (std::vector<float>{7, 7, 7}));
}

TEST(Safetensors, MissingFileOrDirectoryIsAnIoErrorNamingThePath) {
  TempDir dir;
  const std::string missing = dir.file("absent.safetensors");
  try {
    dm::io::load_safetensors(missing);
    FAIL() << "expected IoError";
  } catch (const dm::IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
  const std::string in_missing_dir = dir.file("no/such/dir/x.safetensors");
  try {
    dm::io::save_safetensors(in_missing_dir, {{"w", Tensor::zeros({1})}});
    FAIL() << "expected IoError";
  } catch (const dm::IoError& e) {
    EXPECT_NE(std::string(e.what()).find(in_missing_dir), std::string::npos) << e.what();
  }
}

}  // namespace
