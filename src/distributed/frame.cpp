#include "distributed/frame.hpp"

#include <charconv>
#include <cstring>
#include <string>

#include "democratising/base/error.hpp"
#include "distributed/sealing.hpp"

namespace dm::dist::wire {
namespace {

template <class T>
void put_le(std::byte* out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xFF);
}

template <class T>
T get_le(const std::byte* in) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) value |= static_cast<std::uint64_t>(in[i]) << (8 * i);
  return static_cast<T>(value);
}

// The largest payload each type may carry, before the receiver's own limit applies.
std::uint64_t type_limit(MessageType type, std::size_t max_payload) {
  switch (type) {
    case MessageType::challenge: return kChallengeBytes;
    case MessageType::response: return kResponseBytes;
    case MessageType::done:
    case MessageType::bye: return 0;
    case MessageType::refused: return kMaxControlPayload;
    case MessageType::parameters:
    case MessageType::update: return max_payload;
  }
  return 0;
}

bool known_type(std::uint16_t raw) { return raw >= 1 && raw <= 7; }

}  // namespace

const char* message_name(MessageType type) {
  switch (type) {
    case MessageType::challenge: return "challenge";
    case MessageType::response: return "response";
    case MessageType::parameters: return "parameters";
    case MessageType::update: return "update";
    case MessageType::done: return "done";
    case MessageType::refused: return "refused";
    case MessageType::bye: return "bye";
  }
  return "unknown";
}

std::array<std::byte, kHeaderBytes> encode_header(MessageType type, std::uint64_t length) {
  std::array<std::byte, kHeaderBytes> out{};
  put_le<std::uint32_t>(out.data(), kMagic);
  put_le<std::uint16_t>(out.data() + 4, kProtocolVersion);
  put_le<std::uint16_t>(out.data() + 6, static_cast<std::uint16_t>(type));
  put_le<std::uint64_t>(out.data() + 8, length);
  return out;
}

FrameHeader decode_header(std::span<const std::byte, kHeaderBytes> bytes, std::size_t max_payload, bool sealed) {
  const auto magic = get_le<std::uint32_t>(bytes.data());
  if (magic != kMagic) throw FormatError("[frame] bad magic " + std::to_string(magic) + ": not a parameter-server peer");
  const auto version = get_le<std::uint16_t>(bytes.data() + 4);
  if (version != kProtocolVersion)
    throw FormatError("[frame] protocol version " + std::to_string(version) + ", this build speaks " +
                      std::to_string(kProtocolVersion));
  const auto raw_type = get_le<std::uint16_t>(bytes.data() + 6);
  if (!known_type(raw_type)) throw FormatError("[frame] unknown message type " + std::to_string(raw_type));
  const auto type = static_cast<MessageType>(raw_type);
  const auto length = get_le<std::uint64_t>(bytes.data() + 8);
  std::uint64_t plain = length;
  if (sealed) {
    try {
      plain = plain_length(length);
    } catch (const FormatError& e) {
      throw FormatError(std::string("[frame] sealed ") + message_name(type) + ": " + (e.what() + 8));
    }
  }
  const std::uint64_t limit = type_limit(type, max_payload);
  if (plain > limit)
    throw FormatError(std::string("[frame] ") + message_name(type) + " of " + std::to_string(plain) +
                      " bytes exceeds the limit of " + std::to_string(limit));
  if ((type == MessageType::challenge || type == MessageType::response) && plain != limit)
    throw FormatError(std::string("[frame] ") + message_name(type) + " must be " + std::to_string(limit) + " bytes, not " +
                      std::to_string(plain));
  return {type, length, plain};
}

std::vector<std::byte> encode_frame(MessageType type, std::span<const std::byte> payload) {
  const auto header = encode_header(type, payload.size());
  // One allocation, then plain copies (GCC 12 warns falsely on insert() after a 16-byte range).
  std::vector<std::byte> out(header.size() + payload.size());
  std::memcpy(out.data(), header.data(), header.size());
  if (!payload.empty()) std::memcpy(out.data() + header.size(), payload.data(), payload.size());
  return out;
}

namespace {

// A JSON string literal: quotes, backslashes and control characters escaped.
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[(c >> 4) & 0xF];
      out += hex[c & 0xF];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::span<const std::byte> TensorPayloadParts::body() const {
  return {static_cast<const std::byte*>(tensor.data_ptr()), static_cast<std::size_t>(tensor.numel()) * itemsize(tensor.dtype())};
}

TensorPayloadParts encode_tensor_parts(const std::string& name, const Tensor& tensor, const io::Metadata& metadata) {
  if (tensor.dtype() != DType::f32 && tensor.dtype() != DType::bf16)
    throw DTypeError("[frame] tensors travel as f32 or bf16, '" + name + "' is " + std::string(dtype_name(tensor.dtype())));
  if (name.empty() || name == "__metadata__") throw ValueError("[frame] bad tensor name '" + name + "'");
  TensorPayloadParts parts;
  parts.tensor = tensor.is_contiguous() ? tensor : tensor.contiguous();
  const std::size_t bytes = static_cast<std::size_t>(parts.tensor.numel()) * itemsize(parts.tensor.dtype());
  // The safetensors header, written directly: one tensor, its shape, offsets [0, bytes).
  std::string json = "{";
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) json += ",";
      first = false;
      json += json_string(key) + ":" + json_string(value);
    }
    json += "},";
  }
  json += json_string(name) + ":{\"dtype\":" + (parts.tensor.dtype() == DType::bf16 ? "\"BF16\"" : "\"F32\"") +
          ",\"shape\":[";
  for (std::int64_t d = 0; d < parts.tensor.dim(); ++d) {
    if (d > 0) json += ",";
    json += std::to_string(parts.tensor.shape()[d]);
  }
  json += "],\"data_offsets\":[0," + std::to_string(bytes) + "]}}";
  parts.head.resize(8 + json.size());
  put_le<std::uint64_t>(parts.head.data(), json.size());
  std::memcpy(parts.head.data() + 8, json.data(), json.size());
  return parts;
}

std::vector<std::byte> encode_tensor_payload(const std::string& name, const Tensor& tensor, const io::Metadata& metadata) {
  const TensorPayloadParts parts = encode_tensor_parts(name, tensor, metadata);
  std::vector<std::byte> out(parts.head);
  const auto body = parts.body();
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

const io::SafetensorsEntry& expect_tensor(const io::SafetensorsHeader& header, const std::string& name, std::int64_t numel,
                                          bool bf16_allowed) {
  if (header.entries.size() != 1 || header.entries[0].name != name)
    throw FormatError("[frame] expected exactly one tensor '" + name + "', got " + std::to_string(header.entries.size()));
  const io::SafetensorsEntry& e = header.entries[0];
  if (e.dtype != DType::f32 && !(bf16_allowed && e.dtype == DType::bf16))
    throw FormatError("[frame] tensor '" + name + "' is " + std::string(dtype_name(e.dtype)) + ", expected f32" +
                      (bf16_allowed ? " or bf16" : ""));
  if (e.shape.size() != 1 || e.shape[0] != numel)
    throw FormatError("[frame] tensor '" + name + "' has shape " + e.shape.str() + ", expected [" + std::to_string(numel) + "]");
  return e;
}

TensorPayload decode_tensor_payload(std::span<const std::byte> payload, const std::string& name, std::int64_t numel,
                                    bool bf16_allowed) {
  io::SafetensorsContents contents = io::parse_safetensors(payload.data(), payload.size(), "frame");
  // The same checks as a frame read straight into its tensor (frame_io), on the parsed result.
  io::SafetensorsHeader described;
  for (const auto& [tensor_name, t] : contents.tensors) described.entries.push_back({tensor_name, t.dtype(), t.shape(), 0, 0});
  expect_tensor(described, name, numel, bf16_allowed);
  return {std::move(contents.tensors[0].second), std::move(contents.metadata)};
}

std::int64_t metadata_int(const io::Metadata& metadata, const std::string& key) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) throw FormatError("[frame] metadata lacks '" + key + "'");
  std::int64_t value = 0;
  const char* end = it->second.data() + it->second.size();
  const auto [ptr, ec] = std::from_chars(it->second.data(), end, value);
  if (ec != std::errc() || ptr != end) throw FormatError("[frame] metadata '" + key + "' is not an integer");
  return value;
}

std::int64_t metadata_int(const io::Metadata& metadata, const std::string& key, std::int64_t fallback, std::int64_t lo,
                          std::int64_t hi) {
  if (metadata.find(key) == metadata.end()) return fallback;
  const std::int64_t value = metadata_int(metadata, key);
  if (value < lo || value > hi)
    throw FormatError("[frame] metadata '" + key + "' is " + std::to_string(value) + ", outside [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
  return value;
}

double metadata_double(const io::Metadata& metadata, const std::string& key, double fallback) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) return fallback;
  try {
    std::size_t used = 0;
    const double value = std::stod(it->second, &used);
    if (used != it->second.size()) throw FormatError("");
    return value;
  } catch (const std::exception&) {
    throw FormatError("[frame] metadata '" + key + "' is not a number");
  }
}

}  // namespace dm::dist::wire
