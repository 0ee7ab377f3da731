#include "micq/sync/mutex.h"

#include <gtest/gtest.h>

#include <thread>

namespace micq::sync {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Flag {
  Mutex mu;
  CondVar changed;
  bool set MICQ_GUARDED_BY(mu) = false;
};

TEST(MutexLock, UnlockReleasesBeforeTheScopeEnds) {
  Mutex mu;
  MutexLock lock(mu);
  lock.unlock();
  MutexLock again(mu);  // would deadlock if still held
}

TEST(CondVar, WaitUntilReturnsFalseAtTheDeadline) {
  Flag flag;
  MutexLock lock(flag.mu);
  EXPECT_FALSE(flag.changed.wait_until(flag.mu, Clock::now() + 10ms));
  flag.set = true;  // held again after the wait
}

TEST(CondVar, NotifyWakesAWaiterHoldingTheMutexAgain) {
  Flag flag;
  std::thread setter([&] {
    MutexLock lock(flag.mu);
    flag.set = true;
    flag.changed.notify_all();
  });
  {
    MutexLock lock(flag.mu);
    while (!flag.set) flag.changed.wait(flag.mu);
    EXPECT_TRUE(flag.set);
  }
  setter.join();
}

TEST(ReaderLock, ReadersShareTheMutex) {
  SharedMutex mu;
  ReaderLock mine(mu);
  std::thread other([&] { ReaderLock theirs(mu); });  // would deadlock if readers excluded each other
  other.join();
}

}  // namespace
}  // namespace micq::sync
