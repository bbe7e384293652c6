#include "distributed/frame_io.hpp"

#include <string>
#include <variant>

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "democratising/base/error.hpp"

namespace dm::dist::wire {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
// as_tuple turns errors into values: `||` waits for the first *successful* branch, and a
// failed read must end the race at once rather than wait for the timer.
constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

[[noreturn]] void throw_socket_error(const asio::error_code& ec, const char* what) {
  if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
    throw DistributedError(std::string("[") + what + "] the peer closed the connection");
  throw DistributedError(std::string("[") + what + "] " + ec.message());
}

// Reads exactly buffer.size() bytes unless the deadline passes first.
asio::awaitable<void> read_until(tcp::socket& socket, asio::mutable_buffer buffer, asio::steady_timer& timer) {
  auto result = co_await (asio::async_read(socket, buffer, tuple_awaitable) || timer.async_wait(tuple_awaitable));
  if (result.index() == 1) throw TimeoutError("[read_frame] the peer sent nothing complete before the deadline");
  const auto [ec, n] = std::get<0>(result);
  if (ec) throw_socket_error(ec, "read_frame");
}

}  // namespace

asio::awaitable<Frame> read_frame(tcp::socket& socket, Duration timeout, std::size_t max_payload, Sealing* sealing) {
  // One deadline for the whole frame, so trickling bytes does not extend it.
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(timeout);
  std::array<std::byte, kHeaderBytes> header_bytes{};
  co_await read_until(socket, asio::buffer(header_bytes), timer);
  const FrameHeader header = decode_header(header_bytes, max_payload, sealing ? kSealTagBytes : 0);
  Frame frame{header.type, {}};
  frame.payload.resize(header.length);
  if (header.length > 0) co_await read_until(socket, asio::buffer(frame.payload), timer);
  if (sealing) {
    // A server refuses a wrong answer before any key exists, so its refusal comes unsealed.
    // It proves nothing (anyone on the path could send one): it is reported, with its text
    // made printable, as an error the worker may retry after, never as a verified refusal.
    try {
      frame.payload.resize(sealing->open(header_bytes, frame.payload, "read_frame"));
    } catch (const DistributedError&) {
      if (header.type != MessageType::refused) throw;
      std::string reason;
      for (std::byte b : frame.payload)
        if (reason.size() < 200) reason += (b >= std::byte{32} && b < std::byte{127}) ? static_cast<char>(b) : '?';
      throw DistributedError("[read_frame] refused by a peer that has not proved the shared secret (a wrong secret on one side?): " +
                             reason);
    }
  }
  co_return frame;
}

asio::awaitable<void> write_raw(tcp::socket& socket, std::span<const std::byte> bytes, Duration timeout) {
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(timeout);
  auto result = co_await (asio::async_write(socket, asio::buffer(bytes.data(), bytes.size()), tuple_awaitable) ||
                          timer.async_wait(tuple_awaitable));
  if (result.index() == 1) throw TimeoutError("[write_frame] the peer did not take the frame before the deadline");
  const auto [ec, n] = std::get<0>(result);
  if (ec) throw_socket_error(ec, "write_frame");
}

asio::awaitable<void> write_frame(tcp::socket& socket, MessageType type, std::span<const std::byte> payload,
                                  Duration timeout, Sealing* sealing) {
  co_await write_frame(socket, type, payload, {}, timeout, sealing);
}

asio::awaitable<void> write_frame(tcp::socket& socket, MessageType type, std::span<const std::byte> head,
                                  std::span<const std::byte> body, Duration timeout, Sealing* sealing) {
  const std::size_t overhead = sealing ? kSealTagBytes : 0;
  const auto header = encode_header(type, head.size() + body.size() + overhead);
  std::vector<std::byte> sealed;
  if (sealing) {
    // The ciphertext replaces the payload: one pass over it, which the cipher needs anyway.
    sealed = sealing->seal(header, head, body);
    head = sealed;
    body = {};
  }
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(timeout);
  // Header and payload in one gathered write: the payload is never copied.
  const std::array<asio::const_buffer, 3> buffers{asio::buffer(header), asio::buffer(head.data(), head.size()),
                                                  asio::buffer(body.data(), body.size())};
  auto result = co_await (asio::async_write(socket, buffers, tuple_awaitable) || timer.async_wait(tuple_awaitable));
  if (result.index() == 1) throw TimeoutError("[write_frame] the peer did not take the frame before the deadline");
  const auto [ec, n] = std::get<0>(result);
  if (ec) throw_socket_error(ec, "write_frame");
}

asio::awaitable<tcp::socket> connect(const std::string& host, std::uint16_t port, Duration timeout) {
  const auto executor = co_await asio::this_coro::executor;
  const std::string where = host + ":" + std::to_string(port);
  asio::steady_timer timer(executor);
  timer.expires_after(timeout);
  tcp::resolver resolver(executor);
  auto resolved = co_await (resolver.async_resolve(host, std::to_string(port), tuple_awaitable) || timer.async_wait(tuple_awaitable));
  if (resolved.index() == 1) throw TimeoutError("[connect] resolving " + where + " timed out");
  const auto [rec, endpoints] = std::get<0>(resolved);
  if (rec) throw DistributedError("[connect] cannot resolve " + where + ": " + rec.message());
  tcp::socket socket(executor);
  auto connected = co_await (asio::async_connect(socket, endpoints, tuple_awaitable) || timer.async_wait(tuple_awaitable));
  if (connected.index() == 1) throw TimeoutError("[connect] " + where + " did not answer in time");
  const auto [cec, endpoint] = std::get<0>(connected);
  if (cec) throw DistributedError("[connect] " + where + ": " + cec.message());
  socket.set_option(tcp::no_delay(true));
  co_return socket;
}

}  // namespace dm::dist::wire
