// Sealed payloads travel in chunks, each with its own nonce (frame counter and chunk index)
// and tag: payloads of every size round-trip, whatever the split between head and body; a
// flipped byte in any chunk, chunks swapped within a frame or between frames, and a frame cut
// short are refused; over a socket a tensor frame lands in its tensor, sealed, authenticated or
// plain. Authenticated chunks (plain bytes, GMAC tags) pass every one of these tests too.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>
#include <string>
#include <vector>

#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>

#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"
#include "distributed/auth.hpp"
#include "distributed/frame_io.hpp"
#include "distributed/sealing.hpp"
#include "distributed/test_ps_loopback.hpp"

namespace {

using namespace std::chrono_literals;
using namespace dm::dist;
using asio::ip::tcp;
using ps_test::Runner;
using Sockets = ps_test::SocketPair;

constexpr std::size_t kChunk = wire::kSealChunkBytes;
constexpr std::size_t kTag = wire::kSealTagBytes;

std::vector<std::byte> random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(gen() & 0xFF);
  return out;
}

struct Pair {
  wire::Sealing server;
  wire::Sealing worker;
};

Pair keys(WireProtection protection = WireProtection::sealed) {
  const auth::Nonce s = auth::make_nonce();
  const auth::Nonce w = auth::make_nonce();
  return {wire::Sealing::derive("chunk secret", s, w, wire::End::server, protection),
          wire::Sealing::derive("chunk secret", s, w, wire::End::worker, protection)};
}

// The chunk layout, nonces and tags are the same whether chunks are encrypted or only
// authenticated: the tests of both run under each protection.
class ProtectedChunks : public ::testing::TestWithParam<WireProtection> {
 protected:
  Pair keys() const { return ::keys(GetParam()); }
};

struct Sealed {
  std::array<std::byte, wire::kHeaderBytes> header;
  std::vector<std::byte> payload;
};

// `plain` sealed by `from`, split into a head of `head_bytes` and the rest as body.
Sealed seal(wire::Sealing& from, const std::vector<std::byte>& plain, std::size_t head_bytes) {
  const std::span<const std::byte> all(plain);
  Sealed out{wire::encode_header(wire::MessageType::update, wire::sealed_length(plain.size())), {}};
  out.payload = from.seal(out.header, all.first(head_bytes), all.subspan(head_bytes));
  return out;
}

// True when `frame` opens at `at` and gives back `plain`; false when it is refused.
bool opens_to(wire::Sealing& at, Sealed frame, const std::vector<std::byte>& plain) {
  try {
    const std::size_t n = at.open(frame.header, frame.payload, "test");
    EXPECT_EQ(n, plain.size());
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), frame.payload.begin())) << "plaintext differs";
    return true;
  } catch (const dm::DistributedError& e) {
    EXPECT_NE(std::string(e.what()).find("[test] a frame failed authentication"), std::string::npos) << e.what();
    return false;
  }
}

// Offsets of chunk i's ciphertext in a sealed payload.
std::size_t chunk_at(std::size_t i) { return i * (kChunk + kTag); }

TEST(SealedChunks, LengthsCountOneTagPerChunk) {
  EXPECT_EQ(wire::sealed_chunks(0), 1u);  // an empty payload is one empty chunk with its tag
  EXPECT_EQ(wire::sealed_chunks(1), 1u);
  EXPECT_EQ(wire::sealed_chunks(kChunk), 1u);
  EXPECT_EQ(wire::sealed_chunks(kChunk + 1), 2u);
  EXPECT_EQ(wire::sealed_chunks(3 * kChunk), 3u);
  for (std::uint64_t plain : {0ull, 1ull, kChunk - 1ull, 1ull * kChunk, kChunk + 1ull, 2ull * kChunk, 5ull * kChunk + 7}) {
    const std::uint64_t sealed = wire::sealed_length(plain);
    EXPECT_EQ(sealed, plain + wire::sealed_chunks(plain) * kTag) << plain;
    EXPECT_EQ(wire::plain_length(sealed), plain) << plain;
  }
  EXPECT_THROW(wire::plain_length(kTag - 1), dm::FormatError);
  EXPECT_THROW(wire::plain_length(kChunk + kTag + kTag), dm::FormatError);  // a last chunk of a bare tag
  EXPECT_THROW(wire::plain_length(kChunk + kTag + 3), dm::FormatError);     // a last chunk shorter than a tag
}

TEST_P(ProtectedChunks, EverySizeAndSplitRoundTrips) {
  // Sizes at and around chunk boundaries, with heads that end inside the first chunk, exactly on
  // its boundary, and inside the second.
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, kChunk - 1, kChunk, kChunk + 1, 2 * kChunk, 2 * kChunk + 17}) {
    for (std::size_t head : {std::size_t{0}, std::size_t{100}, kChunk, kChunk + 5, size}) {
      if (head > size) continue;
      Pair k = keys();
      const auto plain = random_bytes(size, static_cast<std::uint32_t>(size + head));
      const Sealed frame = seal(k.worker, plain, head);
      EXPECT_EQ(frame.payload.size(), wire::sealed_length(size));
      EXPECT_TRUE(opens_to(k.server, frame, plain)) << "size " << size << " head " << head;
    }
  }
}

TEST_P(ProtectedChunks, AFrameOfExactlyOneChunkAndAnEmptyOne) {
  Pair k = keys();
  const auto one = random_bytes(kChunk, 1);
  const Sealed full = seal(k.worker, one, 10);
  EXPECT_EQ(full.payload.size(), kChunk + kTag);
  const Sealed empty = seal(k.worker, {}, 0);
  EXPECT_EQ(empty.payload.size(), kTag);
  EXPECT_TRUE(opens_to(k.server, full, one));
  EXPECT_TRUE(opens_to(k.server, empty, {}));
  // The empty frame's tag still binds its header: another type does not open.
  const Sealed again = seal(k.worker, {}, 0);
  Sealed retyped = again;
  retyped.header = wire::encode_header(wire::MessageType::bye, kTag);
  EXPECT_FALSE(opens_to(k.server, retyped, {}));
  EXPECT_TRUE(opens_to(k.server, again, {}));
}

TEST_P(ProtectedChunks, AFlippedByteInAnyChunkIsRefused) {
  Pair k = keys();
  const auto plain = random_bytes(3 * kChunk + 1000, 2);
  const Sealed frame = seal(k.worker, plain, 300);
  // The first and last byte of each chunk's ciphertext and of its tag, the last chunk included.
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t size = i < 3 ? kChunk : 1000;
    for (std::size_t at : {chunk_at(i), chunk_at(i) + size - 1, chunk_at(i) + size, chunk_at(i) + size + kTag - 1}) {
      Sealed altered = frame;
      altered.payload[at] ^= std::byte{0x01};
      EXPECT_FALSE(opens_to(k.server, altered, plain)) << "chunk " << i << " byte " << at;
    }
  }
  EXPECT_TRUE(opens_to(k.server, frame, plain)) << "failed attempts must not move the receiver on";
}

TEST_P(ProtectedChunks, ChunksSwappedWithinOrBetweenFramesAreRefused) {
  Pair k = keys();
  const auto a_plain = random_bytes(2 * kChunk, 3);
  const auto b_plain = random_bytes(2 * kChunk, 4);
  const Sealed a = seal(k.worker, a_plain, 64);
  const Sealed b = seal(k.worker, b_plain, 64);
  {  // chunk 0 and chunk 1 of one frame swapped (same sizes, so only their nonces tell)
    Sealed swapped = a;
    std::copy_n(a.payload.begin() + static_cast<std::ptrdiff_t>(chunk_at(1)), kChunk + kTag, swapped.payload.begin());
    std::copy_n(a.payload.begin(), kChunk + kTag, swapped.payload.begin() + static_cast<std::ptrdiff_t>(chunk_at(1)));
    EXPECT_FALSE(opens_to(k.server, swapped, a_plain));
  }
  EXPECT_TRUE(opens_to(k.server, a, a_plain));
  {  // frame b with its second chunk taken from frame a (same place, same key, another frame)
    Sealed mixed = b;
    std::copy_n(a.payload.begin() + static_cast<std::ptrdiff_t>(chunk_at(1)), kChunk + kTag,
                mixed.payload.begin() + static_cast<std::ptrdiff_t>(chunk_at(1)));
    EXPECT_FALSE(opens_to(k.server, mixed, b_plain));
  }
  EXPECT_TRUE(opens_to(k.server, b, b_plain));
}

TEST_P(ProtectedChunks, AFrameCutShortIsRefused) {
  Pair k = keys();
  const auto plain = random_bytes(2 * kChunk + 50, 5);
  const Sealed frame = seal(k.worker, plain, 64);
  {  // the last chunk dropped and the header's length made to match: the header is in every tag
    Sealed cut = frame;
    cut.payload.resize(chunk_at(2));
    cut.header = wire::encode_header(wire::MessageType::update, cut.payload.size());
    EXPECT_FALSE(opens_to(k.server, cut, plain));
  }
  {  // the last chunk's bytes cut off under the original header
    Sealed cut = frame;
    cut.payload.resize(cut.payload.size() - 20);
    EXPECT_FALSE(opens_to(k.server, cut, plain));
  }
  EXPECT_TRUE(opens_to(k.server, frame, plain));
}

// A connected pair of loopback sockets on `io`.
// A tensor whose values are their index, as a frame payload's body.
dm::Tensor counting(std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f;
  return dm::Tensor::from_vector(v);
}

// Metadata that makes the payload of `numel` values exactly `bytes` long, when one exists.
std::optional<dm::io::Metadata> metadata_for_size(std::int64_t numel, std::size_t bytes) {
  for (std::size_t pad = 0; pad < 64; ++pad) {
    dm::io::Metadata m{{"version", "1"}, {"pad", std::string(pad, 'x')}};
    if (wire::encode_tensor_parts("parameters", dm::Tensor::zeros({numel}), m).size() == bytes) return m;
  }
  return std::nullopt;
}

TEST(SealedChunks, TensorFramesLandInTheirTensorSealedAuthenticatedOrPlain) {
  // Payloads of several chunks, of exactly one chunk, and a small one; sealed and plain.
  const std::int64_t one_chunk_numel = static_cast<std::int64_t>(kChunk / 4) - 40;
  const auto exact = metadata_for_size(one_chunk_numel, kChunk);
  ASSERT_TRUE(exact.has_value());
  struct Case {
    std::int64_t numel;
    dm::io::Metadata metadata;
  };
  const std::vector<Case> cases{{200000, {{"version", "7"}}}, {one_chunk_numel, *exact}, {3, {{"version", "2"}}}};
  for (const std::optional<WireProtection> protection :
       {std::optional(WireProtection::sealed), std::optional(WireProtection::authenticated), std::optional<WireProtection>()}) {
    const bool sealed = protection.has_value();
    for (const Case& c : cases) {
      Runner r;
      Sockets s(r.io);
      Pair k = keys(protection.value_or(WireProtection::sealed));
      const dm::Tensor sent = counting(c.numel);
      const auto parts = wire::encode_tensor_parts("parameters", sent, c.metadata);
      if (c.numel == one_chunk_numel) {
        ASSERT_EQ(parts.size(), kChunk);
      }
      wire::TensorFrame got;
      r.spawn([&]() -> asio::awaitable<void> {
        co_await wire::write_frame(s.a, wire::MessageType::parameters, parts.head, parts.body(), 2000ms,
                                   sealed ? &k.server : nullptr);
        // A control frame after it, to check the stream stays in step.
        co_await wire::write_frame(s.a, wire::MessageType::done, {}, 2000ms, sealed ? &k.server : nullptr);
      });
      wire::MessageType after = wire::MessageType::bye;
      r.spawn([&]() -> asio::awaitable<void> {
        // Named: GCC 12 mishandles temporaries with destructors inside a co_await.
        const wire::TensorExpectation expected{"parameters", c.numel, false};
        got = co_await wire::read_tensor_frame(s.b, 2000ms, 1 << 24, sealed ? &k.worker : nullptr, expected);
        const wire::Frame next = co_await wire::read_frame(s.b, 2000ms, 1 << 24, sealed ? &k.worker : nullptr);
        after = next.type;
      });
      r.run(std::chrono::seconds(20));
      EXPECT_EQ(got.type, wire::MessageType::parameters);
      ASSERT_TRUE(got.tensor.tensor.defined());
      EXPECT_EQ(got.tensor.tensor.to_vector<float>(), sent.to_vector<float>()) << "numel " << c.numel << " protection " << (sealed ? wire_protection_name(*protection) : "none");
      EXPECT_EQ(got.tensor.metadata, c.metadata);
      EXPECT_EQ(after, wire::MessageType::done);
    }
  }
}

TEST_P(ProtectedChunks, ATensorFrameWithAFlippedByteInItsLastChunkIsRefused) {
  Runner r;
  Sockets s(r.io);
  Pair k = keys();
  const dm::Tensor sent = counting(200000);  // 800 KB: four chunks
  const auto parts = wire::encode_tensor_parts("gradient", sent, {{"base_version", "0"}});
  const auto header = wire::encode_header(wire::MessageType::update, wire::sealed_length(parts.size()));
  std::vector<std::byte> sealed = k.worker.seal(header, parts.head, parts.body());
  sealed[sealed.size() - kTag - 1] ^= std::byte{0x80};
  std::string error;
  r.spawn([&]() -> asio::awaitable<void> {
    co_await wire::write_raw(s.a, header, 2000ms);
    co_await wire::write_raw(s.a, sealed, 2000ms);
  });
  r.spawn([&]() -> asio::awaitable<void> {
    try {
      const wire::TensorExpectation expected{"gradient", 200000, true};
      co_await wire::read_tensor_frame(s.b, 2000ms, 1 << 24, &k.server, expected);
    } catch (const dm::DistributedError& e) {
      error = e.what();
    }
  });
  r.run(std::chrono::seconds(20));
  EXPECT_NE(error.find("failed authentication"), std::string::npos) << error;
}

TEST(SealedChunks, ATensorFrameThatDoesNotMatchIsAFormatError) {
  Runner r;
  Sockets s(r.io);
  const auto parts = wire::encode_tensor_parts("gradient", counting(10), {});
  std::string error;
  r.spawn([&]() -> asio::awaitable<void> {
    co_await wire::write_frame(s.a, wire::MessageType::update, parts.head, parts.body(), 2000ms);
  });
  r.spawn([&]() -> asio::awaitable<void> {
    try {
      const wire::TensorExpectation expected{"gradient", 11, false};
      co_await wire::read_tensor_frame(s.b, 2000ms, 1 << 24, nullptr, expected);
    } catch (const dm::FormatError& e) {
      error = e.what();
    }
  });
  r.run(std::chrono::seconds(20));
  EXPECT_NE(error.find("expected [11]"), std::string::npos) << error;
}

TEST(SealedChunks, AuthenticatedChunksTravelInTheClearAndSealedOnesDoNot) {
  const auto plain = random_bytes(kChunk + 500, 6);
  Pair sealed_keys = keys(WireProtection::sealed);
  Pair clear_keys = keys(WireProtection::authenticated);
  const Sealed sealed = seal(sealed_keys.worker, plain, 100);
  const Sealed clear = seal(clear_keys.worker, plain, 100);
  ASSERT_EQ(sealed.payload.size(), clear.payload.size()) << "the same layout either way";
  EXPECT_TRUE(std::equal(plain.begin(), plain.begin() + kChunk, clear.payload.begin()));
  EXPECT_TRUE(std::equal(plain.begin() + kChunk, plain.end(), clear.payload.begin() + static_cast<std::ptrdiff_t>(chunk_at(1))));
  EXPECT_FALSE(std::equal(plain.begin(), plain.begin() + kChunk, sealed.payload.begin()));
  // A tag alone is all that is made for a chunk that leaves from where it lies.
  const std::span<const std::byte> first = std::span<const std::byte>(plain).first(100);
  const std::span<const std::byte> second = std::span<const std::byte>(plain).subspan(100);
  Pair again = keys(WireProtection::authenticated);
  const auto tag = again.worker.tag_chunk(clear.header, 0, 1, first, second);
  const Sealed from_tags = seal(again.worker, plain, 100);  // frame 0 of this pair, as the tag above
  EXPECT_TRUE(std::equal(tag.begin(), tag.end(), from_tags.payload.begin() + static_cast<std::ptrdiff_t>(chunk_at(1) + 500)));
  EXPECT_THROW(sealed_keys.worker.tag_chunk(sealed.header, 0, 0, first, second), std::logic_error);
}

TEST(SealedChunks, KeysForOneProtectionDoNotOpenTheOther) {
  // The protection is bound into the keys: a frame authenticated by one end does not pass at an
  // end that expects sealed frames under the same secret and nonces, nor the other way round.
  const auth::Nonce s = auth::make_nonce();
  const auth::Nonce w = auth::make_nonce();
  const auto plain = random_bytes(1000, 7);
  for (const auto& [sender, receiver] : {std::pair{WireProtection::sealed, WireProtection::authenticated},
                                        std::pair{WireProtection::authenticated, WireProtection::sealed}}) {
    wire::Sealing from = wire::Sealing::derive("chunk secret", s, w, wire::End::worker, sender);
    wire::Sealing at = wire::Sealing::derive("chunk secret", s, w, wire::End::server, receiver);
    EXPECT_FALSE(opens_to(at, seal(from, plain, 10), plain)) << wire_protection_name(sender);
  }
}

TEST(SealedChunks, ProtectionNamesRoundTrip) {
  for (WireProtection p : {WireProtection::sealed, WireProtection::authenticated})
    EXPECT_EQ(parse_wire_protection(wire_protection_name(p)), p);
  EXPECT_THROW(parse_wire_protection("none"), dm::ValueError);
}

INSTANTIATE_TEST_SUITE_P(BothProtections, ProtectedChunks,
                         ::testing::Values(WireProtection::sealed, WireProtection::authenticated),
                         [](const ::testing::TestParamInfo<WireProtection>& info) {
                           return std::string(wire_protection_name(info.param));
                         });

}  // namespace
