#pragma once
// Frames over a TCP socket, every operation bounded by a deadline: a peer that goes silent,
// or trickles a frame one byte at a time, costs at most `timeout` before a TimeoutError.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <span>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "distributed/frame.hpp"
#include "distributed/sealing.hpp"

namespace dm::dist::wire {

using Duration = std::chrono::steady_clock::duration;

/// Leaves new elements uninitialised: a payload is overwritten by the read at once, and
/// zeroing megabytes first would cost as much as the copy itself.
template <class T>
struct UninitialisedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitialisedAllocator<U>;
  };
  UninitialisedAllocator() = default;
  template <class U>
  UninitialisedAllocator(const UninitialisedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

struct Frame {
  MessageType type;
  std::vector<std::byte, UninitialisedAllocator<std::byte>> payload;
};

/// Reads one whole frame within `timeout`. The header is validated against `max_payload`
/// before the payload is allocated. FormatError for a malformed header, TimeoutError when
/// the deadline passes, DistributedError when the peer closes or resets the connection.
/// With `sealing` (a connection keyed from a shared secret) the frame is opened: a
/// DistributedError when it was altered, replayed, reordered or not sealed at all.
asio::awaitable<Frame> read_frame(asio::ip::tcp::socket& socket, Duration timeout, std::size_t max_payload,
                                  Sealing* sealing = nullptr);

/// A frame that may carry one tensor: parameters and update frames carry it in `tensor`,
/// received straight into the tensor's own memory (no payload buffer, no copy); any other
/// frame carries its payload as read_frame gives it.
struct TensorFrame {
  MessageType type;
  std::vector<std::byte, UninitialisedAllocator<std::byte>> payload;
  TensorPayload tensor;
  /// Read with TensorExpectation::check_finite: whether every value of the tensor is finite.
  bool finite = true;
};

/// What a tensor frame must hold: one tensor called `name` of shape [numel], f32 (or bf16
/// with `bf16_allowed`). With `check_finite` the values are checked for NaN and infinity as
/// they arrive, each piece while it is still in cache (TensorFrame::finite).
struct TensorExpectation {
  std::string name;
  std::int64_t numel = 0;
  bool bf16_allowed = false;
  bool check_finite = false;
};

/// read_frame for frames that carry a tensor: the safetensors head is read (and, sealed,
/// authenticated) and checked against `expected` before the tensor is allocated; a head
/// beyond kMaxTensorHeadBytes or any mismatch is a FormatError.
asio::awaitable<TensorFrame> read_tensor_frame(asio::ip::tcp::socket& socket, Duration timeout, std::size_t max_payload,
                                               Sealing* sealing, const TensorExpectation& expected);

/// Writes header and payload within `timeout` (TimeoutError / DistributedError as above),
/// sealed when `sealing` is given.
asio::awaitable<void> write_frame(asio::ip::tcp::socket& socket, MessageType type, std::span<const std::byte> payload,
                                  Duration timeout, Sealing* sealing = nullptr);

/// Writes a payload given in two parts, a head and a body: plain, both go out in one gathered
/// write straight from their memory; sealed, chunk by chunk, each sealed into a buffer of
/// the connection and written while the peer opens the one before.
asio::awaitable<void> write_frame(asio::ip::tcp::socket& socket, MessageType type, std::span<const std::byte> head,
                                  std::span<const std::byte> body, Duration timeout, Sealing* sealing = nullptr);

/// Writes bytes as they are (also used to play hostile peers in tests).
asio::awaitable<void> write_raw(asio::ip::tcp::socket& socket, std::span<const std::byte> bytes, Duration timeout);

/// Resolves and connects within `timeout`; DistributedError naming host:port when refused.
asio::awaitable<asio::ip::tcp::socket> connect(const std::string& host, std::uint16_t port, Duration timeout);

}  // namespace dm::dist::wire
