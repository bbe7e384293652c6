// WriterPreferringMutex on a POSIX rwlock set to prefer writers (a glibc extension, kept here
// so that public headers need neither pthread nor glibc).
#include <pthread.h>

#include <system_error>

#include "democratising/runtime/sync.hpp"

namespace dm {

struct WriterPreferringMutex::Native {
  pthread_rwlock_t lock;
};

namespace {
void check(int code, const char* what) {
  if (code != 0) throw std::system_error(code, std::generic_category(), what);
}
}  // namespace

WriterPreferringMutex::WriterPreferringMutex() : native_(std::make_unique<Native>()) {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  const int code = pthread_rwlock_init(&native_->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  check(code, "WriterPreferringMutex");
}

WriterPreferringMutex::~WriterPreferringMutex() { pthread_rwlock_destroy(&native_->lock); }

void WriterPreferringMutex::lock() { pthread_rwlock_wrlock(&native_->lock); }
bool WriterPreferringMutex::try_lock() { return pthread_rwlock_trywrlock(&native_->lock) == 0; }
void WriterPreferringMutex::unlock() { pthread_rwlock_unlock(&native_->lock); }
void WriterPreferringMutex::lock_shared() { pthread_rwlock_rdlock(&native_->lock); }
bool WriterPreferringMutex::try_lock_shared() { return pthread_rwlock_tryrdlock(&native_->lock) == 0; }
void WriterPreferringMutex::unlock_shared() { pthread_rwlock_unlock(&native_->lock); }

}  // namespace dm
