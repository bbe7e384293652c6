#pragma once
// The wait of a GPU collective: NCCL's calls return at once and the work runs on a stream, so a
// rank that fell silent would leave a blocking wait hanging forever. Instead the waiter polls
// (the stream's completion, NCCL's asynchronous error) against a deadline, and on timeout lets
// the caller abort the communicator before it throws. Host logic only: tests drive it with a
// query that never finishes.
#include <chrono>
#include <functional>
#include <string>

namespace dm::dist::detail {

enum class Progress { pending, done };

/// What one wait is, for its messages.
struct PollTarget {
  const char* op = "";        // "all_reduce", ...
  int rank = 0;
  std::string waiting_for;    // "the other ranks"
};

/// Calls poll() until it answers done (poll may throw: a failure it saw). Once `timeout` has
/// passed, calls on_timeout() (which aborts what was waited for) and throws a TimeoutError
/// naming the operation, the rank and the timeout. Between polls it yields, then sleeps
/// briefly, so a long wait does not hold a core.
void poll_until_done(const std::function<Progress()>& poll, std::chrono::milliseconds timeout,
                     const std::function<void()>& on_timeout, const PollTarget& target);

/// The message of such a timeout.
std::string timeout_message(const PollTarget& target, std::chrono::milliseconds timeout);

}  // namespace dm::dist::detail
