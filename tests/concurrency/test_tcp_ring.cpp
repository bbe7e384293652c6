// The TCP ring's all-reduce over real loopback sockets, one thread per rank: every dtype and
// reduction against plain loops for 1 to 4 ranks and counts below, at and above the rank count;
// the ranks end bitwise equal (and equal from run to run) when the sums round; a silent rank is
// a TimeoutError naming it, a closed one a DistributedError, an interrupted wait ends at once;
// a stranger on the listening port is turned away and the ring still forms.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "democratising/base/error.hpp"
#include "distributed/collective_reference.hpp"
#include "distributed/tcp_ring.hpp"

namespace dm::dist::detail {
namespace {

using namespace std::chrono_literals;
using testing::all_reductions;
using testing::naive_reduce;
using testing::rank_input;

// The set-up exchange between threads: each deposits its record and gets everyone's once all
// have. `edit` may change the gathered records (to forge one) before anyone sees them.
class InProcessExchange {
 public:
  explicit InProcessExchange(int size, std::function<void(std::vector<std::byte>&)> edit = {})
      : size_(size), records_(static_cast<std::size_t>(size)), edit_(std::move(edit)) {}
  TcpRing::Exchange for_rank(int rank) {
    return [this, rank](const std::vector<std::byte>& mine) {
      std::unique_lock lock(mutex_);
      records_[static_cast<std::size_t>(rank)] = mine;
      if (++arrived_ == size_) {
        for (const auto& r : records_) all_.insert(all_.end(), r.begin(), r.end());
        if (edit_) edit_(all_);
        changed_.notify_all();
      }
      changed_.wait(lock, [&] { return arrived_ == size_; });
      return all_;
    };
  }

 private:
  int size_;
  std::vector<std::vector<std::byte>> records_;
  std::function<void(std::vector<std::byte>&)> edit_;
  std::vector<std::byte> all_;
  int arrived_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
};

const std::vector<std::string> kLoopback{"127.0.0.1"};

// Runs body(ring) on `size` threads, each with its rank's ring; rethrows the first failure.
void run_ring(int size, const std::function<void(TcpRing&)>& body, std::chrono::milliseconds timeout = 20s) {
  InProcessExchange exchange(size);
  std::vector<std::exception_ptr> failures(static_cast<std::size_t>(size));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&, r] {
      try {
        TcpRing ring(r, size, exchange.for_rank(r), timeout, kLoopback);
        body(ring);
      } catch (...) {
        failures[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& f : failures)
    if (f) std::rethrow_exception(f);
}

template <class T>
void check_against_naive_loops(int size, std::int64_t n) {
  for (Reduction op : {Reduction::Sum, Reduction::Max, Reduction::Min}) {
    std::vector<std::vector<T>> got(static_cast<std::size_t>(size));
    run_ring(size, [&](TcpRing& ring) {
      Tensor t = rank_input<T>(ring.rank(), n);
      ring.all_reduce(t.data_ptr(), n, t.dtype(), op);
      got[static_cast<std::size_t>(ring.rank())] = t.to_vector<T>();
    });
    const std::vector<T> want = naive_reduce<T>(size, n, op);
    for (int r = 0; r < size; ++r)
      ASSERT_EQ(got[static_cast<std::size_t>(r)], want) << reduction_name(op) << ", " << size << " ranks, n=" << n << ", rank " << r;
  }
}

TEST(TcpRing, AllReduceMatchesNaiveLoopsForEveryDtypeReductionAndSize) {
  for (int size : {1, 2, 3, 4}) {
    for (std::int64_t n : {std::int64_t{0}, std::int64_t{1}, std::int64_t{2}, std::int64_t{5}, std::int64_t{1003}}) {
      check_against_naive_loops<float>(size, n);
      check_against_naive_loops<std::int64_t>(size, n);
    }
    check_against_naive_loops<double>(size, 37);
    check_against_naive_loops<std::int32_t>(size, 37);
  }
  // Segments of megabytes: many partial sends and receives each.
  check_against_naive_loops<float>(3, 1'000'003);
}

TEST(TcpRing, RanksEndBitwiseEqualAndRunsRepeatWhenSumsRound) {
  constexpr int size = 3;
  constexpr std::int64_t n = 30011;
  auto input = [](int rank) {
    std::mt19937 gen(static_cast<unsigned>(rank) + 1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = normal(gen) * 1e3f;
    return v;
  };
  auto run = [&] {
    std::vector<std::vector<float>> got(size);
    run_ring(size, [&](TcpRing& ring) {
      Tensor t = Tensor::from_vector(input(ring.rank()));
      ring.all_reduce(t.data_ptr(), n, DType::f32, Reduction::Sum);
      got[static_cast<std::size_t>(ring.rank())] = t.to_vector<float>();
    });
    return got;
  };
  const auto first = run();
  EXPECT_EQ(first[1], first[0]);
  EXPECT_EQ(first[2], first[0]);
  EXPECT_EQ(run()[0], first[0]) << "the same order of sums every time";
  // And the sums are sums: against f64, within f32 rounding of two additions.
  std::vector<double> exact(static_cast<std::size_t>(n), 0.0);
  for (int r = 0; r < size; ++r) {
    const auto v = input(r);
    for (std::size_t i = 0; i < v.size(); ++i) exact[i] += v[i];
  }
  for (std::size_t i = 0; i < exact.size(); ++i) ASSERT_NEAR(first[0][i], exact[i], 1e-6 * 3e3 + 1e-3) << i;
}

TEST(TcpRing, ASilentRankIsATimeoutNamingIt) {
  std::string error;
  std::chrono::steady_clock::duration took{};
  run_ring(2, [&](TcpRing& ring) {
    if (ring.rank() == 1) {
      std::this_thread::sleep_for(1500ms);  // alive, connected, but never calls
      return;
    }
    Tensor t = rank_input<float>(0, 100000);
    const auto start = std::chrono::steady_clock::now();
    try {
      ring.all_reduce(t.data_ptr(), t.numel(), DType::f32, Reduction::Sum);
    } catch (const TimeoutError& e) {
      error = e.what();
    }
    took = std::chrono::steady_clock::now() - start;
  }, 400ms);
  EXPECT_NE(error.find("rank 0 timed out after 400 ms"), std::string::npos) << error;
  EXPECT_NE(error.find("rank 1"), std::string::npos) << error;
  EXPECT_GE(took, 390ms);
  EXPECT_LT(took, 1400ms);
}

TEST(TcpRing, ARankThatGoesAwayIsADistributedError) {
  std::string error;
  run_ring(2, [&](TcpRing& ring) {
    if (ring.rank() == 1) return;  // its ring closes its connections
    std::this_thread::sleep_for(100ms);
    Tensor t = rank_input<float>(0, 1000);
    try {
      ring.all_reduce(t.data_ptr(), t.numel(), DType::f32, Reduction::Sum);
    } catch (const TimeoutError& e) {
      error = std::string("timeout: ") + e.what();
    } catch (const DistributedError& e) {
      error = e.what();
    }
  }, 5s);
  EXPECT_NE(error.find("rank 1"), std::string::npos) << error;
  EXPECT_EQ(error.find("timeout"), std::string::npos) << "found at once, not at the deadline: " << error;
}

TEST(TcpRing, AnInterruptedWaitEndsAtOnce) {
  std::string error;
  std::chrono::steady_clock::duration took{};
  run_ring(2, [&](TcpRing& ring) {
    if (ring.rank() == 1) {
      std::this_thread::sleep_for(500ms);
      return;
    }
    std::thread interrupter([&] {
      std::this_thread::sleep_for(100ms);
      ring.interrupt();
    });
    Tensor t = rank_input<float>(0, 1000);
    const auto start = std::chrono::steady_clock::now();
    try {
      ring.all_reduce(t.data_ptr(), t.numel(), DType::f32, Reduction::Sum);
    } catch (const DistributedError& e) {
      error = e.what();
    }
    took = std::chrono::steady_clock::now() - start;
    interrupter.join();
  }, 10s);
  EXPECT_FALSE(error.empty());
  EXPECT_LT(took, 2s) << error;
}

// The listening port of `rank` from the gathered records.
int port_of(const std::vector<std::byte>& all, int rank) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(all.data()) + rank * kRingRecordBytes));
  std::string tag, version;
  int port = 0;
  in >> tag >> version >> port;
  return port;
}

TEST(TcpRing, AStrangerOnThePortIsTurnedAwayAndTheRingStillForms) {
  constexpr int size = 2;
  std::thread stranger;
  InProcessExchange exchange(size, [&](std::vector<std::byte>& all) {
    const int port = port_of(all, 0);
    // Before rank 1 connects: a peer that says the wrong thing, and one that says nothing.
    stranger = std::thread([port] {
      for (const char* words : {"DMRG\1\0\0\0not the token at all", ""}) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && words[0]) (void)!::write(fd, words, 28);
        std::this_thread::sleep_for(50ms);
        ::close(fd);
      }
    });
  });
  std::vector<std::vector<float>> got(size);
  std::vector<std::exception_ptr> failures(size);
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&, r] {
      try {
        if (r == 1) std::this_thread::sleep_for(20ms);
        TcpRing ring(r, size, exchange.for_rank(r), 20s, kLoopback);
        Tensor t = rank_input<float>(r, 999);
        ring.all_reduce(t.data_ptr(), t.numel(), DType::f32, Reduction::Sum);
        got[static_cast<std::size_t>(r)] = t.to_vector<float>();
      } catch (...) {
        failures[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  stranger.join();
  for (auto& f : failures)
    if (f) std::rethrow_exception(f);
  EXPECT_EQ(got[0], naive_reduce<float>(size, 999, Reduction::Sum));
  EXPECT_EQ(got[1], got[0]);
}

TEST(TcpRing, ANextRankThatCannotBeReachedIsATimeoutAtSetUp) {
  // Rank 1's record points at a port nobody listens on.
  const int dead_port = [] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t length = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
    ::close(fd);  // freed: connecting to it is refused
    return static_cast<int>(ntohs(a.sin_port));
  }();
  InProcessExchange exchange(1, [&](std::vector<std::byte>& all) {
    std::string forged = "dm-ring 1 " + std::to_string(dead_port) + " 00112233445566778899aabbccddeeff 127.0.0.1";
    std::vector<std::byte> record(kRingRecordBytes);
    std::memcpy(record.data(), forged.data(), forged.size());
    all.insert(all.end(), record.begin(), record.end());
  });
  const auto start = std::chrono::steady_clock::now();
  try {
    TcpRing ring(0, 2, exchange.for_rank(0), 300ms, kLoopback);
    ADD_FAILURE() << "the ring formed without rank 1";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(TcpRing, MalformedRecordsAndBadArgumentsAreTypedErrors) {
  InProcessExchange garbage(1, [](std::vector<std::byte>& all) {
    std::vector<std::byte> record(kRingRecordBytes, std::byte{'x'});
    all.insert(all.end(), record.begin(), record.end());
  });
  EXPECT_THROW(TcpRing(0, 2, garbage.for_rank(0), 300ms, kLoopback), DistributedError);
  InProcessExchange short_answer(1, [](std::vector<std::byte>& all) { all.resize(10); });
  EXPECT_THROW(TcpRing(0, 2, short_answer.for_rank(0), 300ms, kLoopback), DistributedError);
  EXPECT_THROW(TcpRing(2, 2, InProcessExchange(2).for_rank(0), 300ms, kLoopback), ValueError);
  run_ring(1, [](TcpRing& ring) {
    Tensor t = Tensor::zeros({4}, DType::bf16);
    EXPECT_THROW(ring.all_reduce(t.data_ptr(), 4, DType::bf16, Reduction::Sum), DTypeError);
    EXPECT_THROW(ring.all_reduce(t.data_ptr(), -1, DType::f32, Reduction::Sum), ValueError);
  });
}

}  // namespace
}  // namespace dm::dist::detail
