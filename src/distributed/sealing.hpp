#pragma once
// Every frame after the handshake of a connection with a shared secret is sealed: encrypted
// and authenticated with AES-256-GCM, its header bound in as associated data; or, where the
// two ends chose WireProtection::authenticated, only authenticated: the same chunks and tags,
// each tag AES-256-GMAC over the header and the chunk's plain bytes. Keys come from
// HKDF-SHA256 over the secret and both sides' fresh nonces, one key per direction, so each
// connection has its own keys and neither side's frames can be reflected back to it.
//
// A sealed payload is cut into chunks of kSealChunkBytes plaintext bytes (the last one shorter;
// an empty payload is one empty chunk), each sent as its ciphertext followed by its own tag:
//
//   chunk 0 ciphertext | tag 0 | chunk 1 ciphertext | tag 1 | ...
//
// so a receiver opens each chunk in place while it is still in cache, as it arrives, and the
// sender seals the next one while the peer opens the last. The 96-bit GCM nonce of chunk i of
// frame n (n counts the frames in one direction) is i (u32 LE) then n (u64 LE), and every
// chunk's tag covers the frame header, which holds the sealed length: a receiver opens frame n
// only with nonce n, so an altered, replayed, reordered or dropped frame fails to open, and
// so does a chunk moved within its frame, swapped in from another frame or cut off. The
// protection is bound into the keys: two ends that chose differently cannot open each other's
// frames, so no one on the path can talk one end down from sealed to authenticated.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/distributed/wire_protection.hpp"

namespace dm::dist::wire {

inline constexpr std::size_t kSealTagBytes = 16;
/// Plaintext bytes per sealed chunk: a chunk and its ciphertext stay in a core's L2 cache, and
/// the per-chunk costs (a cipher set-up, a read) are small beside its ~0.1 ms of AES-GCM.
inline constexpr std::size_t kSealChunkBytes = 256 * 1024;

/// Most chunks sealed or opened at once (in parallel, one per pool thread).
inline constexpr std::size_t kMaxChunksAtOnce = 8;

/// Chunks of a sealed payload of `plain` bytes (at least one).
std::uint64_t sealed_chunks(std::uint64_t plain);
/// The plain bytes of chunk `index` of the payload `head` then `body`: the part of head and the
/// part of body it covers (either may be empty).
std::pair<std::span<const std::byte>, std::span<const std::byte>> chunk_of(std::span<const std::byte> head,
                                                                           std::span<const std::byte> body,
                                                                           std::uint64_t index);
/// Bytes a payload of `plain` bytes takes on the wire once sealed.
std::uint64_t sealed_length(std::uint64_t plain);
/// The plaintext length of a sealed payload of `sealed` bytes; FormatError when no payload
/// seals to that length (shorter than a tag, or a last chunk with no room for its tag).
std::uint64_t plain_length(std::uint64_t sealed);

/// Which end of the connection this is: the two ends send with each other's receive key.
enum class End { server, worker };

class Sealing {
 public:
  using Tag = std::array<std::byte, kSealTagBytes>;

  /// Keys for one connection: `server_nonce` is the challenge, `worker_nonce` the worker's own
  /// fresh nonce sent with its answer. DistributedError if OpenSSL fails.
  static Sealing derive(std::string_view secret, std::span<const std::byte> server_nonce,
                        std::span<const std::byte> worker_nonce, End end,
                        WireProtection protection = WireProtection::sealed);

  WireProtection protection() const { return protection_; }

  // Sending, chunk by chunk (frame_io streams them): take the frame's sequence number once,
  // then seal each chunk of the payload `head` followed by `body`. seal_chunk and open_chunk
  // only read the keys and counters: several threads may seal or open different chunks of a
  // frame at once.

  /// The sequence number of the next frame sent; advances the send sequence.
  std::uint64_t next_send_sequence() { return sent_++; }
  /// Seals chunk `index` of frame `sequence`, whose payload is `head` then `body`, into `out`:
  /// the chunk's ciphertext, then its tag. Returns the bytes written (at most kSealChunkBytes
  /// + kSealTagBytes). `out` may not overlap the payload.
  std::size_t seal_chunk(std::span<const std::byte> header, std::uint64_t sequence, std::uint64_t index,
                         std::span<const std::byte> head, std::span<const std::byte> body, std::byte* out) const;
  /// Authenticated protection only: the tag of chunk `index` of frame `sequence`, whose plain
  /// bytes then go on the wire from where they lie (the payload is never copied).
  Tag tag_chunk(std::span<const std::byte> header, std::uint64_t sequence, std::uint64_t index,
                std::span<const std::byte> head, std::span<const std::byte> body) const;

  // Receiving, in place: open each chunk of the frame in order, then call frame_opened().

  /// Decrypts chunk `index` of the next frame in place (sealed) and checks its tag; false when
  /// the tag does not verify (the bytes must then not be used).
  bool open_chunk(std::span<const std::byte> header, std::uint64_t index, std::span<std::byte> chunk,
                  const Tag& tag) const;
  /// Every chunk of the frame opened: advances the receive sequence.
  void frame_opened() { ++received_; }

  /// Room for the sealed chunks on their way out, and for the first chunk of a frame on its
  /// way in: kept by the connection, so frames allocate nothing.
  std::vector<std::byte>& send_buffer() { return send_buffer_; }
  std::vector<std::byte>& receive_buffer() { return receive_buffer_; }

  /// The whole sealed form of `head` followed by `body` in one buffer (control frames and
  /// tests). Advances the send sequence.
  std::vector<std::byte> seal(std::span<const std::byte> header, std::span<const std::byte> head,
                              std::span<const std::byte> body);

  /// Opens a whole sealed payload in place; the plaintext ends up at its front and its length
  /// is returned. DistributedError when a tag does not verify or the length is not a sealed
  /// one (altered, replayed, reordered, truncated or forged). Advances the receive sequence
  /// only on success.
  std::size_t open(std::span<const std::byte> header, std::span<std::byte> sealed, const char* who);

 private:
  Sealing() = default;
  WireProtection protection_ = WireProtection::sealed;
  std::array<unsigned char, 32> send_key_{};
  std::array<unsigned char, 32> receive_key_{};
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
  std::vector<std::byte> send_buffer_;
  std::vector<std::byte> receive_buffer_;
};

/// What a frame that fails to open raises: a DistributedError callers can tell from a lost
/// connection (a worker names it when it gives up reconnecting).
class UnopenedFrame : public DistributedError {
 public:
  using DistributedError::DistributedError;
};

/// The error every failed opening raises, naming `who` was reading.
[[noreturn]] void refuse_unopened_frame(const char* who);

}  // namespace dm::dist::wire
