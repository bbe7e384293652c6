#pragma once
// Runs a call that might hang on a thread of its own and waits a bounded time for it.

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace dm::testing {

/// What `run` returned, or nothing when it has not returned after `seconds`. A thread that
/// finished is joined: one still exiting when the process ends holds per-thread state
/// (glibc's dlerror buffer) that LeakSanitizer reports. Only a hung call is left behind
/// on a detached thread, so that the suite reports it instead of hanging.
inline std::optional<std::string> outcome_within(double seconds, std::function<std::string()> run) {
  auto result = std::make_shared<std::promise<std::string>>();
  std::future<std::string> done = result->get_future();
  std::thread worker([run = std::move(run), result] { result->set_value(run()); });
  if (done.wait_for(std::chrono::duration<double>(seconds)) != std::future_status::ready) {
    worker.detach();
    return std::nullopt;
  }
  worker.join();
  return done.get();
}

}  // namespace dm::testing
