// Mutex and SharedMutex: std::mutex and std::shared_mutex that clang's
// thread-safety analysis knows as capabilities, with the scoped locks
// micq takes them through (MutexLock; WriterLock and ReaderLock) and a
// condition variable over Mutex. Same cost as the std types they wrap;
// under g++ the annotations are gone and nothing else changes.
//
// Example:
//   class Tally {
//    public:
//     void add(int n) {
//       sync::MutexLock lock(mu_);
//       total_ += n;  // clang: "requires holding mutex 'mu_'" without the lock
//     }
//    private:
//     sync::Mutex mu_;
//     int total_ MICQ_GUARDED_BY(mu_) = 0;
//   };
//
// Thread safety: as the std types. Locks are scoped; take a mutex through
// MutexLock (or WriterLock / ReaderLock), not by calling lock() yourself,
// so that the analysis sees where it is released.
#ifndef MICQ_SYNC_MUTEX_H_
#define MICQ_SYNC_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "micq/sync/thread_annotations.h"

namespace micq::sync {

class CondVar;

class MICQ_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() MICQ_ACQUIRE() { mu_.lock(); }
  void unlock() MICQ_RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Exclusive (writers) or shared (readers) ownership.
class MICQ_CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() MICQ_ACQUIRE() { mu_.lock(); }
  void unlock() MICQ_RELEASE() { mu_.unlock(); }
  void lock_shared() MICQ_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() MICQ_RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds `mu` from construction to the end of the scope, or to unlock().
class MICQ_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) MICQ_ACQUIRE(mu) : mu_(&mu) { mu.lock(); }
  ~MutexLock() MICQ_RELEASE() {
    if (mu_) mu_->unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // Releases the mutex before the scope ends. At most once.
  void unlock() MICQ_RELEASE() { std::exchange(mu_, nullptr)->unlock(); }

 private:
  Mutex* mu_;
};

// Holds `mu` exclusively until the end of the scope.
class MICQ_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) MICQ_ACQUIRE(mu) : mu_(mu) { mu.lock(); }
  ~WriterLock() MICQ_RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds `mu` shared until the end of the scope.
class MICQ_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) MICQ_ACQUIRE_SHARED(mu) : mu_(mu) { mu.lock_shared(); }
  ~ReaderLock() MICQ_RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

// std::condition_variable over a Mutex the caller holds (through a
// MutexLock): a wait releases it while blocked and holds it again when it
// returns, which is why it needs no lock object of its own. Wake-ups may be
// spurious: wait in a loop on the condition.
class CondVar {
 public:
  void wait(Mutex& mu) MICQ_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // still held: the caller's MutexLock releases it
  }

  // False if `deadline` passed first.
  template <class Clock, class Duration>
  bool wait_until(Mutex& mu, const std::chrono::time_point<Clock, Duration>& deadline) MICQ_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    std::cv_status status = cv_.wait_until(lock, deadline);
    lock.release();
    return status == std::cv_status::no_timeout;
  }

  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace micq::sync

#endif  // MICQ_SYNC_MUTEX_H_
