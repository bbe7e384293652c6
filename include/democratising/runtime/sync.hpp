#pragma once
// Values reached only through a guard: the lock is held exactly as long as the guard lives,
// so unsynchronised access does not compile rather than race.
#include <barrier>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <shared_mutex>  // std::shared_lock
#include <utility>

namespace dm {

/// A reader-writer mutex that lets a waiting writer in before new readers. glibc's default
/// rwlock (behind std::shared_mutex) prefers readers, so a stream of readers - the training
/// threads of a Hogwild model - can starve the writer forever.
class WriterPreferringMutex {
 public:
  WriterPreferringMutex();
  ~WriterPreferringMutex();
  WriterPreferringMutex(const WriterPreferringMutex&) = delete;
  WriterPreferringMutex& operator=(const WriterPreferringMutex&) = delete;

  /// @name Exclusive (writer) locking
  //@{
  /// The SharedMutex requirements, so std::unique_lock works with it.
  void lock();
  bool try_lock();
  void unlock();
  //@}
  /// @name Shared (reader) locking
  //@{
  /// The SharedMutex requirements, so std::shared_lock works with it.
  void lock_shared();
  bool try_lock_shared();
  void unlock_shared();
  //@}

 private:
  // The platform's lock lives in src/: public headers stay free of pthread and glibc names.
  struct Native;
  std::unique_ptr<Native> native_;
};

/// Many readers or one writer (a waiting writer goes first). `read()` gives a const view, `write()` a mutable one.
template <class T>
class RwLock {
 public:
  /// Shared access to the value; the read lock is held while it lives.
  class ReadGuard {
   public:
    /// @name Access
    //@{
    /// The value, read-only.
    const T& operator*() const { return *value_; }
    const T* operator->() const { return value_; }
    //@}
   private:
    friend class RwLock;
    ReadGuard(const T* v, WriterPreferringMutex& m) : value_(v), lock_(m) {}
    const T* value_;
    std::shared_lock<WriterPreferringMutex> lock_;
  };
  /// Exclusive access to the value; the write lock is held while it lives.
  class WriteGuard {
   public:
    /// @name Access
    //@{
    /// The value, writable.
    T& operator*() const { return *value_; }
    T* operator->() const { return value_; }
    //@}
   private:
    friend class RwLock;
    WriteGuard(T* v, WriterPreferringMutex& m) : value_(v), lock_(m) {}
    T* value_;
    std::unique_lock<WriterPreferringMutex> lock_;
  };

  RwLock() = default;
  /// Owns `value`.
  explicit RwLock(T value) : value_(std::move(value)) {}
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  /// Waits for the read lock (shared with other readers; a waiting writer goes first).
  [[nodiscard]] ReadGuard read() const { return ReadGuard(&value_, mutex_); }
  /// Waits for the write lock (exclusive).
  [[nodiscard]] WriteGuard write() { return WriteGuard(&value_, mutex_); }

 private:
  T value_{};
  mutable WriterPreferringMutex mutex_;
};

/// Exclusive access through `lock()`.
template <class T>
class Mutex {
 public:
  /// Exclusive access to the value; the lock is held while it lives.
  class Guard {
   public:
    /// @name Access
    //@{
    /// The value, writable.
    T& operator*() const { return *value_; }
    T* operator->() const { return value_; }
    //@}
   private:
    friend class Mutex;
    Guard(T* v, std::mutex& m) : value_(v), lock_(m) {}
    T* value_;
    std::unique_lock<std::mutex> lock_;
  };

  Mutex() = default;
  /// Owns `value`.
  explicit Mutex(T value) : value_(std::move(value)) {}
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  /// Waits for the lock.
  [[nodiscard]] Guard lock() { return Guard(&value_, mutex_); }

 private:
  T value_{};
  std::mutex mutex_;
};

/// A barrier for `parties` threads plus a "ready" flag raised once all have arrived, so other
/// threads (not among the parties) can wait for the rendezvous to have happened.
class SyncPoint {
 public:
  /// A rendezvous of `parties` threads.
  explicit SyncPoint(std::ptrdiff_t parties) : barrier_(parties) {}

  /// Blocks until all parties have called wait(), then raises the ready flag.
  void wait() {
    barrier_.arrive_and_wait();
    {
      std::lock_guard lock(mutex_);
      ready_ = true;
    }
    ready_cv_.notify_all();
  }
  /// Blocks until the parties have met at least once.
  void wait_ready() {
    std::unique_lock lock(mutex_);
    ready_cv_.wait(lock, [&] { return ready_; });
  }
  /// Whether the parties have met.
  bool is_ready() const {
    std::lock_guard lock(mutex_);
    return ready_;
  }

 private:
  std::barrier<> barrier_;
  mutable std::mutex mutex_;
  std::condition_variable ready_cv_;
  bool ready_ = false;
};

}  // namespace dm
