// The in-process transport: n threads meet at a generation barrier; each collective publishes
// every rank's buffer pointer, then each rank works on its own slice of the elements (so the
// work is spread over the ranks and every element is combined exactly once, in rank order),
// and barriers keep a buffer alive until no rank reads or writes it any more.
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "transports.hpp"
#include "combine.hpp"
#include "democratising/base/error.hpp"

namespace dm::dist::detail {
namespace {

class LocalGroup {
 public:
  LocalGroup(int size, std::chrono::milliseconds timeout) : slots(static_cast<std::size_t>(size)), size_(size), timeout_(timeout) {}

  // Returns once all ranks have arrived; throws TimeoutError (and breaks the group, so that
  // the others stop waiting too) when they do not within the timeout.
  void arrive_and_wait(int rank, const char* op) {
    std::unique_lock lock(mutex_);
    throw_if_broken(rank, op);
    const std::uint64_t generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    const bool passed =
        cv_.wait_for(lock, timeout_, [&] { return generation_ != generation || !broken_reason_.empty(); });
    if (generation_ != generation) return;
    throw_if_broken(rank, op);
    if (!passed) {
      const std::string what = std::string("[") + op + "] rank " + std::to_string(rank) + " waited " +
                               std::to_string(timeout_.count()) + " ms and only " + std::to_string(arrived_) + " of " +
                               std::to_string(size_) + " ranks arrived";
      broken_reason_ = what;
      cv_.notify_all();
      throw TimeoutError(what);
    }
  }

  void abort(const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (broken_reason_.empty()) broken_reason_ = reason.empty() ? "aborted" : reason;
    cv_.notify_all();
  }

  // Each rank's buffer for the collective under way, indexed by rank.
  std::vector<void*> slots;

 private:
  void throw_if_broken(int rank, const char* op) const {
    if (!broken_reason_.empty())
      throw DistributedError(std::string("[") + op + "] rank " + std::to_string(rank) +
                             ": the world is broken: " + broken_reason_);
  }

  const int size_;
  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
  std::uint64_t generation_ = 0;
  std::string broken_reason_;
};

class LocalTransport;

// Reduction deferred to wait(): threads have no transport to progress in the background, and
// a rank's waits come in the order it started them, which is the order all ranks agree on.
class DeferredAllReduce : public PendingCollective {
 public:
  DeferredAllReduce(Transport& transport, void* data, std::int64_t count, DType dtype, Reduction op)
      : transport_(transport), data_(data), count_(count), dtype_(dtype), op_(op) {}
  bool test() override { return done_; }
  void wait() override {
    if (done_) return;
    transport_.all_reduce(data_, count_, dtype_, op_);
    done_ = true;
  }

 private:
  Transport& transport_;
  void* data_;
  std::int64_t count_;
  DType dtype_;
  Reduction op_;
  bool done_ = false;
};

// All-gather deferred to wait(), for the same reasons.
class DeferredAllGather : public PendingCollective {
 public:
  DeferredAllGather(Transport& transport, const void* data, void* out, std::int64_t bytes)
      : transport_(transport), data_(data), out_(out), bytes_(bytes) {}
  bool test() override { return done_; }
  void wait() override {
    if (done_) return;
    transport_.all_gather(data_, out_, bytes_);
    done_ = true;
  }

 private:
  Transport& transport_;
  const void* data_;
  void* out_;
  std::int64_t bytes_;
  bool done_ = false;
};

class LocalTransport : public Transport {
 public:
  LocalTransport(std::shared_ptr<LocalGroup> group, int rank, int size)
      : group_(std::move(group)), rank_(rank), size_(size) {}

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "local"; }

  void all_reduce(void* data, std::int64_t count, DType dtype, Reduction op) override {
    const std::size_t item = itemsize(dtype);
    auto slot = [&](int r) { return static_cast<std::byte*>(group_->slots[static_cast<std::size_t>(r)]); };
    group_->slots[static_cast<std::size_t>(rank_)] = data;
    group_->arrive_and_wait(rank_, "all_reduce");
    // This rank's slice [begin, end) of the elements, combined over ranks 0..size-1.
    const std::int64_t begin = count * rank_ / size_;
    const std::int64_t end = count * (rank_ + 1) / size_;
    const std::size_t bytes = static_cast<std::size_t>(end - begin) * item;
    const std::size_t offset = static_cast<std::size_t>(begin) * item;
    std::vector<std::byte> slice(bytes);
    if (bytes > 0) {
      std::memcpy(slice.data(), slot(0) + offset, bytes);
      for (int r = 1; r < size_; ++r) combine_into(slice.data(), slot(r) + offset, end - begin, dtype, op);
    }
    group_->arrive_and_wait(rank_, "all_reduce");  // every rank has read every input
    for (int r = 0; r < size_ && bytes > 0; ++r) std::memcpy(slot(r) + offset, slice.data(), bytes);
    group_->arrive_and_wait(rank_, "all_reduce");  // every slice is written everywhere
  }

  std::unique_ptr<PendingCollective> start_all_reduce(void* data, std::int64_t count, DType dtype,
                                                      Reduction op) override {
    return std::make_unique<DeferredAllReduce>(*this, data, count, dtype, op);
  }

  void broadcast(void* data, std::int64_t bytes, int root) override {
    group_->slots[static_cast<std::size_t>(rank_)] = data;
    group_->arrive_and_wait(rank_, "broadcast");
    if (rank_ != root && bytes > 0)
      std::memcpy(data, group_->slots[static_cast<std::size_t>(root)], static_cast<std::size_t>(bytes));
    group_->arrive_and_wait(rank_, "broadcast");
  }

  void all_gather(const void* data, void* out, std::int64_t bytes) override {
    group_->slots[static_cast<std::size_t>(rank_)] = const_cast<void*>(data);
    group_->arrive_and_wait(rank_, "all_gather");
    for (int r = 0; r < size_ && bytes > 0; ++r)
      std::memcpy(static_cast<std::byte*>(out) + static_cast<std::size_t>(r) * static_cast<std::size_t>(bytes),
                  group_->slots[static_cast<std::size_t>(r)], static_cast<std::size_t>(bytes));
    group_->arrive_and_wait(rank_, "all_gather");
  }

  std::unique_ptr<PendingCollective> start_all_gather(const void* data, void* out, std::int64_t bytes) override {
    return std::make_unique<DeferredAllGather>(*this, data, out, bytes);
  }

  void barrier() override { group_->arrive_and_wait(rank_, "barrier"); }

  void abort(const std::string& reason) override { group_->abort(reason); }

 private:
  std::shared_ptr<LocalGroup> group_;
  int rank_;
  int size_;
};

}  // namespace

std::vector<std::shared_ptr<Transport>> make_local_transports(int n, const WorldOptions& options) {
  if (n < 1) throw ValueError("[World::local] needs at least one rank, got " + std::to_string(n));
  if (options.timeout.count() <= 0)
    throw ValueError("[World::local] the timeout must be positive, got " + std::to_string(options.timeout.count()) + " ms");
  auto group = std::make_shared<LocalGroup>(n, options.timeout);
  std::vector<std::shared_ptr<Transport>> transports;
  for (int r = 0; r < n; ++r) transports.push_back(std::make_shared<LocalTransport>(group, r, n));
  return transports;
}

}  // namespace dm::dist::detail
