// dm::detail::run_isolated: oneTBB's task isolation, or a plain call on the TSan build's pool.
#include "democratising/runtime/isolated.hpp"

#if !defined(__SANITIZE_THREAD__)
#include <oneapi/tbb/task_arena.h>
#endif

namespace dm::detail {

void run_isolated(void (*fn)(void* ctx), void* ctx) {
#if defined(__SANITIZE_THREAD__)
  // The TSan build's pool never hands a waiting thread outer work, so there is nothing to isolate.
  fn(ctx);
#else
  tbb::this_task_arena::isolate([&] { fn(ctx); });
#endif
}

}  // namespace dm::detail
