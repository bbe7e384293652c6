// Safetensors reading. The header is validated completely (every field, every size, and that
// the entries tile the byte buffer exactly) before a single tensor is allocated, so a hostile
// or damaged file costs at most the bounded header read.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/io/file.hpp"
#include "democratising/io/safetensors.hpp"
#include "democratising/io/safetensors_header.hpp"
#include "safetensors_format.hpp"

namespace dm::io {
namespace {

using json = nlohmann::json;

// A valid header nests three deep (object, entry, shape); the slack admits extra fields some
// writers add, while a header of a million '[' cannot make the parser build a million levels.
constexpr int kMaxJsonDepth = 16;

using Entry = SafetensorsEntry;
using Header = SafetensorsHeader;

[[noreturn]] void fail(std::string_view source, const std::string& problem) {
  throw FormatError("[safetensors] '" + std::string(source) + "': " + problem);
}

std::uint64_t read_le_u64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

// Checks the 8-byte length prefix against the total size; returns the header length.
std::uint64_t checked_header_length(const std::byte* prefix, std::uint64_t total, std::string_view source) {
  const std::uint64_t n = read_le_u64(prefix);
  if (n > kMaxSafetensorsHeaderBytes)
    fail(source, "header length " + std::to_string(n) + " exceeds the limit of " +
                     std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  if (n > total - 8)
    fail(source, "header length " + std::to_string(n) + " runs past the end of the data (" +
                     std::to_string(total - 8) + " bytes after the length prefix)");
  return n;
}

// Parses JSON, rejecting duplicate keys (the DOM would keep only the last one silently) and
// excessive nesting.
json parse_json(std::string_view text, std::string_view source) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxJsonDepth) fail(source, "header JSON nests deeper than " + std::to_string(kMaxJsonDepth));
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case json::parse_event_t::object_end: open_objects.pop_back(); break;
      case json::parse_event_t::key:
        if (!open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty())
          duplicate = parsed.get<std::string>();
        break;
      default: break;
    }
    return true;
  };
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    fail(source, std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) fail(source, "duplicate key '" + duplicate + "' in the header");
  if (!doc.is_object()) fail(source, std::string("header is a JSON ") + doc.type_name() + ", not an object");
  return doc;
}

std::uint64_t unsigned_field(const json& v, std::string_view source, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) fail(source, what + " is negative (" + v.dump() + ")");
  if (v.is_number()) fail(source, what + " is not an integer (" + v.dump() + ")");
  fail(source, what + " is not a number (" + v.dump() + ")");
}

const json& field(const json& entry, const char* key, std::string_view source, const std::string& name) {
  const auto it = entry.find(key);
  if (it == entry.end()) fail(source, "tensor '" + name + "' has no \"" + key + "\"");
  return *it;
}

Entry parse_entry(const std::string& name, const json& value, std::uint64_t buffer_size, std::string_view source) {
  if (!value.is_object()) fail(source, "tensor '" + name + "' is a JSON " + value.type_name() + ", not an object");
  Entry e;
  e.name = name;

  const json& dtype = field(value, "dtype", source, name);
  if (!dtype.is_string()) fail(source, "tensor '" + name + "': \"dtype\" is not a string");
  const auto parsed_dtype = safetensors::dtype_from_string(dtype.get_ref<const std::string&>());
  if (!parsed_dtype) fail(source, "tensor '" + name + "': unsupported dtype " + dtype.dump());
  e.dtype = *parsed_dtype;

  const json& shape = field(value, "shape", source, name);
  if (!shape.is_array()) fail(source, "tensor '" + name + "': \"shape\" is not an array");
  if (shape.size() > static_cast<std::size_t>(kMaxDims))
    fail(source, "tensor '" + name + "' has " + std::to_string(shape.size()) + " dims, more than " +
                     std::to_string(kMaxDims));
  // Bytes are tracked in u64 with overflow checks; numel must also fit the i64 of Shape.
  std::uint64_t nbytes = itemsize(e.dtype);
  std::uint64_t numel = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::uint64_t d = unsigned_field(shape[i], source, "tensor '" + name + "': shape[" + std::to_string(i) + "]");
    if (__builtin_mul_overflow(nbytes, d, &nbytes) || __builtin_mul_overflow(numel, d, &numel) ||
        numel > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail(source, "tensor '" + name + "': shape " + shape.dump() + " is too large (size overflows)");
    e.shape.push_back(static_cast<std::int64_t>(d));
  }

  const json& offsets = field(value, "data_offsets", source, name);
  if (!offsets.is_array() || offsets.size() != 2)
    fail(source, "tensor '" + name + "': \"data_offsets\" is not an array of two integers");
  e.begin = unsigned_field(offsets[0], source, "tensor '" + name + "': data_offsets[0]");
  e.end = unsigned_field(offsets[1], source, "tensor '" + name + "': data_offsets[1]");
  // Built by appending: GCC 12 warns falsely (-Wrestrict) on "[" + std::to_string(...).
  std::string range(1, '[');
  range.append(std::to_string(e.begin)).append(", ").append(std::to_string(e.end)).append("]");
  if (e.begin > e.end) fail(source, "tensor '" + name + "': data_offsets " + range + " begin after end");
  if (e.end > buffer_size)
    fail(source, "tensor '" + name + "': data_offsets " + range + " run past the end of the " +
                     std::to_string(buffer_size) + "-byte buffer");
  if (e.end - e.begin != nbytes)
    fail(source, "tensor '" + name + "': " + std::string(safetensors::dtype_to_string(e.dtype)) + " shape " +
                     e.shape.str() + " needs " + std::to_string(nbytes) + " bytes but data_offsets " + range +
                     " hold " + std::to_string(e.end - e.begin));
  return e;
}

Metadata parse_metadata(const json& value, std::string_view source) {
  Metadata metadata;
  if (value.is_null()) return metadata;
  if (!value.is_object()) fail(source, "\"__metadata__\" is not an object");
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) fail(source, "\"__metadata__\" value of '" + key + "' is not a string");
    metadata.emplace(key, v.get<std::string>());
  }
  return metadata;
}

Header parse_header(std::string_view text, std::uint64_t buffer_size, std::string_view source) {
  const json doc = parse_json(text, source);
  Header header;
  for (const auto& [key, value] : doc.items()) {
    if (key == safetensors::kMetadataKey) {
      header.metadata = parse_metadata(value, source);
    } else {
      header.entries.push_back(parse_entry(key, value, buffer_size, source));
    }
  }
  // Sorted by (begin, end), the entries must tile [0, buffer_size): this one check rules out
  // overlaps, gaps, a first tensor not at 0 and trailing bytes. Empty tensors sit anywhere.
  std::sort(header.entries.begin(), header.entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : header.entries) {
    if (e.begin < expected)
      fail(source, "tensors '" + previous->name + "' and '" + e.name + "' overlap (" + std::to_string(e.begin) +
                       " < " + std::to_string(expected) + ")");
    if (e.begin > expected)
      fail(source, "gap of " + std::to_string(e.begin - expected) + " bytes before tensor '" + e.name + "'");
    expected = e.end;
    previous = &e;
  }
  if (expected != buffer_size)
    fail(source, std::to_string(buffer_size - expected) + " trailing bytes after the last tensor");
  return header;
}

// BOOL bytes other than 0 and 1 are not valid C++ bools.
void check_bool_bytes(const Tensor& t, const Entry& e, std::string_view source) {
  if (e.dtype != DType::boolean) return;
  const auto* p = static_cast<const unsigned char*>(t.data_ptr());
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i)
    if (p[i] > 1) fail(source, "tensor '" + e.name + "': BOOL byte " + std::to_string(p[i]) + " is neither 0 nor 1");
}

// Opened without blocking and only if it is a regular file (a FIFO would hang the open).
class ReadOnlyFile : public ReadableFile {
 public:
  explicit ReadOnlyFile(const std::string& path) : ReadableFile(path, "safetensors") {}
};

// Reads and validates the prefix and header of a file; `buffer_start` receives the file
// offset of the byte buffer.
Header read_file_header(const ReadOnlyFile& file, const std::string& path, std::uint64_t& buffer_start) {
  if (file.size() < 8)
    fail(path, "file has " + std::to_string(file.size()) + " bytes, shorter than the 8-byte length prefix");
  std::byte prefix[8];
  file.read_at(0, prefix, 8);
  const std::uint64_t n = checked_header_length(prefix, file.size(), path);
  std::string text(static_cast<std::size_t>(n), '\0');
  file.read_at(8, text.data(), text.size());
  buffer_start = 8 + n;
  return parse_header(text, file.size() - buffer_start, path);
}

}  // namespace

SafetensorsHeader parse_safetensors_header(std::string_view json, std::uint64_t buffer_size, std::string_view source) {
  if (json.size() > kMaxSafetensorsHeaderBytes)
    fail(source, "header length " + std::to_string(json.size()) + " exceeds the limit of " +
                     std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  return parse_header(json, buffer_size, source);
}

SafetensorsContents parse_safetensors(const std::byte* data, std::size_t size, std::string_view source) {
  if (size < 8) fail(source, "data has " + std::to_string(size) + " bytes, shorter than the 8-byte length prefix");
  const std::uint64_t n = checked_header_length(data, size, source);
  const std::string_view text(reinterpret_cast<const char*>(data + 8), static_cast<std::size_t>(n));
  const std::byte* buffer = data + 8 + n;
  Header header = parse_header(text, size - 8 - n, source);

  SafetensorsContents out;
  out.metadata = std::move(header.metadata);
  for (const Entry& e : header.entries) {
    Tensor t = make_tensor(e.shape, e.dtype, Device::cpu());
    if (e.end > e.begin) std::memcpy(t.data_ptr(), buffer + e.begin, static_cast<std::size_t>(e.end - e.begin));
    check_bool_bytes(t, e, source);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

SafetensorsContents load_safetensors_contents(const std::string& path) {
  ReadOnlyFile file(path);
  std::uint64_t buffer_start = 0;
  Header header = read_file_header(file, path, buffer_start);

  SafetensorsContents out;
  out.metadata = std::move(header.metadata);
  for (const Entry& e : header.entries) {
    Tensor t = make_tensor(e.shape, e.dtype, Device::cpu());
    if (e.end > e.begin) file.read_at(buffer_start + e.begin, t.data_ptr(), static_cast<std::size_t>(e.end - e.begin));
    check_bool_bytes(t, e, path);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

std::map<std::string, Tensor> load_safetensors(const std::string& path) {
  SafetensorsContents contents = load_safetensors_contents(path);
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : contents.tensors) out.emplace(name, std::move(t));
  return out;
}

Metadata load_safetensors_metadata(const std::string& path) {
  ReadOnlyFile file(path);
  std::uint64_t buffer_start = 0;
  return read_file_header(file, path, buffer_start).metadata;
}

}  // namespace dm::io
