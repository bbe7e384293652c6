// Parameter-server frames: headers and tensor payloads round-trip; every malformation is a
// FormatError raised before the payload would be allocated.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"
#include "distributed/frame.hpp"
#include "distributed/sealing.hpp"

namespace {

using namespace dm::dist::wire;

std::array<std::byte, kHeaderBytes> header_of(const std::vector<std::byte>& frame) {
  std::array<std::byte, kHeaderBytes> h{};
  std::memcpy(h.data(), frame.data(), kHeaderBytes);
  return h;
}

// A header written byte by byte, independently of encode_header.
std::array<std::byte, kHeaderBytes> manual_header(std::uint32_t magic, std::uint16_t version, std::uint16_t type,
                                                  std::uint64_t length) {
  std::array<std::byte, kHeaderBytes> h{};
  for (int i = 0; i < 4; ++i) h[i] = std::byte((magic >> (8 * i)) & 0xFF);
  for (int i = 0; i < 2; ++i) h[4 + i] = std::byte((version >> (8 * i)) & 0xFF);
  for (int i = 0; i < 2; ++i) h[6 + i] = std::byte((type >> (8 * i)) & 0xFF);
  for (int i = 0; i < 8; ++i) h[8 + i] = std::byte((length >> (8 * i)) & 0xFF);
  return h;
}

TEST(PsFrame, HeaderRoundTripsEveryType) {
  for (auto type : {MessageType::parameters, MessageType::update}) {
    for (std::uint64_t length : {0ull, 1ull, 4096ull, 1000000ull}) {
      const auto h = encode_header(type, length);
      EXPECT_EQ(h, manual_header(kMagic, kProtocolVersion, static_cast<std::uint16_t>(type), length));
      const FrameHeader back = decode_header(h, 1u << 20);
      EXPECT_EQ(back.type, type);
      EXPECT_EQ(back.length, length);
    }
  }
  EXPECT_EQ(decode_header(encode_header(MessageType::challenge, 32), 0).length, 32u);
  EXPECT_EQ(decode_header(encode_header(MessageType::done, 0), 0).type, MessageType::done);
  // The magic reads "DMPS" on the wire.
  const auto h = encode_header(MessageType::bye, 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h.data()), 4), "DMPS");
}

TEST(PsFrame, RejectsOversizedLengthsBeforeAllocating) {
  const std::uint16_t v = kProtocolVersion;
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 4, (1ull << 20) + 1), 1u << 20), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 3, ~0ull), 1u << 30), dm::FormatError);
  // Control messages have their own, small limits whatever the receiver allows.
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 6, kMaxControlPayload + 1), 1u << 30), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 5, 1), 1u << 30), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 1, 31), 1u << 30), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 1, 33), 1u << 30), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 2, 32), 1u << 30), dm::FormatError);  // v1's bare MAC
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 2, 65), 1u << 30), dm::FormatError);
  EXPECT_NO_THROW(decode_header(manual_header(kMagic, v, 2, 64), 1u << 30));
  EXPECT_NO_THROW(decode_header(manual_header(kMagic, v, 4, 1u << 20), 1u << 20));
}

TEST(PsFrame, RejectsGarbageHeaders) {
  const std::uint16_t v = kProtocolVersion;
  EXPECT_THROW(decode_header(manual_header(0x50545448, v, 4, 10), 100), dm::FormatError);  // "HTTP"
  EXPECT_THROW(decode_header(manual_header(kMagic, 1, 4, 10), 100), dm::FormatError);  // v1: unsealed frames
  EXPECT_THROW(decode_header(manual_header(kMagic, v + 1, 4, 10), 100), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, 0, 4, 10), 100), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 0, 0), 100), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 8, 0), 100), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 0xFFFF, 0), 100), dm::FormatError);
  try {
    decode_header(manual_header(kMagic, 9, 4, 0), 100);
    FAIL() << "version 9 accepted";
  } catch (const dm::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("protocol version 9"), std::string::npos) << e.what();
  }
}

TEST(PsFrame, SealedLengthsAreCheckedWithoutTheirTags) {
  const std::uint16_t v = kProtocolVersion;
  const std::size_t tag = dm::dist::wire::kSealTagBytes;
  const std::size_t chunk = dm::dist::wire::kSealChunkBytes;
  // A sealed done carries only its tag; a sealed frame shorter than a tag is malformed.
  EXPECT_EQ(decode_header(manual_header(kMagic, v, 5, tag), 100, true).plain, 0u);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 5, tag + 1), 100, true), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 4, tag - 1), 100, true), dm::FormatError);
  // The receiver's limit applies to the plaintext: limit + tag passes, one more does not.
  EXPECT_EQ(decode_header(manual_header(kMagic, v, 4, 100 + tag), 100, true).plain, 100u);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 4, 101 + tag), 100, true), dm::FormatError);
  // Past one chunk every chunk brings its own tag, and all of them are taken off.
  const FrameHeader two = decode_header(manual_header(kMagic, v, 4, chunk + 1 + 2 * tag), chunk + 1, true);
  EXPECT_EQ(two.plain, chunk + 1);
  EXPECT_EQ(two.length, chunk + 1 + 2 * tag);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 4, chunk + 2 + 2 * tag), chunk + 1, true), dm::FormatError);
  // A length whose last chunk has no room for data and a tag is no sealed length.
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 4, chunk + tag + tag), 1u << 30, true), dm::FormatError);
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 4, chunk + tag + 5), 1u << 30, true), dm::FormatError);
  // A length near 2^64 cannot wrap the subtraction into a small one.
  EXPECT_THROW(decode_header(manual_header(kMagic, v, 4, ~0ull), 100, true), dm::FormatError);
}

TEST(PsFrame, AnOlderPeerIsToldItsProtocolVersion) {
  // Protocol 3 sealed a frame in one piece; its frames must not be read as chunked ones.
  try {
    decode_header(manual_header(kMagic, 3, 4, 100), 1000);
    FAIL() << "protocol 3 accepted";
  } catch (const dm::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("protocol version 3, this build speaks " + std::to_string(kProtocolVersion)),
              std::string::npos)
        << e.what();
  }
}

TEST(PsFrame, TensorPayloadRoundTripsValuesAndMetadata) {
  std::vector<float> values(1000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.25f - 7.0f;
  const dm::Tensor t = dm::Tensor::from_vector(values);
  const auto payload = encode_tensor_payload("gradient", t, {{"base_version", "42"}, {"loss", "0.5"}});
  const auto frame = encode_frame(MessageType::update, payload);
  const FrameHeader h = decode_header(header_of(frame), payload.size());
  ASSERT_EQ(h.length, payload.size());
  const std::span<const std::byte> body(frame.data() + kHeaderBytes, frame.size() - kHeaderBytes);
  const TensorPayload back = decode_tensor_payload(body, "gradient", 1000);
  EXPECT_EQ(back.tensor.to_vector<float>(), values);
  EXPECT_EQ(metadata_int(back.metadata, "base_version"), 42);
  EXPECT_DOUBLE_EQ(metadata_double(back.metadata, "loss", -1.0), 0.5);
  EXPECT_DOUBLE_EQ(metadata_double(back.metadata, "absent", -1.0), -1.0);
}

TEST(PsFrame, HandWrittenHeaderReadsLikeTheCheckpointWriters) {
  // The payload's JSON head is written by the frame code itself; the checkpoint writer is the
  // reference: both must parse to the same tensor and metadata.
  const dm::Tensor t = dm::Tensor::arange(0.0, 24.0).reshape({24});
  const dm::io::Metadata metadata{{"version", "7"}, {"note", "quote \" backslash \\ newline \n tab \t"}};
  const auto ours = encode_tensor_payload("parameters", t, metadata);
  const auto reference = dm::io::serialize_safetensors({{"parameters", t}}, metadata);
  const TensorPayload a = decode_tensor_payload(ours, "parameters", 24);
  const TensorPayload b = decode_tensor_payload(reference, "parameters", 24);
  EXPECT_EQ(a.tensor.to_vector<float>(), b.tensor.to_vector<float>());
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.metadata.at("note"), metadata.at("note"));
  // A strided view travels as its values.
  const dm::Tensor strided = dm::Tensor::arange(0.0, 48.0).reshape({24, 2}).narrow(1, 1, 1).reshape({24});
  const TensorPayloadParts parts = encode_tensor_parts("parameters", strided, {});
  EXPECT_EQ(parts.size(), parts.head.size() + 24 * sizeof(float));
  EXPECT_EQ(decode_tensor_payload(encode_tensor_payload("parameters", strided, {}), "parameters", 24).tensor.to_vector<float>(),
            strided.contiguous().to_vector<float>());
}

TEST(PsFrame, TensorPayloadRejectsWrongNameShapeAndDType) {
  const auto payload = encode_tensor_payload("gradient", dm::Tensor::ones({10}), {});
  EXPECT_THROW(decode_tensor_payload(payload, "parameters", 10), dm::FormatError);
  EXPECT_THROW(decode_tensor_payload(payload, "gradient", 11), dm::FormatError);
  const auto matrix = encode_tensor_payload("gradient", dm::Tensor::ones({2, 5}), {});
  EXPECT_THROW(decode_tensor_payload(matrix, "gradient", 10), dm::FormatError);
  EXPECT_THROW(encode_tensor_payload("gradient", dm::Tensor::ones({10}, dm::DType::f64), {}), dm::DTypeError);
}

TEST(PsFrame, TensorPayloadRejectsTruncationAndGarbage) {
  const auto payload = encode_tensor_payload("gradient", dm::Tensor::ones({64}), {{"base_version", "1"}});
  for (std::size_t cut : {std::size_t{0}, std::size_t{4}, std::size_t{8}, std::size_t{20}, payload.size() - 1}) {
    EXPECT_THROW(decode_tensor_payload(std::span(payload.data(), cut), "gradient", 64), dm::FormatError) << "cut " << cut;
  }
  std::vector<std::byte> garbage(payload.size());
  std::uint32_t state = 12345;
  for (auto& b : garbage) {
    state = state * 1664525u + 1013904223u;
    b = std::byte(state >> 24);
  }
  EXPECT_THROW(decode_tensor_payload(garbage, "gradient", 64), dm::FormatError);
  // A header length that points past the payload.
  auto lying = payload;
  lying[0] = std::byte{0xFF};
  lying[1] = std::byte{0xFF};
  EXPECT_THROW(decode_tensor_payload(lying, "gradient", 64), dm::FormatError);
}

TEST(PsFrame, MetadataIntegersAreChecked) {
  EXPECT_THROW(metadata_int({}, "version"), dm::FormatError);
  EXPECT_THROW(metadata_int({{"version", "12x"}}, "version"), dm::FormatError);
  EXPECT_THROW(metadata_int({{"version", ""}}, "version"), dm::FormatError);
  EXPECT_EQ(metadata_int({{"version", "-3"}}, "version"), -3);
  EXPECT_THROW(metadata_double({{"loss", "nope"}}, "loss", 0.0), dm::FormatError);
  // With a range and a fallback (an update's sample count).
  EXPECT_EQ(metadata_int({}, "samples", 7, 0, 100), 7);
  EXPECT_EQ(metadata_int({{"samples", "100"}}, "samples", 7, 0, 100), 100);
  EXPECT_THROW(metadata_int({{"samples", "-1"}}, "samples", 7, 0, 100), dm::FormatError);
  EXPECT_THROW(metadata_int({{"samples", "101"}}, "samples", 7, 0, 100), dm::FormatError);
  EXPECT_THROW(metadata_int({{"samples", "1e3"}}, "samples", 7, 0, 100), dm::FormatError);
}

}  // namespace
