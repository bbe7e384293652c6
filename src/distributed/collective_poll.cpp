// Polled waits with a deadline (see collective_poll.hpp).
#include "collective_poll.hpp"

#include <thread>

#include "democratising/base/error.hpp"

namespace dm::dist::detail {

std::string timeout_message(const PollTarget& target, std::chrono::milliseconds timeout) {
  return std::string("[") + target.op + "] rank " + std::to_string(target.rank) + " timed out after " +
         std::to_string(timeout.count()) + " ms waiting for " + target.waiting_for;
}

void poll_until_done(const std::function<Progress()>& poll, std::chrono::milliseconds timeout,
                     const std::function<void()>& on_timeout, const PollTarget& target) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  for (;;) {
    if (poll() == Progress::done) return;
    const auto now = Clock::now();
    if (now >= deadline) {
      if (on_timeout) on_timeout();
      throw TimeoutError(timeout_message(target, timeout));
    }
    // A bucket's all-reduce takes tens of microseconds to milliseconds: spin briefly for the
    // short ones, then sleep in small steps so the wait leaves the core to backward.
    if (now - start < std::chrono::microseconds(200))
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

}  // namespace dm::dist::detail
