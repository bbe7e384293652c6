// A corpus of malformed safetensors and IDX files, generated into a temporary directory: each
// must be rejected with a FormatError that names the file, never a crash or a huge allocation.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "democratising/base/error.hpp"
#include "democratising/io/idx.hpp"
#include "democratising/io/safetensors.hpp"
#include "io/idx_fixtures.hpp"
#include "io/temp_dir.hpp"

namespace {

using dm::testing::append;
using dm::testing::Bytes;
using dm::testing::gzip;
using dm::testing::idx_bytes;

Bytes le_u64(std::uint64_t v) {
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 255));
  return out;
}

Bytes text(const std::string& s) {
  Bytes out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes filler(std::size_t n) {
  Bytes out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::byte>(i * 37 + 1));
  return out;
}

// length prefix + header text + buffer
Bytes safetensors(const std::string& header, const Bytes& buffer) {
  return cat(cat(le_u64(header.size()), text(header)), buffer);
}

const std::string kValidHeader =
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}})";
Bytes valid_safetensors() { return safetensors(kValidHeader, filler(12)); }

std::string entry(const std::string& dtype, const std::string& shape, const std::string& offsets) {
  return R"({"dtype":)" + dtype + R"(,"shape":)" + shape + R"(,"data_offsets":)" + offsets + "}";
}

Bytes one_entry(const std::string& value, std::size_t buffer) {
  return safetensors(R"({"t":)" + value + "}", filler(buffer));
}

Bytes truncated(Bytes b, std::size_t keep) {
  b.resize(keep);
  return b;
}

Bytes valid_idx() {
  Bytes payload;
  for (int i = 0; i < 12; ++i) append(payload, {i});
  return idx_bytes(0x08, {3, 4}, payload);
}

enum class Kind { safetensors, idx };

struct Case {
  std::string name;
  Kind kind;
  std::function<Bytes()> make;
  std::size_t idx_cap = dm::io::kMaxIdxBytes;
};

std::vector<Case> corpus() {
  const std::string f32x2 = entry(R"("F32")", "[2]", "[0,8]");
  std::vector<Case> c = {
      // ---- safetensors: the length prefix ----
      {"st_empty_file", Kind::safetensors, [] { return Bytes{}; }},
      {"st_truncated_in_prefix", Kind::safetensors, [] { return truncated(valid_safetensors(), 5); }},
      {"st_truncated_in_header", Kind::safetensors, [] { return truncated(valid_safetensors(), 8 + kValidHeader.size() / 2); }},
      {"st_truncated_in_buffer", Kind::safetensors, [] { return truncated(valid_safetensors(), valid_safetensors().size() - 3); }},
      {"st_prefix_only", Kind::safetensors, [] { return le_u64(0); }},
      {"st_huge_header_length", Kind::safetensors, [] { return cat(le_u64(std::uint64_t{1} << 63), text("{}")); }},
      {"st_header_length_over_100mb", Kind::safetensors, [] { return cat(le_u64(std::uint64_t{200} << 20), text("{}")); }},
      {"st_header_length_past_eof", Kind::safetensors, [] { return cat(le_u64(kValidHeader.size() + 100), cat(text(kValidHeader), filler(12))); }},
      // ---- safetensors: the JSON ----
      {"st_not_json", Kind::safetensors, [] { return safetensors("hello, world", {}); }},
      {"st_json_array", Kind::safetensors, [] { return safetensors("[1, 2, 3]", {}); }},
      {"st_json_string", Kind::safetensors, [] { return safetensors(R"("tensors")", {}); }},
      {"st_invalid_utf8_name", Kind::safetensors, [f32x2] { return safetensors("{\"\xff\xfe\":" + f32x2 + "}", filler(8)); }},
      {"st_deep_nesting", Kind::safetensors, [] { return safetensors(R"({"t":{"x":)" + std::string(40, '[') + std::string(40, ']') + "}}", {}); }},
      {"st_duplicate_names", Kind::safetensors, [f32x2] { return safetensors(R"({"a":)" + f32x2 + R"(,"a":)" + entry(R"("F32")", "[2]", "[8,16]") + "}", filler(16)); }},
      {"st_duplicate_field", Kind::safetensors, [] { return one_entry(R"({"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]})", 8); }},
      {"st_metadata_not_object", Kind::safetensors, [f32x2] { return safetensors(R"({"__metadata__":[1],"a":)" + f32x2 + "}", filler(8)); }},
      {"st_metadata_value_not_string", Kind::safetensors, [f32x2] { return safetensors(R"({"__metadata__":{"k":1},"a":)" + f32x2 + "}", filler(8)); }},
      // ---- safetensors: entries ----
      {"st_entry_not_object", Kind::safetensors, [] { return one_entry("5", 0); }},
      {"st_missing_dtype", Kind::safetensors, [] { return one_entry(R"({"shape":[2],"data_offsets":[0,8]})", 8); }},
      {"st_missing_shape", Kind::safetensors, [] { return one_entry(R"({"dtype":"F32","data_offsets":[0,8]})", 8); }},
      {"st_missing_offsets", Kind::safetensors, [] { return one_entry(R"({"dtype":"F32","shape":[2]})", 8); }},
      {"st_dtype_not_string", Kind::safetensors, [] { return one_entry(entry("7", "[2]", "[0,8]"), 8); }},
      {"st_unknown_dtype", Kind::safetensors, [] { return one_entry(entry(R"("X99")", "[2]", "[0,8]"), 8); }},
      {"st_unsupported_dtype_f16", Kind::safetensors, [] { return one_entry(entry(R"("F16")", "[4]", "[0,8]"), 8); }},
      {"st_shape_not_array", Kind::safetensors, [] { return one_entry(entry(R"("F32")", "2", "[0,8]"), 8); }},
      {"st_negative_shape", Kind::safetensors, [] { return one_entry(entry(R"("F32")", "[-2]", "[0,8]"), 8); }},
      {"st_fractional_shape", Kind::safetensors, [] { return one_entry(entry(R"("F32")", "[2.5]", "[0,8]"), 8); }},
      {"st_string_shape_entry", Kind::safetensors, [] { return one_entry(entry(R"("F32")", R"(["2"])", "[0,8]"), 8); }},
      {"st_too_many_dims", Kind::safetensors, [] { return one_entry(entry(R"("U8")", "[1,1,1,1,1,1,1,1,1]", "[0,1]"), 1); }},
      {"st_shape_size_overflow", Kind::safetensors, [] { return one_entry(entry(R"("F32")", "[4294967296,4294967296,4294967296]", "[0,8]"), 8); }},
      {"st_shape_offsets_mismatch", Kind::safetensors, [] { return one_entry(entry(R"("F32")", "[3]", "[0,8]"), 8); }},
      {"st_offsets_not_pair", Kind::safetensors, [] { return one_entry(entry(R"("F32")", "[2]", "[0,8,8]"), 8); }},
      {"st_negative_offset", Kind::safetensors, [] { return one_entry(entry(R"("F32")", "[0]", "[-4,-4]"), 0); }},
      {"st_begin_after_end", Kind::safetensors, [] { return one_entry(entry(R"("F32")", "[2]", "[8,0]"), 8); }},
      {"st_offsets_past_end", Kind::safetensors, [] { return one_entry(entry(R"("F32")", "[250]", "[0,1000]"), 8); }},
      // ---- safetensors: how entries tile the buffer ----
      {"st_overlapping_offsets", Kind::safetensors, [f32x2] { return safetensors(R"({"a":)" + f32x2 + R"(,"b":)" + entry(R"("I32")", "[2]", "[4,12]") + "}", filler(12)); }},
      {"st_same_offsets_twice", Kind::safetensors, [f32x2] { return safetensors(R"({"a":)" + f32x2 + R"(,"b":)" + f32x2 + "}", filler(8)); }},
      {"st_gap_between_tensors", Kind::safetensors, [f32x2] { return safetensors(R"({"a":)" + f32x2 + R"(,"b":)" + entry(R"("I32")", "[1]", "[12,16]") + "}", filler(16)); }},
      {"st_first_tensor_not_at_zero", Kind::safetensors, [] { return one_entry(entry(R"("F32")", "[2]", "[4,12]"), 12); }},
      {"st_trailing_bytes", Kind::safetensors, [] { return cat(valid_safetensors(), filler(4)); }},
      {"st_bool_byte_not_0_or_1", Kind::safetensors, [] { return one_entry(entry(R"("BOOL")", "[2]", "[0,2]"), 2); }},
      // ---- IDX: header ----
      {"idx_empty_file", Kind::idx, [] { return Bytes{}; }},
      {"idx_short_header", Kind::idx, [] { return truncated(valid_idx(), 3); }},
      {"idx_bad_magic", Kind::idx, [] { Bytes b = valid_idx(); b[0] = std::byte{1}; return b; }},
      {"idx_text_file", Kind::idx, [] { return text("P5\n28 28\n255\n"); }},
      {"idx_bad_type", Kind::idx, [] { Bytes b = valid_idx(); b[2] = std::byte{0x07}; return b; }},
      {"idx_zero_dims", Kind::idx, [] { return idx_bytes(0x08, {}, filler(4)); }},
      {"idx_too_many_dims", Kind::idx, [] { return idx_bytes(0x08, {1, 1, 1, 1, 1, 1, 1, 1, 1}, filler(1)); }},
      {"idx_truncated_dims", Kind::idx, [] { return truncated(idx_bytes(0x08, {3, 4, 5}, {}), 10); }},
      {"idx_dims_larger_than_file", Kind::idx, [] { return idx_bytes(0x0D, {60000, 784}, filler(100)); }},
      {"idx_data_one_byte_short", Kind::idx, [] { return truncated(valid_idx(), valid_idx().size() - 1); }},
      {"idx_trailing_bytes", Kind::idx, [] { return cat(valid_idx(), filler(1)); }},
      {"idx_dims_product_overflow", Kind::idx, [] { return idx_bytes(0x0E, {0xffffffffu, 0xffffffffu, 0xffffffffu, 2}, filler(8)); }},
      {"idx_dims_over_cap", Kind::idx, [] { return idx_bytes(0x08, {1u << 31}, filler(8)); }},
      // ---- IDX: gzip ----
      {"gz_truncated_in_gzip_header", Kind::idx, [] { return truncated(gzip(valid_idx()), 5); }},
      {"gz_truncated_in_stream", Kind::idx, [] { Bytes g = gzip(idx_bytes(0x08, {5000}, filler(5000))); return truncated(g, g.size() / 2); }},
      {"gz_truncated_in_trailer", Kind::idx, [] { Bytes g = gzip(valid_idx()); return truncated(g, g.size() - 2); }},
      {"gz_crc_mismatch", Kind::idx, [] { Bytes g = gzip(valid_idx()); g[g.size() - 6] ^= std::byte{0x55}; return g; }},
      {"gz_corrupt_deflate_data", Kind::idx, [] { Bytes g = gzip(valid_idx(), 0, 0); g[12] = std::byte{0xff}; g[13] = std::byte{0xff}; return g; }},
      {"gz_trailing_garbage", Kind::idx, [] { return cat(gzip(valid_idx()), text("junk")); }},
      {"gz_bad_magic_inside", Kind::idx, [] { Bytes b = valid_idx(); b[1] = std::byte{8}; return gzip(b); }},
      {"gz_data_too_short", Kind::idx, [] { return gzip(idx_bytes(0x08, {100}, filler(50))); }},
      {"gz_bomb_of_trailing_zeros", Kind::idx, [] { return gzip(valid_idx(), std::size_t{64} << 20, 1); }},
      {"gz_bomb_over_the_cap", Kind::idx, [] { return gzip(idx_bytes(0x08, {64u << 20}, {}), std::size_t{64} << 20, 1); }, std::size_t{1} << 20},
  };
  return c;
}

class CorruptFile : public ::testing::TestWithParam<Case> {};

TEST_P(CorruptFile, IsRejectedWithAFormatErrorNamingTheFile) {
  const Case& c = GetParam();
  dm::testing::TempDir dir;
  const std::string path = dir.file(c.name + (c.kind == Kind::idx ? ".idx" : ".safetensors"));
  const Bytes bytes = c.make();
  dm::testing::write_bytes(path, bytes);
  try {
    if (c.kind == Kind::idx) {
      dm::io::read_idx(path, {.max_bytes = c.idx_cap});
    } else {
      dm::io::load_safetensors(path);
    }
    FAIL() << c.name << " was accepted";
  } catch (const dm::FormatError& e) {
    RecordProperty("message", e.what());
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  if (c.kind == Kind::safetensors) {
    EXPECT_THROW(dm::io::parse_safetensors(bytes.data(), bytes.size(), c.name), dm::FormatError);
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorruptFile, ::testing::ValuesIn(corpus()),
                         [](const auto& info) { return info.param.name; });

// The corpus starts from these files: they must load, or the cases above prove nothing.
TEST(CorruptFileBaselines, TheUncorruptedFilesLoad) {
  dm::testing::TempDir dir;
  dm::testing::write_bytes(dir.file("ok.safetensors"), valid_safetensors());
  EXPECT_EQ(dm::io::load_safetensors(dir.file("ok.safetensors")).size(), 2u);
  dm::testing::write_bytes(dir.file("ok.idx"), valid_idx());
  EXPECT_EQ(dm::io::read_idx(dir.file("ok.idx")).shape(), (std::vector<std::int64_t>{3, 4}));
  dm::testing::write_bytes(dir.file("ok.idx.gz"), gzip(valid_idx()));
  EXPECT_EQ(dm::io::read_idx(dir.file("ok.idx.gz")).shape(), (std::vector<std::int64_t>{3, 4}));
  // The bomb's header is valid: what rejects it is the cap, not the content.
  dm::testing::write_bytes(dir.file("big.idx.gz"), gzip(idx_bytes(0x08, {1u << 20}, {}), std::size_t{1} << 20, 1));
  EXPECT_EQ(dm::io::read_idx(dir.file("big.idx.gz")).numel(), 1 << 20);
  EXPECT_THROW(dm::io::read_idx(dir.file("big.idx.gz"), {.max_bytes = 1 << 20}), dm::FormatError);
}

}  // namespace
