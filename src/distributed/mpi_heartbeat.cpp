// MpiHeartbeat: one byte to every other rank per interval, one receive posted per peer.
#include "mpi_heartbeat.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>
#include <vector>

namespace dm::dist::detail {
namespace {

constexpr int kBeatTag = 1;
constexpr int kGoodbyeTag = 2;
// What a beat (and a goodbye) carries; static, because a beat to a silent peer may outlive the
// thread that sent it.
const char kBeat = 1;

std::int64_t nanoseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
}

// Receives still posted are withdrawn (and waited for, so their buffers may go).
void cancel_receives(std::vector<MPI_Request>& requests) {
  for (MPI_Request& request : requests) {
    if (request == MPI_REQUEST_NULL) continue;
    MPI_Cancel(&request);
    MPI_Wait(&request, MPI_STATUS_IGNORE);
  }
}

// Sends to a silent peer may never be delivered: they are let go rather than waited for (what
// they carry is static).
void let_sends_go(std::vector<MPI_Request>& requests) {
  for (MPI_Request& request : requests)
    if (request != MPI_REQUEST_NULL) MPI_Request_free(&request);
}

}  // namespace

MpiHeartbeat::MpiHeartbeat(MPI_Comm comm, std::chrono::milliseconds interval) : interval_(interval) {
  MPI_Comm_dup(comm, &comm_);
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  last_heard_ = std::make_unique<std::atomic<std::int64_t>[]>(static_cast<std::size_t>(size_));
  for (int r = 0; r < size_; ++r) last_heard_[static_cast<std::size_t>(r)] = 0;  // everyone counts as heard at the start
  if (size_ > 1) thread_ = std::thread([this] { run(); });
}

MpiHeartbeat::~MpiHeartbeat() { stop(std::chrono::milliseconds(0)); }

bool MpiHeartbeat::stop(std::chrono::milliseconds wait_for_peers) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return all_said_goodbye_;
    stopped_ = stopping_ = true;
    wait_for_peers_ = wait_for_peers;
  }
  stop_requested_.notify_all();
  if (thread_.joinable()) thread_.join();
  else all_said_goodbye_ = true;  // alone: nobody to hear from
  // Kept otherwise: a beat still on its way would reach whichever communicator reuses the id.
  if (all_said_goodbye_) MPI_Comm_free(&comm_);
  return all_said_goodbye_;
}

void MpiHeartbeat::drain_beats(int peer, std::vector<MPI_Request>& beats, std::vector<char>& inbox) {
  const auto i = static_cast<std::size_t>(peer);
  int done = 0;
  // Every beat that has come in since the last look (a receive that could not be posted again
  // leaves that peer unheard, never heard by mistake).
  while (beats[i] != MPI_REQUEST_NULL && MPI_Test(&beats[i], &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && done) {
    last_heard_[i] = nanoseconds_since(start_);
    if (MPI_Irecv(&inbox[i], 1, MPI_CHAR, peer, kBeatTag, comm_, &beats[i]) != MPI_SUCCESS) break;
  }
}

void MpiHeartbeat::run() {
  const auto peers = static_cast<std::size_t>(size_);
  std::vector<MPI_Request> receives(peers, MPI_REQUEST_NULL), sends(peers, MPI_REQUEST_NULL);
  std::vector<char> inbox(peers, 0);
  for (int r = 0; r < size_; ++r)
    if (r != rank_) MPI_Irecv(&inbox[static_cast<std::size_t>(r)], 1, MPI_CHAR, r, kBeatTag, comm_, &receives[static_cast<std::size_t>(r)]);
  // Receives are looked at more often than beats are sent, so a beat is never older than about
  // one interval when it is counted.
  const auto poll = std::max(std::chrono::milliseconds(5), interval_ / 4);
  auto next_beat = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const bool beat_now = std::chrono::steady_clock::now() >= next_beat;
    if (beat_now) next_beat = std::chrono::steady_clock::now() + interval_;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      drain_beats(r, receives, inbox);
      if (!beat_now) continue;
      // At most one beat in flight per peer: a stopped peer does not pile them up.
      const auto i = static_cast<std::size_t>(r);
      int sent = 1;
      if (sends[i] != MPI_REQUEST_NULL) MPI_Test(&sends[i], &sent, MPI_STATUS_IGNORE);
      if (sent) MPI_Isend(&kBeat, 1, MPI_CHAR, r, kBeatTag, comm_, &sends[i]);
    }
    lock.lock();
    stop_requested_.wait_for(lock, poll, [&] { return stopping_; });
  }
  lock.unlock();
  let_sends_go(sends);
  all_said_goodbye_ = part(receives, inbox);
  cancel_receives(receives);
}

bool MpiHeartbeat::part(std::vector<MPI_Request>& beats, std::vector<char>& inbox) {
  const auto peers = static_cast<std::size_t>(size_);
  std::vector<MPI_Request> goodbyes(peers, MPI_REQUEST_NULL), farewells(peers, MPI_REQUEST_NULL);
  std::vector<char> received(peers, 0);
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    const auto i = static_cast<std::size_t>(r);
    MPI_Isend(&kBeat, 1, MPI_CHAR, r, kGoodbyeTag, comm_, &farewells[i]);
    MPI_Irecv(&received[i], 1, MPI_CHAR, r, kGoodbyeTag, comm_, &goodbyes[i]);
  }
  const auto deadline = std::chrono::steady_clock::now() + wait_for_peers_;
  bool everyone = false;
  for (;;) {
    everyone = true;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      const auto i = static_cast<std::size_t>(r);
      drain_beats(r, beats, inbox);  // a goodbye is matched only after the beats sent before it
      int done = 1;
      if (goodbyes[i] != MPI_REQUEST_NULL) MPI_Test(&goodbyes[i], &done, MPI_STATUS_IGNORE);
      everyone = everyone && done;
    }
    if (everyone || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  cancel_receives(goodbyes);
  let_sends_go(farewells);
  return everyone;
}

std::string MpiHeartbeat::describe_silence(std::chrono::milliseconds silence) const {
  const std::int64_t now = nanoseconds_since(start_);
  std::string silent;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    const double quiet = static_cast<double>(now - last_heard_[static_cast<std::size_t>(r)].load()) * 1e-9;
    if (quiet * 1000.0 < static_cast<double>(silence.count())) continue;
    char text[96];
    std::snprintf(text, sizeof(text), "rank %d has been silent for %.1f s", r, quiet);
    if (!silent.empty()) silent += ", ";
    silent += text;
  }
  if (silent.empty()) return "every rank still answers: one of them has not called this collective";
  return silent + " (stopped, hung or gone)";
}

}  // namespace dm::dist::detail
