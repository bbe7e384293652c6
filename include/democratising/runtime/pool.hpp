#pragma once
// The one process-wide pool. Every parallel loop of the library, inside ops and in
// par_map/join, runs on a single oneTBB arena, so nested parallelism shares workers instead
// of multiplying threads. Work is split into blocks whose boundaries depend only on the
// problem size, never on the thread count, which keeps results identical for any pool size.
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <variant>
#include <utility>
#include <vector>

namespace dm {

/// Sets the pool size (>= 1). Reads of num_threads() see it at once; in-flight work finishes
/// on the old pool. The default is DM_NUM_THREADS, else the cores this process may use (its
/// equal share of them when mpirun started several unbound ranks on the machine).
void set_num_threads(int n);
/// Current pool size.
int num_threads();

namespace detail {
using BlockFn = void (*)(void* ctx, std::int64_t begin, std::int64_t end);
/// Runs fn over [0, n) in blocks of `grain` (the last may be shorter), in parallel on the pool.
void parallel_blocks(std::int64_t n, std::int64_t grain, BlockFn fn, void* ctx);
using TaskFn = void (*)(void* ctx);
/// Runs a and b, possibly in parallel; rethrows the first exception after both have finished.
void parallel_invoke2(TaskFn a, void* ca, TaskFn b, void* cb);
}  // namespace detail

/// Calls body(begin, end) over consecutive blocks of [0, n) of size `grain`, in parallel.
/// Block boundaries depend only on n and grain. An exception in any block reaches the caller.
template <class F>
void par_for(std::int64_t n, std::int64_t grain, F&& body) {
  if (n <= 0) return;
  auto call = [](void* ctx, std::int64_t b, std::int64_t e) { (*static_cast<std::remove_reference_t<F>*>(ctx))(b, e); };
  detail::parallel_blocks(n, grain < 1 ? 1 : grain, call, const_cast<void*>(static_cast<const void*>(&body)));
}

/// Applies f to every element in parallel and returns the results in order.
template <class Range, class F>
auto par_map(const Range& items, F&& f) {
  using In = decltype(*std::begin(items));
  using Out = std::decay_t<std::invoke_result_t<F&, In>>;
  const auto n = static_cast<std::int64_t>(std::size(items));
  std::vector<std::optional<Out>> slots(static_cast<std::size_t>(n));
  auto first = std::begin(items);
  par_for(n, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) slots[static_cast<std::size_t>(i)].emplace(f(*std::next(first, i)));
  });
  std::vector<Out> out;
  out.reserve(slots.size());
  for (auto& s : slots) out.push_back(std::move(*s));
  return out;
}

namespace detail {
template <class F>
struct JoinSlot {
  using R = std::invoke_result_t<F&>;
  using Stored = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  F* fn;
  std::optional<Stored> result;
  static void run(void* self) {
    auto* s = static_cast<JoinSlot*>(self);
    if constexpr (std::is_void_v<R>) {
      (*s->fn)();
      s->result.emplace();
    } else {
      s->result.emplace((*s->fn)());
    }
  }
};
}  // namespace detail

/// Runs f and g, possibly in parallel on the pool, and returns both results (std::monostate
/// for a void one). If either throws, the exception reaches the caller after both have ended.
template <class F, class G>
auto join(F&& f, G&& g) {
  detail::JoinSlot<std::remove_reference_t<F>> a{&f, {}};
  detail::JoinSlot<std::remove_reference_t<G>> b{&g, {}};
  detail::parallel_invoke2(&decltype(a)::run, &a, &decltype(b)::run, &b);
  return std::pair{std::move(*a.result), std::move(*b.result)};
}

}  // namespace dm
