#pragma once
// isolated(fn): runs fn on the calling thread so that, while it waits inside a nested parallel
// loop, the thread only helps with that loop and never starts another top-level item of the
// pool. Without this a worker holding a model's read lock in a training step could pick up the
// next batch and ask for the write lock that it is itself blocking. Used by par_chunks and the
// data-parallel trainer.
#include <optional>
#include <type_traits>
#include <utility>

namespace dm::detail {

void run_isolated(void (*fn)(void* ctx), void* ctx);

template <class F>
decltype(auto) isolated(F&& fn) {
  using R = std::invoke_result_t<F&>;
  if constexpr (std::is_void_v<R>) {
    run_isolated([](void* c) { (*static_cast<std::remove_reference_t<F>*>(c))(); }, &fn);
  } else {
    std::optional<R> result;
    auto call = [&] { result.emplace(fn()); };
    run_isolated([](void* c) { (*static_cast<decltype(call)*>(c))(); }, &call);
    return R(std::move(*result));
  }
}

}  // namespace dm::detail
