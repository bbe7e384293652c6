#pragma once
// The worker's half of the handshake, shared by the Worker and by tests that play peers.
// The server sends a fresh nonce; the worker answers HMAC(secret, server nonce | worker nonce)
// followed by its own fresh nonce. With a secret, both ends then derive the connection's
// frame keys from the secret and both nonces (see sealing.hpp), and every later frame is
// sealed: a server that does not know the secret cannot produce one the worker will open.
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "distributed/frame_io.hpp"
#include "distributed/sealing.hpp"

namespace dm::dist::wire {

/// Reads the challenge and answers it within `timeout`. Returns the sealing for the rest of
/// the connection, or nothing without a secret (loopback only). FormatError when the server
/// sends something other than a challenge.
asio::awaitable<std::optional<Sealing>> answer_challenge(asio::ip::tcp::socket& socket, std::string_view secret,
                                                         Duration timeout,
                                                         WireProtection protection = WireProtection::sealed);

/// The nonces a response payload carries after its MAC.
struct Response {
  std::span<const std::byte> mac;
  std::span<const std::byte> worker_nonce;
};
Response split_response(std::span<const std::byte> payload);

/// What the MAC of a response covers: the server's nonce, then the worker's.
std::vector<std::byte> both_nonces(std::span<const std::byte> server_nonce, std::span<const std::byte> worker_nonce);

}  // namespace dm::dist::wire
