// Clang's thread-safety annotations (-Wthread-safety), spelled once for
// micq: a member says which mutex guards it, a function which locks it
// needs or takes, and clang checks every access against that at compile
// time. Under any other compiler (g++ builds micq) they expand to nothing.
// ./scripts/lint runs the check over the whole tree.
//
// Example:
//   class Counter {
//    public:
//     void add() MICQ_EXCLUDES(mu_) {
//       sync::MutexLock lock(mu_);
//       ++count_;
//     }
//    private:
//     sync::Mutex mu_;
//     int count_ MICQ_GUARDED_BY(mu_) = 0;
//   };
//
// Only members and globals can be annotated; a local guarded by a local
// mutex, or a field guarded by another object's mutex, stays a comment.
// The attributes are those of clang's ThreadSafetyAnalysis documentation.
#ifndef MICQ_SYNC_THREAD_ANNOTATIONS_H_
#define MICQ_SYNC_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define MICQ_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define MICQ_THREAD_ANNOTATION_(x)
#endif

// On a class: its objects are capabilities (a mutex) named `x` in warnings.
#define MICQ_CAPABILITY(x) MICQ_THREAD_ANNOTATION_(capability(x))
// On an RAII class that holds what its constructor acquired until its
// destructor (MutexLock).
#define MICQ_SCOPED_CAPABILITY MICQ_THREAD_ANNOTATION_(scoped_lockable)

// On a member or global: read it holding `x` at least shared, write it
// holding `x` exclusively.
#define MICQ_GUARDED_BY(x) MICQ_THREAD_ANNOTATION_(guarded_by(x))
// On a pointer member: the same for what it points at.
#define MICQ_PT_GUARDED_BY(x) MICQ_THREAD_ANNOTATION_(pt_guarded_by(x))

// On a function: the caller holds these (exclusively / at least shared).
#define MICQ_REQUIRES(...) MICQ_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define MICQ_REQUIRES_SHARED(...) MICQ_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))
// On a function: the caller does not hold these (the function takes them).
#define MICQ_EXCLUDES(...) MICQ_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))

// On a function: it returns holding these / having released them.
#define MICQ_ACQUIRE(...) MICQ_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define MICQ_ACQUIRE_SHARED(...) MICQ_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define MICQ_RELEASE(...) MICQ_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define MICQ_RELEASE_SHARED(...) MICQ_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
// On a function returning bool: it holds these when it returns `result`.
#define MICQ_TRY_ACQUIRE(...) MICQ_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define MICQ_TRY_ACQUIRE_SHARED(...) MICQ_THREAD_ANNOTATION_(try_acquire_shared_capability(__VA_ARGS__))

// On a function: when it returns, these are known to be held (a check the
// analysis cannot follow, e.g. inside a condition variable's predicate).
#define MICQ_ASSERT_CAPABILITY(x) MICQ_THREAD_ANNOTATION_(assert_capability(x))
#define MICQ_ASSERT_SHARED_CAPABILITY(x) MICQ_THREAD_ANNOTATION_(assert_shared_capability(x))

// On a function: not checked. Say why beside it.
#define MICQ_NO_THREAD_SAFETY_ANALYSIS MICQ_THREAD_ANNOTATION_(no_thread_safety_analysis)

#endif  // MICQ_SYNC_THREAD_ANNOTATIONS_H_
