// Background loading for AsyncDataLoader. Each batch is one job on the pool's launchers; the
// finished batches wait in a map keyed by index until the consumer reaches them, so loads may
// finish in any order while delivery keeps the loader's order. A new load is started each time
// the consumer takes a batch, keeping `prefetch` batches loaded or loading.
#include "democratising/async/dataloader.hpp"

#include <condition_variable>
#include <exception>
#include <map>
#include <utility>
#include <variant>

#include "democratising/async/queue.hpp"
#include "democratising/base/error.hpp"

namespace dm::data {

using Side = dm::detail::QueueCore::Side;

// QueueCore provides the lock and the consumer's waiter list (the pop side).
struct detail::AsyncLoadState : dm::detail::QueueCore {
  AsyncLoadState(const DataLoader& l, std::size_t p) : loader(l), prefetch(p), batches(l.size()) {}

  DataLoader loader;
  std::size_t prefetch;
  std::int64_t batches;
  std::int64_t next_to_load = 0;     // under mutex
  std::int64_t next_to_deliver = 0;  // under mutex
  std::map<std::int64_t, std::variant<Batch, std::exception_ptr>> ready;  // under mutex
  bool stopped = false;  // under mutex; set by the destructor
  int running = 0;       // loads in progress, under mutex
  std::condition_variable idle;  // signalled when running drops to 0 after a stop
};

namespace {

using State = std::shared_ptr<detail::AsyncLoadState>;

void load(const State& s, std::int64_t index) {
  {
    std::lock_guard lock(s->mutex);
    if (s->stopped) return;  // dropped: the loader is gone
    ++s->running;
  }
  std::variant<Batch, std::exception_ptr> result;
  try {
    result = s->loader.batch(index);
  } catch (...) {
    result = std::current_exception();
  }
  std::unique_lock lock(s->mutex);
  s->ready.emplace(index, std::move(result));
  auto consumers = s->take_waiters(Side::pop);
  if (--s->running == 0 && s->stopped) s->idle.notify_all();
  lock.unlock();
  dm::detail::QueueCore::wake_all(std::move(consumers));
}

// Starts loads until `prefetch` batches are loaded or loading ahead of the consumer.
// Called with the lock held; submitting only queues the job.
void top_up(const State& s) {
  while (s->next_to_load < s->batches &&
         s->next_to_load - s->next_to_deliver < static_cast<std::int64_t>(s->prefetch)) {
    const std::int64_t index = s->next_to_load++;
    dm::detail::submit_to_pool([s, index] { load(s, index); });
  }
}

}  // namespace

AsyncDataLoader::AsyncDataLoader(const DataLoader& loader, AsyncDataLoaderOptions options) {
  if (options.prefetch < 1) throw ValueError("AsyncDataLoader: prefetch must be at least 1");
  state_ = std::make_shared<detail::AsyncLoadState>(loader, options.prefetch);
}

AsyncDataLoader::~AsyncDataLoader() {
  std::unique_lock lock(state_->mutex);
  state_->stopped = true;
  state_->ready.clear();
  auto consumers = state_->take_waiters(Side::pop);
  // A running load holds only the shared state, but waiting for it keeps dataset reads from
  // outliving the loader's owner.
  state_->idle.wait(lock, [&] { return state_->running == 0; });
  lock.unlock();
  dm::detail::QueueCore::wake_all(std::move(consumers));
}

std::int64_t AsyncDataLoader::size() const { return state_->batches; }

Task<std::optional<Batch>> AsyncDataLoader::next() {
  State s = state_;  // the frame keeps the state alive if the loader is destroyed meanwhile
  for (;;) {
    {
      std::unique_lock lock(s->mutex);
      if (s->stopped || s->next_to_deliver >= s->batches) co_return std::nullopt;
      auto it = s->ready.find(s->next_to_deliver);
      if (it != s->ready.end()) {
        auto result = std::move(it->second);
        s->ready.erase(it);
        ++s->next_to_deliver;
        top_up(s);
        lock.unlock();
        if (auto* error = std::get_if<std::exception_ptr>(&result)) std::rethrow_exception(*error);
        co_return std::move(std::get<Batch>(result));
      }
      top_up(s);  // the first call starts the loads
    }
    co_await dm::detail::wait_for_change(s, Side::pop, [&] {
      return s->stopped || s->ready.count(s->next_to_deliver) > 0;
    });
  }
}

}  // namespace dm::data
