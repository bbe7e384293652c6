#include "distributed/frame_io.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include <sys/socket.h>

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
#include "democratising/runtime/pool.hpp"
#include "distributed/arrival_finite_check.hpp"

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

// Reads exactly the buffers' size unless the deadline passes first.
template <class Buffers>
asio::awaitable<void> read_until(tcp::socket& socket, Buffers buffers, asio::steady_timer& timer) {
  auto result = co_await (asio::async_read(socket, buffers, tuple_awaitable) || timer.async_wait(tuple_awaitable));
  if (result.index() == 1) throw TimeoutError("[read_frame] the peer sent nothing complete before the deadline");
  const auto [ec, n] = std::get<0>(result);
  if (ec) throw_socket_error(ec, "read_frame");
}

// Writes all of the buffers unless the deadline passes first.
template <class Buffers>
asio::awaitable<void> write_until(tcp::socket& socket, Buffers buffers, asio::steady_timer& timer) {
  auto result = co_await (asio::async_write(socket, buffers, tuple_awaitable) || timer.async_wait(tuple_awaitable));
  if (result.index() == 1) throw TimeoutError("[write_frame] the peer did not take the frame before the deadline");
  const auto [ec, n] = std::get<0>(result);
  if (ec) throw_socket_error(ec, "write_frame");
}

// Reads all of `into` before the deadline, waking only once a good piece of it has arrived:
// SO_RCVLOWAT is raised to min(what is left, kWakeBytes) for each wait (never above what is
// still to come, or the wait would outlast the frame), so a payload of megabytes costs a few
// wake-ups instead of one per burst of segments. Put back to 1 afterwards, also on failure.
constexpr std::size_t kWakeBytes = 256 * 1024;

class ReceiveLowWater {
 public:
  explicit ReceiveLowWater(tcp::socket& socket) : socket_(socket) {}
  ~ReceiveLowWater() { set(1); }
  ReceiveLowWater(const ReceiveLowWater&) = delete;
  ReceiveLowWater& operator=(const ReceiveLowWater&) = delete;
  void set(std::size_t bytes) {
    const int want = static_cast<int>(std::max<std::size_t>(1, bytes));
    if (want == current_) return;
    // Best effort: where the option is refused, reads simply wake more often.
    if (::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want) == 0) current_ = want;
  }

 private:
  tcp::socket& socket_;
  int current_ = 1;
};

// Told how many bytes of a read are final (received and, in a protected frame, opened or
// checked), each time that grows: the caller can look at them while they are still in cache.
using Progress = std::function<void(std::size_t)>;

// Reads all of `buffers` (consumed as they fill) before the deadline; `progress`, if given,
// hears how many bytes have arrived after each wake-up.
asio::awaitable<void> read_large(tcp::socket& socket, std::vector<asio::mutable_buffer> buffers, asio::steady_timer& timer,
                                 const Progress* progress = nullptr) {
  ReceiveLowWater low_water(socket);
  const std::size_t size = asio::buffer_size(buffers);
  std::size_t left = size;
  std::size_t done = 0;  // buffers before this index are full
  while (left > 0) {
    low_water.set(std::min(left, kWakeBytes));
    const std::span<const asio::mutable_buffer> rest(buffers.data() + done, buffers.size() - done);
    auto result = co_await (socket.async_read_some(rest, tuple_awaitable) || timer.async_wait(tuple_awaitable));
    if (result.index() == 1) throw TimeoutError("[read_frame] the peer sent nothing complete before the deadline");
    const auto [ec, n] = std::get<0>(result);
    if (ec) throw_socket_error(ec, "read_frame");
    left -= n;
    for (std::size_t got = n; got > 0;) {
      const std::size_t take = std::min(got, buffers[done].size());
      buffers[done] += take;
      got -= take;
      if (buffers[done].size() == 0) ++done;
    }
    while (done < buffers.size() && buffers[done].size() == 0) ++done;
    if (progress) (*progress)(size - left);
  }
}

std::uint64_t get_le_u64(const std::byte* in) {
  std::uint64_t value = 0;
  std::memcpy(&value, in, sizeof value);
  if constexpr (std::endian::native == std::endian::big) value = __builtin_bswap64(value);
  return value;
}

// How many sealed chunks are sealed or opened at once, in parallel on the pool: as many as it
// has threads, so a frame's cipher work spreads over the cores instead of waiting on one.
std::size_t chunks_at_once() { return static_cast<std::size_t>(std::clamp(num_threads(), 1, static_cast<int>(kMaxChunksAtOnce))); }

// Runs body(j) for j in [0, n): inline for one, on the pool for more.
template <class F>
void for_each_chunk(std::size_t n, F&& body) {
  if (n == 1) {
    body(std::size_t{0});
    return;
  }
  par_for(static_cast<std::int64_t>(n), 1, [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t j = lo; j < hi; ++j) body(static_cast<std::size_t>(j));
  });
}

// Reads a frame's payload into places the caller picks, in order. Plain, the bytes go straight
// from the socket to their place; sealed or authenticated, a few chunks and their tags are read
// in one go and opened (or only checked) where they landed while they are still in cache, so
// the payload is never held twice.
// Sealed reads must start and end on chunk boundaries (a chunk opens in one piece).
class PayloadReader {
 public:
  PayloadReader(tcp::socket& socket, asio::steady_timer& timer, Sealing* sealing, std::span<const std::byte> header,
                std::uint64_t plain)
      : socket_(socket), timer_(timer), sealing_(sealing), header_(header), left_(plain) {}

  /// The next into.size() bytes of the payload; `progress`, if given, hears how many of them
  /// are final each time that grows.
  asio::awaitable<void> read(std::span<std::byte> into, const Progress* progress = nullptr) {
    if (into.size() > left_) throw std::logic_error("[read_frame] reading past the payload");
    if (!sealing_) {
      if (into.size() > kWakeBytes) {
        // Named: GCC 12 mishandles temporaries that own memory inside a co_await.
        std::vector<asio::mutable_buffer> whole{asio::buffer(into.data(), into.size())};
        co_await read_large(socket_, std::move(whole), timer_, progress);
      } else if (!into.empty()) {
        co_await read_until(socket_, asio::buffer(into.data(), into.size()), timer_);
        if (progress) (*progress)(into.size());
      }
      left_ -= into.size();
      co_return;
    }
    std::size_t final_bytes = 0;
    const std::size_t batch = chunks_at_once();
    std::array<Sealing::Tag, kMaxChunksAtOnce> tags{};
    std::array<std::size_t, kMaxChunksAtOnce> sizes{};
    std::array<char, kMaxChunksAtOnce> opened{};
    std::vector<asio::mutable_buffer> buffers;
    while (!into.empty()) {
      // Every chunk but a frame's last is full, so chunk j of this batch starts at j * kSealChunkBytes.
      std::size_t n = 0, total = 0;
      buffers.clear();
      while (n < batch && total < into.size()) {
        sizes[n] = static_cast<std::size_t>(std::min<std::uint64_t>(kSealChunkBytes, left_ - total));
        if (into.size() < total + sizes[n]) throw std::logic_error("[read_frame] a sealed read must end on a chunk boundary");
        buffers.push_back(asio::buffer(into.data() + total, sizes[n]));
        buffers.push_back(asio::buffer(tags[n]));
        total += sizes[n];
        ++n;
      }
      co_await read_large(socket_, buffers, timer_);
      for_each_chunk(n, [&](std::size_t j) {
        opened[j] = sealing_->open_chunk(header_, chunk_ + j, into.subspan(j * kSealChunkBytes, sizes[j]), tags[j]);
      });
      for (std::size_t j = 0; j < n; ++j)
        if (!opened[j]) refuse_unopened_frame("read_frame");
      chunk_ += n;
      left_ -= total;
      into = into.subspan(total);
      final_bytes += total;
      if (progress) (*progress)(final_bytes);
    }
  }

  /// After the last read: an empty sealed payload still has its one chunk's tag to check, and
  /// the frame counts as opened only now that every chunk has.
  asio::awaitable<void> finish() {
    if (left_ != 0) throw std::logic_error("[read_frame] payload not read to its end");
    if (!sealing_) co_return;
    if (chunk_ == 0) {
      Sealing::Tag tag{};
      co_await read_until(socket_, asio::buffer(tag), timer_);
      if (!sealing_->open_chunk(header_, 0, {}, tag)) refuse_unopened_frame("read_frame");
    }
    sealing_->frame_opened();
  }

 private:
  tcp::socket& socket_;
  asio::steady_timer& timer_;
  Sealing* sealing_;
  std::span<const std::byte> header_;
  std::uint64_t left_;
  std::uint64_t chunk_ = 0;
};

// The payload of a frame whose header has been read and validated.
asio::awaitable<Frame> read_payload(tcp::socket& socket, asio::steady_timer& timer, Sealing* sealing,
                                    const std::array<std::byte, kHeaderBytes>& header_bytes, const FrameHeader& header) {
  Frame frame{header.type, {}};
  if (sealing && header.type == MessageType::refused) {
    // A server refuses a wrong answer before any key exists, so its refusal comes unsealed.
    // It proves nothing (anyone on the path could send one): it is reported, with its text
    // made printable, as an error the worker may retry after, never as a verified refusal.
    frame.payload.resize(header.length);
    co_await read_until(socket, asio::buffer(frame.payload.data(), frame.payload.size()), timer);
    const std::vector<std::byte> raw(frame.payload.begin(), frame.payload.end());
    try {
      frame.payload.resize(sealing->open(header_bytes, frame.payload, "read_frame"));
    } catch (const DistributedError&) {
      std::string reason;
      for (std::byte b : raw)
        if (reason.size() < 200) reason += (b >= std::byte{32} && b < std::byte{127}) ? static_cast<char>(b) : '?';
      throw DistributedError("[read_frame] refused by a peer that has not proved the shared secret (a wrong secret on one side?): " +
                             reason);
    }
    co_return frame;
  }
  frame.payload.resize(header.plain);
  PayloadReader reader(socket, timer, sealing, header_bytes, header.plain);
  co_await reader.read(frame.payload);
  co_await reader.finish();
  co_return frame;
}

// Authenticated frames go out from where they lie: a few chunks' tags are made at once (in
// parallel on the pool), then those chunks' plain bytes, each followed by its tag, leave in one
// gathered write (the header with the first), so the payload is read once by the MAC and once
// by the kernel and never copied.
asio::awaitable<void> write_authenticated(tcp::socket& socket, Sealing& sealing, const std::array<std::byte, kHeaderBytes>& header,
                                          std::span<const std::byte> head, std::span<const std::byte> body,
                                          asio::steady_timer& timer) {
  const std::uint64_t sequence = sealing.next_send_sequence();
  const std::uint64_t chunks = sealed_chunks(head.size() + body.size());
  const std::size_t batch = chunks_at_once();
  std::array<Sealing::Tag, kMaxChunksAtOnce> tags{};
  std::vector<asio::const_buffer> buffers;
  for (std::uint64_t first = 0; first < chunks; first += batch) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(batch, chunks - first));
    for_each_chunk(n, [&](std::size_t j) { tags[j] = sealing.tag_chunk(header, sequence, first + j, head, body); });
    buffers.clear();
    if (first == 0) buffers.push_back(asio::buffer(header));
    for (std::size_t j = 0; j < n; ++j) {
      // A chunk may straddle head and body: its bytes in order, in one or two parts.
      const auto [part, rest] = chunk_of(head, body, first + j);
      buffers.push_back(asio::buffer(part.data(), part.size()));
      buffers.push_back(asio::buffer(rest.data(), rest.size()));
      buffers.push_back(asio::buffer(tags[j]));
    }
    co_await write_until(socket, buffers, timer);
  }
}

}  // namespace

asio::awaitable<Frame> read_frame(tcp::socket& socket, Duration timeout, std::size_t max_payload, Sealing* sealing) {
  // One deadline for the whole frame, so trickling bytes does not extend it.
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(timeout);
  std::array<std::byte, kHeaderBytes> header_bytes{};
  co_await read_until(socket, asio::buffer(header_bytes), timer);
  const FrameHeader header = decode_header(header_bytes, max_payload, sealing != nullptr);
  // Named, not returned straight from the co_await: GCC 12 mishandles temporaries there.
  Frame frame = co_await read_payload(socket, timer, sealing, header_bytes, header);
  co_return frame;
}

asio::awaitable<TensorFrame> read_tensor_frame(tcp::socket& socket, Duration timeout, std::size_t max_payload,
                                               Sealing* sealing, const TensorExpectation& expected) {
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(timeout);
  std::array<std::byte, kHeaderBytes> header_bytes{};
  co_await read_until(socket, asio::buffer(header_bytes), timer);
  const FrameHeader header = decode_header(header_bytes, max_payload, sealing != nullptr);
  if (header.type != MessageType::parameters && header.type != MessageType::update) {
    Frame frame = co_await read_payload(socket, timer, sealing, header_bytes, header);
    TensorFrame other;
    other.type = frame.type;
    other.payload = std::move(frame.payload);
    co_return other;
  }
  const std::uint64_t plain = header.plain;
  PayloadReader reader(socket, timer, sealing, header_bytes, plain);
  // First the head: sealed, the whole first chunk, which must open before anything in it is
  // believed (the head fits in it: kMaxTensorHeadBytes < kSealChunkBytes); plain, its length.
  std::vector<std::byte> plain_head;
  std::vector<std::byte>& head = sealing ? sealing->receive_buffer() : plain_head;
  head.resize(static_cast<std::size_t>(std::min<std::uint64_t>(plain, sealing ? kSealChunkBytes : 8)));
  co_await reader.read(head);
  const char* what = message_name(header.type);
  if (plain < 8)
    throw FormatError(std::string("[frame] ") + what + " payload of " + std::to_string(plain) +
                      " bytes has no room for its 8-byte head length");
  const std::uint64_t json = get_le_u64(head.data());
  if (json > kMaxTensorHeadBytes - 8 || json > plain - 8)
    throw FormatError(std::string("[frame] ") + what + " head of " + std::to_string(json) + " bytes exceeds " +
                      (json > plain - 8 ? "its payload of " + std::to_string(plain) + " bytes"
                                        : "the limit of " + std::to_string(kMaxTensorHeadBytes - 8)));
  const std::size_t head_end = 8 + static_cast<std::size_t>(json);
  if (head.size() < head_end) {
    const std::size_t had = head.size();
    head.resize(head_end);
    co_await reader.read(std::span(head).subspan(had));
  }
  const std::uint64_t body = plain - head_end;
  io::SafetensorsHeader described = io::parse_safetensors_header(
      std::string_view(reinterpret_cast<const char*>(head.data()) + 8, static_cast<std::size_t>(json)), body, "frame");
  const io::SafetensorsEntry& entry = expect_tensor(described, expected.name, expected.numel, expected.bf16_allowed);
  // Validated: the tensor is exactly the body's size, so the allocation is what we expected.
  Tensor tensor = Tensor::empty(Shape{expected.numel}, entry.dtype);
  auto* into = static_cast<std::byte*>(tensor.data_ptr());
  // Body bytes that came with the first chunk.
  const std::size_t already = head.size() - head_end;
  if (already > 0) std::memcpy(into, head.data() + head_end, already);
  ArrivalFiniteCheck finite_check(tensor, expected.check_finite);
  finite_check.arrived(already);
  const Progress progress = [&finite_check, already](std::size_t n) { finite_check.arrived(already + n); };
  co_await reader.read(std::span(into + already, static_cast<std::size_t>(body) - already),
                       expected.check_finite ? &progress : nullptr);
  co_await reader.finish();
  TensorFrame frame;
  frame.type = header.type;
  frame.finite = finite_check.finite();
  frame.tensor.tensor = std::move(tensor);
  frame.tensor.metadata = std::move(described.metadata);
  co_return frame;
}

asio::awaitable<void> write_raw(tcp::socket& socket, std::span<const std::byte> bytes, Duration timeout) {
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(timeout);
  co_await write_until(socket, asio::buffer(bytes.data(), bytes.size()), timer);
}

asio::awaitable<void> write_frame(tcp::socket& socket, MessageType type, std::span<const std::byte> payload,
                                  Duration timeout, Sealing* sealing) {
  co_await write_frame(socket, type, payload, {}, timeout, sealing);
}

asio::awaitable<void> write_frame(tcp::socket& socket, MessageType type, std::span<const std::byte> head,
                                  std::span<const std::byte> body, Duration timeout, Sealing* sealing) {
  const std::uint64_t plain = head.size() + body.size();
  const auto header = encode_header(type, sealing ? sealed_length(plain) : plain);
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(timeout);
  if (!sealing) {
    // Header and payload in one gathered write: the payload is never copied.
    const std::array<asio::const_buffer, 3> buffers{asio::buffer(header), asio::buffer(head.data(), head.size()),
                                                    asio::buffer(body.data(), body.size())};
    co_await write_until(socket, buffers, timer);
    co_return;
  }
  if (sealing->protection() == WireProtection::authenticated) {
    co_await write_authenticated(socket, *sealing, header, head, body, timer);
    co_return;
  }
  // A few chunks at a time are sealed into the connection's buffer (the one pass the cipher
  // needs, reading the payload where it lies; in parallel on the pool) and written at once:
  // while the peer opens them, the next are sealed. The header rides with the first chunks.
  const std::uint64_t sequence = sealing->next_send_sequence();
  const std::size_t batch = chunks_at_once();
  constexpr std::size_t sealed_chunk = kSealChunkBytes + kSealTagBytes;
  std::vector<std::byte>& buffer = sealing->send_buffer();
  if (buffer.size() < kHeaderBytes + batch * sealed_chunk) buffer.resize(kHeaderBytes + batch * sealed_chunk);
  std::memcpy(buffer.data(), header.data(), kHeaderBytes);
  const std::uint64_t chunks = sealed_chunks(plain);
  std::array<std::size_t, kMaxChunksAtOnce> sizes{};
  for (std::uint64_t first = 0; first < chunks; first += batch) {
    const std::size_t offset = first == 0 ? kHeaderBytes : 0;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(batch, chunks - first));
    // Only a frame's last chunk is short, and it is last in its batch: the sealed chunks lie
    // back to back.
    for_each_chunk(n, [&](std::size_t j) {
      sizes[j] = sealing->seal_chunk(header, sequence, first + j, head, body, buffer.data() + offset + j * sealed_chunk);
    });
    std::size_t total = offset;
    for (std::size_t j = 0; j < n; ++j) total += sizes[j];
    co_await write_until(socket, asio::buffer(buffer.data(), total), timer);
  }
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
