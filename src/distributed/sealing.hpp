#pragma once
// Every frame after the handshake of a connection with a shared secret is sealed: encrypted
// and authenticated with AES-256-GCM, its header bound in as associated data. Keys come from
// HKDF-SHA256 over the secret and both sides' fresh nonces, one key per direction, so each
// connection has its own keys and neither side's frames can be reflected back to it. The
// 96-bit GCM nonce is the frame's sequence number in its direction: a receiver opens frame n
// only with nonce n, so an altered, replayed, reordered or dropped frame fails to open.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace dm::dist::wire {

inline constexpr std::size_t kSealTagBytes = 16;

/// Which end of the connection this is: the two ends send with each other's receive key.
enum class End { server, worker };

class Sealing {
 public:
  /// Keys for one connection: `server_nonce` is the challenge, `worker_nonce` the worker's own
  /// fresh nonce sent with its answer. DistributedError if OpenSSL fails.
  static Sealing derive(std::string_view secret, std::span<const std::byte> server_nonce,
                        std::span<const std::byte> worker_nonce, End end);

  /// The sealed form of `head` followed by `body` (ciphertext, then the tag), to be sent
  /// after `header`, which the tag covers. Advances the send sequence.
  std::vector<std::byte> seal(std::span<const std::byte> header, std::span<const std::byte> head,
                              std::span<const std::byte> body);

  /// Opens a sealed payload in place and returns the plaintext's length; DistributedError
  /// when the tag does not verify (altered, replayed, reordered or forged). Advances the
  /// receive sequence only on success.
  std::size_t open(std::span<const std::byte> header, std::span<std::byte> sealed, const char* who);

 private:
  Sealing() = default;
  std::array<unsigned char, 32> send_key_{};
  std::array<unsigned char, 32> receive_key_{};
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace dm::dist::wire
