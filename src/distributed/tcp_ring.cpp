// The TCP ring behind WorldOptions::all_reduce_route = tcp_ring (see tcp_ring.hpp).
#include "distributed/tcp_ring.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <sstream>
#include <thread>
#include <utility>

#include "democratising/base/error.hpp"
#include "distributed/auth.hpp"
#include "distributed/combine.hpp"

namespace dm::dist::detail {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kTokenBytes = 16;
using Token = std::array<std::byte, kTokenBytes>;
constexpr std::array<char, 4> kMagic{'D', 'M', 'R', 'G'};
constexpr std::size_t kHelloBytes = 4 + 4 + kTokenBytes;  // magic, rank, the other end's token

std::string where(int rank) { return "rank " + std::to_string(rank); }

[[noreturn]] void fail(const std::string& what) { throw DistributedError("[World tcp ring] " + what); }

// A socket closed when it goes out of scope unless released.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = o.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) fail(std::string("fcntl: ") + std::strerror(errno));
}

int milliseconds_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// Waits for `events` on fd before the deadline; false when the deadline passed first.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, milliseconds_until(deadline));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
    if (ready == 0 && Clock::now() >= deadline) return false;
  }
}

// Exactly `n` bytes each way for the set-up's small messages; false at the deadline or on EOF.
bool send_all(int fd, const std::byte* p, std::size_t n, Clock::time_point deadline) {
  while (n > 0) {
    const ssize_t sent = ::send(fd, p, n, MSG_NOSIGNAL);
    if (sent > 0) {
      p += sent;
      n -= static_cast<std::size_t>(sent);
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

bool receive_all(int fd, std::byte* p, std::size_t n, Clock::time_point deadline) {
  while (n > 0) {
    const ssize_t got = ::recv(fd, p, n, 0);
    if (got > 0) {
      p += got;
      n -= static_cast<std::size_t>(got);
    } else if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_for(fd, POLLIN, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

std::array<std::byte, kHelloBytes> hello(int rank, const Token& token) {
  std::array<std::byte, kHelloBytes> out{};
  std::memcpy(out.data(), kMagic.data(), 4);
  const auto r = static_cast<std::uint32_t>(rank);
  for (int i = 0; i < 4; ++i) out[4 + static_cast<std::size_t>(i)] = static_cast<std::byte>((r >> (8 * i)) & 0xFF);
  std::memcpy(out.data() + 8, token.data(), kTokenBytes);
  return out;
}

bool is_hello(const std::array<std::byte, kHelloBytes>& got, int rank, const Token& token) {
  return got == hello(rank, token);
}

Token make_token() {
  const auth::Nonce nonce = auth::make_nonce();
  Token token{};
  std::memcpy(token.data(), nonce.data(), kTokenBytes);
  return token;
}

// This host's IPv4 addresses, loopback last (a peer on another host cannot use it).
std::vector<std::string> host_addresses() {
  std::vector<std::string> outside, loopback;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* a = list; a; a = a->ifa_next) {
      if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP)) continue;
      char text[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
      ((a->ifa_flags & IFF_LOOPBACK) ? loopback : outside).emplace_back(text);
    }
    ::freeifaddrs(list);
  }
  outside.insert(outside.end(), loopback.begin(), loopback.end());
  if (outside.empty()) outside.emplace_back("127.0.0.1");
  return outside;
}

struct Record {
  std::uint16_t port = 0;
  Token token{};
  std::vector<std::string> addresses;
};

std::string hex(const Token& token) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::byte b : token) {
    out += digits[static_cast<unsigned>(b) >> 4];
    out += digits[static_cast<unsigned>(b) & 0xF];
  }
  return out;
}

std::vector<std::byte> encode(const Record& r) {
  std::string text = "dm-ring 1 " + std::to_string(r.port) + " " + hex(r.token);
  for (const std::string& a : r.addresses) {
    if (text.size() + 1 + a.size() >= kRingRecordBytes) break;  // the first addresses are the likely ones
    text += " " + a;
  }
  std::vector<std::byte> out(kRingRecordBytes);
  std::memcpy(out.data(), text.data(), text.size());
  return out;
}

Record decode(const std::byte* p, int rank) {
  const std::string text(reinterpret_cast<const char*>(p), strnlen(reinterpret_cast<const char*>(p), kRingRecordBytes));
  std::istringstream in(text);
  std::string tag, version, token;
  long port = 0;
  Record r;
  if (!(in >> tag >> version >> port >> token) || tag != "dm-ring" || version != "1" || port <= 0 || port > 65535 ||
      token.size() != 2 * kTokenBytes)
    fail("the set-up record of " + where(rank) + " is malformed");
  r.port = static_cast<std::uint16_t>(port);
  for (std::size_t i = 0; i < kTokenBytes; ++i) {
    unsigned value = 0;
    if (std::sscanf(token.c_str() + 2 * i, "%2x", &value) != 1) fail("the set-up record of " + where(rank) + " is malformed");
    r.token[i] = static_cast<std::byte>(value);
  }
  for (std::string a; in >> a;) r.addresses.push_back(a);
  if (r.addresses.empty()) fail(where(rank) + " advertised no address");
  return r;
}

Fd listen_anywhere(std::uint16_t& port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t length = sizeof address;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd.get(), 16) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
    fail(std::string("cannot listen: ") + std::strerror(errno));
  set_nonblocking(fd.get());
  port = ntohs(address.sin_port);
  return fd;
}

void tune(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_nonblocking(fd);
}

// Connects to the next rank at one of its addresses; the answer to our hello proves it is that
// rank (it knows the token we sent it and its own). An empty Fd when no address answered so.
Fd connect_to_next(const Record& next, int next_rank, int rank, const Token& own, Clock::time_point deadline) {
  for (const std::string& text : next.addresses) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(next.port);
    if (::inet_pton(AF_INET, text.c_str(), &address.sin_addr) != 1) continue;
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) fail(std::string("socket: ") + std::strerror(errno));
    tune(fd.get());
    // Each address gets a share of the time left, so one that swallows packets cannot use it up.
    const auto share = std::min(deadline, Clock::now() + std::chrono::seconds(5));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      if (errno != EINPROGRESS || !wait_for(fd.get(), POLLOUT, share)) continue;
      int error = 0;
      socklen_t length = sizeof error;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) continue;
    }
    const auto greeting = hello(rank, next.token);
    std::array<std::byte, kHelloBytes> answer{};
    if (!send_all(fd.get(), greeting.data(), greeting.size(), share) ||
        !receive_all(fd.get(), answer.data(), answer.size(), share) || !is_hello(answer, next_rank, own))
      continue;
    return fd;
  }
  return Fd();
}

// Accepts connections until one is the previous rank's (its hello carries our token), answering it
// with ours; strangers are dropped.
Fd accept_previous(int listener, int previous, int rank, const Token& own, const Token& previous_token,
                   Clock::time_point deadline) {
  for (;;) {
    const int raw = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (raw < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        fail(std::string("accept: ") + std::strerror(errno));
      if (!wait_for(listener, POLLIN, deadline)) return Fd();
      continue;
    }
    Fd fd(raw);
    tune(fd.get());
    std::array<std::byte, kHelloBytes> greeting{};
    const auto share = std::min(deadline, Clock::now() + std::chrono::seconds(5));
    if (!receive_all(fd.get(), greeting.data(), greeting.size(), share) || !is_hello(greeting, previous, own)) continue;
    const auto answer = hello(rank, previous_token);
    if (!send_all(fd.get(), answer.data(), answer.size(), share)) continue;
    return fd;
  }
}

std::size_t checked_itemsize(DType dtype) {
  switch (dtype) {
    case DType::f32:
    case DType::f64:
    case DType::i32:
    case DType::i64: return itemsize(dtype);
    default:
      throw DTypeError(std::string("[all_reduce] collectives support f32, f64, i32 and i64, not ") +
                       std::string(dtype_name(dtype)));
  }
}

}  // namespace

TcpRing::TcpRing(int rank, int size, const Exchange& exchange, std::chrono::milliseconds timeout,
                 const std::vector<std::string>& interfaces_only)
    : rank_(rank), size_(size), timeout_(timeout) {
  if (size < 1 || rank < 0 || rank >= size)
    throw ValueError("[World tcp ring] rank " + std::to_string(rank) + " of " + std::to_string(size));
  if (size == 1) return;
  const auto deadline = Clock::now() + timeout;
  Record mine;
  Fd listener = listen_anywhere(mine.port);
  mine.token = make_token();
  mine.addresses = interfaces_only.empty() ? host_addresses() : interfaces_only;
  const std::vector<std::byte> all = exchange(encode(mine));
  if (all.size() != static_cast<std::size_t>(size) * kRingRecordBytes)
    fail("the set-up exchange returned " + std::to_string(all.size()) + " bytes for " + std::to_string(size) + " ranks");
  const int next = (rank + 1) % size;
  const int previous = (rank + size - 1) % size;
  const Record next_record = decode(all.data() + static_cast<std::size_t>(next) * kRingRecordBytes, next);
  const Record previous_record = decode(all.data() + static_cast<std::size_t>(previous) * kRingRecordBytes, previous);
  // Every rank connects and accepts at once: the next rank answers our hello only from its
  // accepting side, which must not wait for its own connection to be answered.
  Fd from_previous;
  std::exception_ptr accept_failure;
  std::thread accepting([&] {
    try {
      from_previous = accept_previous(listener.get(), previous, rank, mine.token, previous_record.token, deadline);
    } catch (...) {
      accept_failure = std::current_exception();
    }
  });
  Fd to_next;
  try {
    to_next = connect_to_next(next_record, next, rank, mine.token, deadline);
  } catch (...) {
    accepting.join();
    throw;
  }
  accepting.join();
  if (accept_failure) std::rethrow_exception(accept_failure);
  if (to_next.get() < 0)
    throw TimeoutError("[World tcp ring] " + where(rank) + " could not reach " + where(next) + " at any of its addresses (" +
                       std::to_string(next_record.addresses.size()) + ") within " + std::to_string(timeout.count()) + " ms");
  if (from_previous.get() < 0)
    throw TimeoutError("[World tcp ring] " + where(rank) + " heard nothing from " + where(previous) + " within " +
                       std::to_string(timeout.count()) + " ms");
  to_next_ = to_next.release();
  from_prev_ = from_previous.release();
}

TcpRing::~TcpRing() {
  if (to_next_ >= 0) ::close(to_next_);
  if (from_prev_ >= 0) ::close(from_prev_);
}

void TcpRing::interrupt() {
  if (to_next_ >= 0) ::shutdown(to_next_, SHUT_RDWR);
  if (from_prev_ >= 0) ::shutdown(from_prev_, SHUT_RDWR);
}

void TcpRing::exchange_with_neighbours(const std::byte* out, std::size_t out_bytes, std::byte* in, std::size_t in_bytes,
                                       Clock::time_point deadline, const char* op) {
  const int next = (rank_ + 1) % size_;
  const int previous = (rank_ + size_ - 1) % size_;
  while (out_bytes > 0 || in_bytes > 0) {
    pollfd waits[2];
    nfds_t n = 0;
    if (out_bytes > 0) waits[n++] = {to_next_, POLLOUT, 0};
    if (in_bytes > 0) waits[n++] = {from_prev_, POLLIN, 0};
    const int ready = ::poll(waits, n, milliseconds_until(deadline));
    if (ready < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
    if (ready <= 0) {
      if (Clock::now() < deadline) continue;
      throw TimeoutError(std::string("[") + op + "] " + where(rank_) + " timed out after " +
                         std::to_string(timeout_.count()) + " ms in the tcp ring waiting for " +
                         (in_bytes > 0 ? where(previous) + " to send" : where(next) + " to take its part"));
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (waits[i].revents == 0) continue;
      if (waits[i].fd == to_next_) {
        const ssize_t sent = ::send(to_next_, out, out_bytes, MSG_NOSIGNAL);
        if (sent > 0) {
          out += sent;
          out_bytes -= static_cast<std::size_t>(sent);
        } else if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          fail(std::string(op) + ": " + where(rank_) + " lost its connection to " + where(next) + ": " + std::strerror(errno));
        }
      } else {
        const ssize_t got = ::recv(from_prev_, in, in_bytes, 0);
        if (got > 0) {
          in += got;
          in_bytes -= static_cast<std::size_t>(got);
        } else if (got == 0) {
          fail(std::string(op) + ": " + where(previous) + " closed its connection to " + where(rank_));
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          fail(std::string(op) + ": " + where(rank_) + " lost its connection to " + where(previous) + ": " +
               std::strerror(errno));
        }
      }
    }
  }
}

void TcpRing::all_reduce(void* data, std::int64_t count, DType dtype, Reduction op) {
  const std::size_t item = checked_itemsize(dtype);
  if (count < 0) throw ValueError("[all_reduce] negative element count " + std::to_string(count));
  if (size_ == 1 || count == 0) return;
  const auto deadline = Clock::now() + timeout_;
  auto* bytes = static_cast<std::byte*>(data);
  // Segment s: elements [first(s), first(s + 1)); the first count % size segments one longer.
  const std::int64_t n = size_;
  const std::int64_t base = count / n, extra = count % n;
  auto first = [&](std::int64_t s) { return s * base + std::min(s, extra); };
  auto segment = [&](std::int64_t s) { return ((s % n) + n) % n; };
  auto span_of = [&](std::int64_t s) {
    return std::pair<std::byte*, std::size_t>(bytes + static_cast<std::size_t>(first(s)) * item,
                                              static_cast<std::size_t>(first(s + 1) - first(s)) * item);
  };
  scratch_.resize(static_cast<std::size_t>(base + 1) * item);
  // Reduce-scatter: at step k rank r passes on segment r - k and adds the previous rank's part
  // of segment r - k - 1 to its own; after n - 1 steps it holds segment r + 1 whole.
  for (std::int64_t k = 0; k < n - 1; ++k) {
    const auto [out, out_bytes] = span_of(segment(rank_ - k));
    const std::int64_t s_in = segment(rank_ - k - 1);
    const auto [in, in_bytes] = span_of(s_in);
    exchange_with_neighbours(out, out_bytes, scratch_.data(), in_bytes, deadline, "all_reduce");
    combine_into(in, scratch_.data(), first(s_in + 1) - first(s_in), dtype, op);
  }
  // All-gather: the whole segments travel on round the ring, each copied as it is.
  for (std::int64_t k = 0; k < n - 1; ++k) {
    const auto [out, out_bytes] = span_of(segment(rank_ + 1 - k));
    const auto [in, in_bytes] = span_of(segment(rank_ - k));
    exchange_with_neighbours(out, out_bytes, in, in_bytes, deadline, "all_reduce");
  }
}

}  // namespace dm::dist::detail
