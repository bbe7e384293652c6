#pragma once
// The parameter server's wire format: length-prefixed frames.
//
//   u32 magic "DMPS" | u16 protocol version | u16 message type | u64 payload length | payload
//
// All integers little-endian. A header is validated (magic, version, known type, a length
// that fits the type and the receiver's limit) before the payload is allocated, so a peer
// cannot make us reserve memory by announcing a large frame. Tensors travel as a
// safetensors-style payload (u64 header length, JSON header, raw bytes), parsed by the same
// checked reader as checkpoint files. Parameters are f32; an update's gradient is f32, or bf16
// when the worker compresses (protocol 3: a protocol-2 peer is refused by its version).
// Protocol 4 seals a payload in chunks, each with its own tag (see sealing.hpp): a peer of
// protocol 3 or older is refused by its version before anything else is read.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "democratising/io/safetensors.hpp"
#include "democratising/io/safetensors_header.hpp"
#include "democratising/core/tensor.hpp"

namespace dm::dist::wire {

inline constexpr std::uint32_t kMagic = 0x53504D44;  // the bytes 'D' 'M' 'P' 'S'
inline constexpr std::uint16_t kProtocolVersion = 4;
inline constexpr std::size_t kHeaderBytes = 16;
/// Largest payload of a message that does not carry tensors (refusals carry a short reason).
inline constexpr std::size_t kMaxControlPayload = 1024;
/// Largest safetensors head (length prefix and JSON) of a tensor payload: one tensor and a few
/// metadata strings need far less, and a receiver reads the head before it allocates the tensor.
inline constexpr std::size_t kMaxTensorHeadBytes = 64 * 1024;
/// Exact payload sizes of the handshake: a nonce; a MAC followed by the worker's nonce.
inline constexpr std::size_t kChallengeBytes = 32;
inline constexpr std::size_t kResponseBytes = 64;

enum class MessageType : std::uint16_t {
  challenge = 1,   // server -> worker: a random nonce
  response = 2,    // worker -> server: HMAC of both nonces, then the worker's own nonce
  parameters = 3,  // server -> worker: the flat parameters and their version
  update = 4,      // worker -> server: a flat gradient, its base version and the batch loss
  done = 5,        // server -> worker: training has finished
  refused = 6,     // server -> worker: a reason, then the connection closes
  bye = 7,         // worker -> server: leaving
};

const char* message_name(MessageType type);

struct FrameHeader {
  MessageType type;
  std::uint64_t length;  // bytes on the wire after the header
  std::uint64_t plain;   // the payload's bytes: `length` less the tags when sealed
};

/// The 16 header bytes of a frame with this type and payload length.
std::array<std::byte, kHeaderBytes> encode_header(MessageType type, std::uint64_t length);

/// Validates a received header; FormatError naming the problem for a bad magic, another
/// protocol version, an unknown type, or a length beyond what the type allows or beyond
/// `max_payload`. With `sealed` the length includes the chunks' tags (sealing.hpp): the
/// limits apply to the payload without them, and a length no sealed payload has is malformed.
FrameHeader decode_header(std::span<const std::byte, kHeaderBytes> bytes, std::size_t max_payload, bool sealed = false);

/// Header and payload in one buffer (tests and small control messages).
std::vector<std::byte> encode_frame(MessageType type, std::span<const std::byte> payload);

/// One named f32 or bf16 tensor as a payload in two parts: the safetensors head (u64 length
/// and JSON) and the tensor's own bytes, so a send gathers them without copying the tensor.
struct TensorPayloadParts {
  std::vector<std::byte> head;
  Tensor tensor;  // contiguous f32 or bf16
  std::span<const std::byte> body() const;
  std::size_t size() const { return head.size() + body().size(); }
};
TensorPayloadParts encode_tensor_parts(const std::string& name, const Tensor& tensor, const io::Metadata& metadata);

/// The same payload in one buffer.
std::vector<std::byte> encode_tensor_payload(const std::string& name, const Tensor& tensor, const io::Metadata& metadata);

struct TensorPayload {
  Tensor tensor;
  io::Metadata metadata;
};

/// Parses a payload that must hold exactly one f32 tensor called `name` of shape [numel];
/// FormatError otherwise (including every malformation the safetensors reader rejects).
/// With `bf16_allowed` a bf16 tensor is accepted too, and handed back as it came.
TensorPayload decode_tensor_payload(std::span<const std::byte> payload, const std::string& name, std::int64_t numel,
                                    bool bf16_allowed = false);

/// The one tensor a payload's safetensors header may describe: called `name`, f32 (or bf16
/// with `bf16_allowed`), of shape [numel]; FormatError naming the difference otherwise.
const io::SafetensorsEntry& expect_tensor(const io::SafetensorsHeader& header, const std::string& name, std::int64_t numel,
                                          bool bf16_allowed);

/// An integer metadata entry; FormatError when absent or malformed.
std::int64_t metadata_int(const io::Metadata& metadata, const std::string& key);
/// An integer metadata entry in [lo, hi]; `fallback` when absent, FormatError when malformed
/// or out of range.
std::int64_t metadata_int(const io::Metadata& metadata, const std::string& key, std::int64_t fallback, std::int64_t lo,
                          std::int64_t hi);
/// A floating-point metadata entry; `fallback` when absent, FormatError when malformed.
double metadata_double(const io::Metadata& metadata, const std::string& key, double fallback);

}  // namespace dm::dist::wire
