#pragma once
// Challenge-response authentication with a shared secret: the server sends a fresh random
// nonce, the worker answers HMAC-SHA256(secret, tag | nonce). The secret never crosses the
// wire and a recorded answer is useless against the next nonce. Comparison is constant-time.
#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace dm::dist::auth {

inline constexpr std::size_t kNonceBytes = 32;
inline constexpr std::size_t kMacBytes = 32;

using Nonce = std::array<std::byte, kNonceBytes>;
using Mac = std::array<std::byte, kMacBytes>;

/// Fresh bytes from OpenSSL's CSPRNG; DistributedError if it cannot provide them.
Nonce make_nonce();

/// The answer to `nonce` under `secret`.
Mac respond(std::string_view secret, std::span<const std::byte> nonce);

/// True when `answer` is respond(secret, nonce); constant time in the answer's contents.
bool verify(std::string_view secret, std::span<const std::byte> nonce, std::span<const std::byte> answer);

}  // namespace dm::dist::auth
