// NaN and infinity are found as a tensor's bytes arrive: piece by piece, whatever the pieces'
// sizes (elements cut in two by a piece's end included), against a plain isfinite loop; over a
// socket in every wire protection, wherever the bad value lies (first element, last, across a
// chunk's end, in the part that came with the frame's head); and not at all when not asked.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <asio/use_awaitable.hpp>

#include "democratising/core/tensor.hpp"
#include "distributed/arrival_finite_check.hpp"
#include "distributed/auth.hpp"
#include "distributed/frame_io.hpp"
#include "distributed/sealing.hpp"
#include "distributed/test_ps_loopback.hpp"

namespace {

using namespace std::chrono_literals;
using namespace dm::dist;

constexpr float kBad[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()};

// Values that are finite but sit at the edges: the check must not take them for bad ones.
// `largest`: the largest finite value of the type the tensor will have.
std::vector<float> edge_values(std::size_t n, float largest = std::numeric_limits<float>::max()) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (i % 4) {
      case 0: v[i] = largest; break;
      case 1: v[i] = -std::numeric_limits<float>::denorm_min(); break;
      case 2: v[i] = -0.0f; break;
      default: v[i] = static_cast<float>(i) * 0.25f;
    }
  }
  return v;
}

bool reference_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

// Feeds the tensor's bytes to the check `piece` bytes at a time, as a socket might deliver them.
bool check_in_pieces(const dm::Tensor& t, std::size_t piece) {
  wire::ArrivalFiniteCheck check(t, true);
  const std::size_t bytes = static_cast<std::size_t>(t.numel()) * dm::itemsize(t.dtype());
  for (std::size_t done = 0; done < bytes;) {
    done = std::min(bytes, done + piece);
    check.arrived(done);
  }
  return check.finite();
}

TEST(ArrivalFiniteCheck, FindsEveryBadValueWhateverThePiecesAgainstAPlainLoop) {
  constexpr std::size_t n = 37;
  for (const std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{64}, n * 4}) {
    std::vector<float> v = edge_values(n);
    ASSERT_TRUE(reference_finite(v));
    EXPECT_TRUE(check_in_pieces(dm::Tensor::from_vector(v), piece)) << "piece " << piece;
    for (std::size_t at = 0; at < n; ++at) {
      for (const float bad : kBad) {
        std::vector<float> w = v;
        w[at] = bad;
        ASSERT_FALSE(reference_finite(w));
        EXPECT_FALSE(check_in_pieces(dm::Tensor::from_vector(w), piece)) << "value " << bad << " at " << at << ", piece " << piece;
      }
    }
  }
}

TEST(ArrivalFiniteCheck, FindsBadBf16Values) {
  constexpr std::int64_t n = 29;
  constexpr float kLargestBf16 = 3.3895314e38f;  // 0x7F7F: f32's largest rounds up to infinity in bf16
  const dm::Tensor good = dm::Tensor::from_vector(edge_values(n, kLargestBf16)).to(dm::DType::bf16);
  ASSERT_EQ(good.to(dm::DType::f32).to_vector<float>()[0], kLargestBf16);
  EXPECT_TRUE(check_in_pieces(good, 3));
  for (std::int64_t at = 0; at < n; ++at) {
    for (const float bad : kBad) {
      std::vector<float> w = edge_values(n, kLargestBf16);
      w[static_cast<std::size_t>(at)] = bad;
      EXPECT_FALSE(check_in_pieces(dm::Tensor::from_vector(w).to(dm::DType::bf16), 3)) << bad << " at " << at;
    }
  }
}

TEST(ArrivalFiniteCheck, AskingBeforeEverythingArrivedIsAnErrorAndNotAskingChecksNothing) {
  std::vector<float> v(10, 1.0f);
  v[9] = std::numeric_limits<float>::quiet_NaN();
  const dm::Tensor t = dm::Tensor::from_vector(v);
  wire::ArrivalFiniteCheck early(t, true);
  early.arrived(9 * 4 + 3);  // the bad element is not whole yet
  EXPECT_THROW((void)early.finite(), std::logic_error);
  wire::ArrivalFiniteCheck unwanted(t, false);
  unwanted.arrived(40);
  EXPECT_TRUE(unwanted.finite());
}

// Over a socket: one update frame with `bad` at `at` (none when nullopt), written by one end and
// read with the check by the other, plain or in the given protection.
struct Received {
  bool finite = true;
  std::vector<float> values;
};

Received send_and_receive(std::int64_t n, std::optional<std::int64_t> at, std::optional<WireProtection> protection,
                          bool check = true, float bad = std::numeric_limits<float>::quiet_NaN()) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 1000) - 500.0f;
  if (at) v[static_cast<std::size_t>(*at)] = bad;
  ps_test::Runner r;
  ps_test::SocketPair s(r.io);
  const auth::Nonce server_nonce = auth::make_nonce();
  const auth::Nonce worker_nonce = auth::make_nonce();
  const WireProtection kind = protection.value_or(WireProtection::sealed);
  wire::Sealing worker = wire::Sealing::derive("arrival secret", server_nonce, worker_nonce, wire::End::worker, kind);
  wire::Sealing server = wire::Sealing::derive("arrival secret", server_nonce, worker_nonce, wire::End::server, kind);
  const auto parts = wire::encode_tensor_parts("gradient", dm::Tensor::from_vector(v), {{"base_version", "0"}});
  Received out;
  r.spawn([&]() -> asio::awaitable<void> {
    co_await wire::write_frame(s.a, wire::MessageType::update, parts.head, parts.body(), 2000ms,
                               protection ? &worker : nullptr);
  });
  r.spawn([&]() -> asio::awaitable<void> {
    const wire::TensorExpectation expected{"gradient", n, true, check};
    const wire::TensorFrame frame =
        co_await wire::read_tensor_frame(s.b, 2000ms, 1 << 26, protection ? &server : nullptr, expected);
    out.finite = frame.finite;
    out.values = frame.tensor.tensor.to_vector<float>();
  });
  r.run(std::chrono::seconds(20));
  return out;
}

class ArrivalOverASocket : public ::testing::TestWithParam<std::optional<WireProtection>> {};

TEST_P(ArrivalOverASocket, ABadValueAnywhereMakesTheFrameNotFinite) {
  // 1.2 MB: five protected chunks and several wake-ups of a plain read.
  constexpr std::int64_t n = 300000;
  const std::size_t head = wire::encode_tensor_parts("gradient", dm::Tensor::zeros({n}), {{"base_version", "0"}}).head.size();
  const auto chunk_end = static_cast<std::int64_t>((wire::kSealChunkBytes - head) / 4);  // first chunk's last element
  const auto wake = static_cast<std::int64_t>(256 * 1024 / 4);
  const Received clean = send_and_receive(n, std::nullopt, GetParam());
  EXPECT_TRUE(clean.finite);
  ASSERT_EQ(clean.values.size(), static_cast<std::size_t>(n));
  for (const std::int64_t at : {std::int64_t{0}, std::int64_t{1}, chunk_end - 1, chunk_end, chunk_end + 1, wake - 1, wake,
                                n / 2, 4 * chunk_end + 3, n - 2, n - 1}) {
    for (const float bad : kBad) {
      const Received got = send_and_receive(n, at, GetParam(), true, bad);
      EXPECT_FALSE(got.finite) << bad << " at element " << at;
      ASSERT_EQ(got.values.size(), static_cast<std::size_t>(n));
      EXPECT_EQ(std::isnan(got.values[static_cast<std::size_t>(at)]), std::isnan(bad)) << "the values arrive as sent";
    }
  }
}

TEST_P(ArrivalOverASocket, NotAskedTheFrameIsNotChecked) {
  const Received got = send_and_receive(100000, 77777, GetParam(), false);
  EXPECT_TRUE(got.finite);
  EXPECT_TRUE(std::isnan(got.values[77777]));
}

INSTANTIATE_TEST_SUITE_P(Protections, ArrivalOverASocket,
                         ::testing::Values(std::optional<WireProtection>(), std::optional(WireProtection::sealed),
                                           std::optional(WireProtection::authenticated)),
                         [](const auto& info) { return info.param ? std::string(wire_protection_name(*info.param)) : std::string("plain"); });

// Plain bytes written in two parts with a pause between, the first ending in the middle of the
// bad element: the read most likely sees it cut in two (it takes what has come), and finds it.
TEST(ArrivalOverASocket, AnElementCutBetweenTwoWritesIsStillFound) {
  constexpr std::int64_t n = 200000;
  constexpr std::int64_t at = 150001;
  std::vector<float> v(static_cast<std::size_t>(n), 2.0f);
  v[static_cast<std::size_t>(at)] = std::numeric_limits<float>::infinity();
  const auto parts = wire::encode_tensor_parts("gradient", dm::Tensor::from_vector(v), {});
  const auto header = wire::encode_header(wire::MessageType::update, parts.size());
  std::vector<std::byte> bytes(header.size() + parts.size());
  std::memcpy(bytes.data(), header.data(), header.size());
  std::memcpy(bytes.data() + header.size(), parts.head.data(), parts.head.size());
  std::memcpy(bytes.data() + header.size() + parts.head.size(), parts.body().data(), parts.body().size());
  const std::size_t cut = header.size() + parts.head.size() + static_cast<std::size_t>(at) * 4 + 2;
  for (const std::size_t first : {cut, cut - 1, cut + 1}) {
    ps_test::Runner r;
    ps_test::SocketPair s(r.io);
    bool finite = true;
    r.spawn([&]() -> asio::awaitable<void> {
      co_await wire::write_raw(s.a, std::span(bytes).first(first), 2000ms);
      asio::steady_timer pause(s.a.get_executor());
      pause.expires_after(50ms);
      co_await pause.async_wait(asio::use_awaitable);
      co_await wire::write_raw(s.a, std::span(bytes).subspan(first), 2000ms);
    });
    r.spawn([&]() -> asio::awaitable<void> {
      const wire::TensorExpectation expected{"gradient", n, false, true};
      const wire::TensorFrame frame = co_await wire::read_tensor_frame(s.b, 2000ms, 1 << 26, nullptr, expected);
      finite = frame.finite;
    });
    r.run(std::chrono::seconds(20));
    EXPECT_FALSE(finite) << "first write of " << first << " bytes";
  }
}

}  // namespace
