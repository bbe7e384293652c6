#pragma once
// A ring of TCP connections between the ranks of a World, for all-reduces whose waits sleep.
//
// MPI's TCP transport makes progress by polling: while a collective is in flight its thread spins
// on a core. When that collective runs beside backward (data-parallel training with bucketed
// all-reduces) and the ranks have no core to spare, the spinning takes the core from backward and
// the overlap buys nothing. Here every wait is a poll(2) that sleeps until a socket is ready, so
// the thread costs only the copies it makes.
//
// Each rank sends to the next rank and receives from the previous one over two connections. An
// all-reduce is a reduce-scatter and an all-gather around the ring (2 (n-1)/n of the data out and
// in per rank, as MPI's ring); each segment is combined in one fixed order and then copied to
// every rank, so all ranks end with the same bits. Every wait has the World's deadline: a rank
// that falls silent or goes away is a TimeoutError or DistributedError naming it, never a hang.
//
// Setting up needs one exchange of a small record per rank (addresses, port, a random token),
// which the MPI transport does with MPI_Allgather and tests do in-process; connections are
// checked both ways with the tokens, so a stranger on the port is turned away.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "democratising/distributed/world.hpp"

namespace dm::dist::detail {

/// The size of each rank's record in the set-up exchange.
inline constexpr std::size_t kRingRecordBytes = 512;

class TcpRing {
 public:
  /// All-gathers each rank's kRingRecordBytes record (rank order, size * kRingRecordBytes out).
  using Exchange = std::function<std::vector<std::byte>(const std::vector<std::byte>& mine)>;

  /// Listens, exchanges records, connects to the next rank and accepts the previous one, all
  /// within `timeout`. `interfaces_only`: advertise only these IPv4 addresses (empty: every
  /// address of the host's interfaces, loopback last). DistributedError / TimeoutError when the
  /// ring cannot be closed in time.
  TcpRing(int rank, int size, const Exchange& exchange, std::chrono::milliseconds timeout,
          const std::vector<std::string>& interfaces_only = {});
  ~TcpRing();
  TcpRing(const TcpRing&) = delete;
  TcpRing& operator=(const TcpRing&) = delete;

  /// Element-wise `op` of `count` elements across the ranks, in place (Sum for Mean: the World
  /// divides). f32, f64, i32, i64. Every rank must call it with the same count, dtype and op.
  void all_reduce(void* data, std::int64_t count, DType dtype, Reduction op);

  /// Shuts both connections down: an all_reduce in flight (on another thread) fails at once,
  /// and every later one too.
  void interrupt();

  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  // Sends `out` to the next rank while receiving `in` from the previous one, both to the end,
  // before `deadline`.
  void exchange_with_neighbours(const std::byte* out, std::size_t out_bytes, std::byte* in, std::size_t in_bytes,
                                std::chrono::steady_clock::time_point deadline, const char* op);

  int rank_;
  int size_;
  std::chrono::milliseconds timeout_;
  int to_next_ = -1;    // we send on this
  int from_prev_ = -1;  // we receive on this
  std::vector<std::byte> scratch_;
};

}  // namespace dm::dist::detail
