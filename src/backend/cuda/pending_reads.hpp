#pragma once
// Which device copies may still be reading a block of memory: a copy between two GPUs runs on a
// copy stream of its own (peer_copy.cpp), so its source's default stream does not wait for it,
// and a source freed meanwhile could be reused by a kernel before the copy has read it. Each
// copy is remembered with the event that marks its end; a release first makes its stream wait
// for the events of the copies whose source lies in the block. Plain C++ over any event type, so
// the bookkeeping is tested without a GPU.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace dm::cuda_backend {

template <class Event>
class PendingReads {
 public:
  /// A copy reading [source, source + nbytes) that ends with `done`.
  void add(const void* source, std::size_t nbytes, Event done) {
    std::lock_guard lock(mutex_);
    reads_.push_back({address(source), nbytes, done});
  }

  /// Forgets the reads whose event is_done() says have ended (passing each to forget()), and
  /// hands over the events of the others that read inside [block, block + nbytes): the caller
  /// makes the release wait for them, then forgets them itself.
  std::vector<Event> take_overlapping(const void* block, std::size_t nbytes, const std::function<bool(Event)>& is_done,
                                      const std::function<void(Event)>& forget) {
    std::lock_guard lock(mutex_);
    std::vector<Event> overlapping;
    const std::uintptr_t begin = address(block);
    std::vector<Read> kept;
    for (const Read& r : reads_) {
      if (is_done(r.done)) {
        forget(r.done);
      } else if (r.begin < begin + nbytes && begin < r.begin + r.nbytes) {
        overlapping.push_back(r.done);  // the caller forgets it once its wait is queued
      } else {
        kept.push_back(r);
      }
    }
    reads_ = std::move(kept);
    return overlapping;
  }

  /// Reads remembered (tests).
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return reads_.size();
  }

 private:
  struct Read {
    std::uintptr_t begin;
    std::size_t nbytes;
    Event done;
  };
  static std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

  mutable std::mutex mutex_;
  std::vector<Read> reads_;
};

}  // namespace dm::cuda_backend
