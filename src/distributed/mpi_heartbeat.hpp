#pragma once
// Who is still there: every rank tells every other rank, on a communicator of its own and from
// a thread of its own, that it is alive, a few times per collective timeout. A rank that has
// stopped (SIGSTOP, a debugger, a machine swapping itself to death) stops telling, so when a
// collective times out the error can name the rank that fell silent rather than only say that
// someone did not come. A rank that still answers but never calls the collective (a program
// whose ranks went different ways) is told apart the same way.
//
// Stopping ends with a goodbye to every peer, sent after the last beat. The communicator is
// freed only once every peer's goodbye has come, because then nothing more can arrive on it:
// Open MPI delivers a message that arrives for a freed communicator to the next one that reuses
// its id, where its stray sequence number stalls that communicator's traffic for good (seen as
// a hang in a later communicator's creation). Where a goodbye does not come in time (a peer
// stopped, gone or still busy) the communicator is kept until the process ends instead.
//
// Needs MPI_THREAD_MULTIPLE (the MPI transport makes one only then).
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dm::dist::detail {

class MpiHeartbeat {
 public:
  /// Starts beating on a duplicate of `comm`, every `interval`.
  MpiHeartbeat(MPI_Comm comm, std::chrono::milliseconds interval);
  /// Stops with no wait for the peers' goodbyes (stop(0)) unless stopped before.
  ~MpiHeartbeat();
  MpiHeartbeat(const MpiHeartbeat&) = delete;
  MpiHeartbeat& operator=(const MpiHeartbeat&) = delete;

  /// The ranks not heard from for at least `silence`, e.g. "rank 1 has been silent for 2.3 s";
  /// or, when every rank is heard from, a sentence saying so.
  std::string describe_silence(std::chrono::milliseconds silence) const;

  /// Stops beating, says goodbye, and waits up to `wait_for_peers` for every peer's goodbye
  /// (zero: no wait, for a world that is broken). Returns whether every peer said it, i.e.
  /// whether the communicator could be freed. Later calls return the first answer.
  bool stop(std::chrono::milliseconds wait_for_peers);

 private:
  void run();
  // Until every peer's goodbye has come or the wait is over; true if they all came.
  bool part(std::vector<MPI_Request>& beats, std::vector<char>& inbox);
  void drain_beats(int peer, std::vector<MPI_Request>& beats, std::vector<char>& inbox);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  std::chrono::milliseconds interval_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  // Per rank: nanoseconds after start_ at which it was last heard from.
  std::unique_ptr<std::atomic<std::int64_t>[]> last_heard_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::chrono::milliseconds wait_for_peers_{0};
  bool stopped_ = false;
  bool all_said_goodbye_ = false;  // written by the thread before it ends
  std::thread thread_;
};

}  // namespace dm::dist::detail
