#pragma once
// Frames over a TCP socket, every operation bounded by a deadline: a peer that goes silent,
// or trickles a frame one byte at a time, costs at most `timeout` before a TimeoutError.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "dist/frame.hpp"

namespace dm::dist::wire {

using Duration = std::chrono::steady_clock::duration;

struct Frame {
  MessageType type;
  std::vector<std::byte> payload;
};

/// Reads one whole frame within `timeout`. The header is validated against `max_payload`
/// before the payload is allocated. FormatError for a malformed header, TimeoutError when
/// the deadline passes, DistributedError when the peer closes or resets the connection.
asio::awaitable<Frame> read_frame(asio::ip::tcp::socket& socket, Duration timeout, std::size_t max_payload);

/// Writes header and payload within `timeout` (TimeoutError / DistributedError as above).
asio::awaitable<void> write_frame(asio::ip::tcp::socket& socket, MessageType type, std::span<const std::byte> payload,
                                  Duration timeout);

/// Writes bytes as they are (also used to play hostile peers in tests).
asio::awaitable<void> write_raw(asio::ip::tcp::socket& socket, std::span<const std::byte> bytes, Duration timeout);

/// Resolves and connects within `timeout`; DistributedError naming host:port when refused.
asio::awaitable<asio::ip::tcp::socket> connect(const std::string& host, std::uint16_t port, Duration timeout);

}  // namespace dm::dist::wire
