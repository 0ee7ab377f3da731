// What g++ 12 does and does not miscompile in coroutines: the evidence for
// the g++ 12 rule in docs/design.md ("Rules the code keeps").
//
// AllowedInCoAwait: the forms the code writes freely. An awaitable called
// with by-value arguments (strings, vectors, counted objects), built and
// co_awaited in one expression; arrays and initializer lists in statements
// without co_await. Every constructed object is destroyed exactly once and
// the strings the callee reads are intact: a compiler that breaks one of
// these fails here (scripts/test runs it under ASan+UBSan, which also sees
// a double free or a use after free).
//
// Gcc12Miscompiles (g++ 12 only): the forms the rule forbids, each shown to
// be still broken. If one of these fails after a compiler change, that bug
// is gone and its clause of the rule can go with it. They destroy an object
// twice on purpose; Counted owns no memory, so nothing is freed twice. A
// braced list inside a co_await expression does not compile with g++ 12
// (PR 103871), so it needs no test.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <initializer_list>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace micq {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

// Every Counted alive, and what went wrong with them.
struct Census {
  int made = 0;
  int destroyed = 0;
  int destroyed_twice = 0;  // destructor of an object not alive
  int used_dead = 0;        // read after its destructor
  std::set<const void*> alive;
};
Census census;

struct Counted {
  int id = 7;
  Counted() { born(); }
  explicit Counted(int i) : id(i) { born(); }
  Counted(const Counted& o) : id(o.id) { born(); }
  Counted(Counted&& o) noexcept : id(o.id) { born(); }
  Counted& operator=(const Counted&) = default;
  Counted& operator=(Counted&&) = default;
  ~Counted() {
    ++census.destroyed;
    if (census.alive.erase(this) == 0) ++census.destroyed_twice;
  }
  int read() const {
    if (census.alive.count(this) == 0) ++census.used_dead;
    return id;
  }

 private:
  void born() {
    ++census.made;
    census.alive.insert(this);
  }
};

// Long enough for the heap: a double free or a dangling read is ASan's.
const std::string kText(100, 't');

Counted make_counted() { return Counted{3}; }
std::vector<Counted> make_counteds() { return std::vector<Counted>(2); }
std::string make_text() { return kText; }
std::vector<std::string> make_texts() { return std::vector<std::string>(3, kText); }

// Suspends: the coroutine resumes from the io_context's queue.
asio::awaitable<void> yield() {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

// Reads every argument after a suspension. Returns how many were intact.
asio::awaitable<int> take(Counted one, std::vector<Counted> many, std::string text,
                          std::vector<std::string> texts) {
  co_await yield();
  int intact = one.read() == 3 || one.read() == 7 ? 1 : 0;
  for (const auto& c : many) intact += c.read() == 7 ? 1 : 0;
  intact += text == kText ? 1 : 0;
  for (const auto& t : texts) intact += t == kText ? 1 : 0;
  co_return intact;  // 1 + many.size() + 1 + texts.size() when all are intact
}
constexpr int kAllIntact = 1 + 2 + 1 + 3;

asio::awaitable<Counted> counted_later() {
  co_await yield();
  co_return Counted{3};
}

struct Bundle {  // an aggregate
  Counted one;
  std::string text;
};
Bundle make_bundle() { return Bundle{Counted{3}, kText}; }
asio::awaitable<int> take_bundle(Bundle b) {
  co_await yield();
  co_return b.one.read() + (b.text == kText ? 100 : 0);
}

template <class F>
asio::awaitable<int> call(F f) {
  co_await yield();
  co_return f();
}

// Runs one coroutine to its end on a one-thread io_context.
template <class Make>
void run(Make make) {
  census = Census{};
  bool done = false;
  {
    asio::io_context ctx;
    asio::co_spawn(ctx, make(), [&](const std::exception_ptr& e) {
      if (e) std::rethrow_exception(e);
      done = true;
    });
    ctx.run();
  }
  EXPECT_TRUE(done);
}

void expect_each_destroyed_once() {
  EXPECT_EQ(census.destroyed, census.made);
  EXPECT_TRUE(census.alive.empty());
  EXPECT_EQ(census.destroyed_twice, 0);
  EXPECT_EQ(census.used_dead, 0);
}

// `co_await stack_.start_micq("sim", sim_args(...))`: arguments made by calls.
TEST(AllowedInCoAwait, ByValueArgumentsMadeByCalls) {
  int intact = 0;
  run([&]() -> asio::awaitable<void> {
    intact = co_await take(make_counted(), make_counteds(), make_text(), make_texts());
  });
  EXPECT_EQ(intact, kAllIntact);
  expect_each_destroyed_once();
}

TEST(AllowedInCoAwait, ByValueTemporariesBuiltInTheCall) {
  int intact = 0;
  run([&]() -> asio::awaitable<void> {
    intact = co_await take(Counted(3), std::vector<Counted>(2), std::string(kText),
                           std::vector<std::string>(3, kText));
  });
  EXPECT_EQ(intact, kAllIntact);
  expect_each_destroyed_once();
}

TEST(AllowedInCoAwait, CopiedAndMovedLocals) {
  int copied = 0;
  int moved = 0;
  run([&]() -> asio::awaitable<void> {
    Counted one(3);
    std::vector<Counted> many(2);
    std::string text = kText;
    std::vector<std::string> texts(3, kText);
    copied = co_await take(one, many, text, texts);
    moved = co_await take(std::move(one), std::move(many), std::move(text), std::move(texts));
  });
  EXPECT_EQ(copied, kAllIntact);
  EXPECT_EQ(moved, kAllIntact);
  expect_each_destroyed_once();
}

TEST(AllowedInCoAwait, AwaitInsideTheArguments) {
  int intact = 0;
  run([&]() -> asio::awaitable<void> {
    intact = co_await take(co_await counted_later(), make_counteds(), make_text(), make_texts());
  });
  EXPECT_EQ(intact, kAllIntact);
  expect_each_destroyed_once();
}

TEST(AllowedInCoAwait, AggregateMadeByACall) {
  int got = 0;
  run([&]() -> asio::awaitable<void> { got = co_await take_bundle(make_bundle()); });
  EXPECT_EQ(got, 103);
  expect_each_destroyed_once();
}

TEST(AllowedInCoAwait, AwaitableOperators) {
  int both = 0;
  run([&]() -> asio::awaitable<void> {
    auto [a, b] = co_await (take(make_counted(), make_counteds(), make_text(), make_texts()) &&
                            take(Counted(3), std::vector<Counted>(2), kText, make_texts()));
    both = a + b;
  });
  EXPECT_EQ(both, 2 * kAllIntact);
  expect_each_destroyed_once();
}

TEST(AllowedInCoAwait, CapturingLambdaNamedInItsOwnStatement) {
  int got = 0;
  run([&]() -> asio::awaitable<void> {
    Counted c(3);
    std::string text = kText;
    auto read = [c, text] { return c.read() + (text == kText ? 100 : 0); };
    got = co_await call(read);
    auto ex = co_await asio::this_coro::executor;
    auto spawned = [c, text]() -> asio::awaitable<int> {
      co_await yield();
      co_return c.read() + (text == kText ? 100 : 0);
    };
    got += co_await asio::co_spawn(ex, std::move(spawned), asio::use_awaitable);
  });
  EXPECT_EQ(got, 206);
  expect_each_destroyed_once();
}

// C arrays and initializer lists in statements without co_await, alive
// across suspensions.
TEST(AllowedInCoAwait, ArraysAndInitializerListsAcrossASuspension) {
  int got = 0;
  run([&]() -> asio::awaitable<void> {
    std::string texts[] = {kText, "x", kText};
    Counted counted[2] = {Counted(3), Counted(3)};
    std::vector<std::string> listed = {kText, make_text()};
    std::initializer_list<Counted> il = {Counted(3), Counted(3)};
    co_await yield();
    for (const auto& t : texts) got += t == kText ? 1 : 0;
    for (const auto& c : counted) got += c.read();
    for (const auto& t : listed) got += t == kText ? 1 : 0;
    for (const auto& c : il) got += c.read();
    for (const Counted& c : {Counted(3), Counted(3)}) {
      co_await yield();
      got += c.read();
    }
  });
  EXPECT_EQ(got, 2 + 6 + 2 + 6 + 6);
  expect_each_destroyed_once();
}

// A coroutine with a local variable of its own may co_await in a condition
// (PR 106188 needs a coroutine without one), here a member function whose
// only parameter is `this`, over the lines a child's reader hands out.
struct LineReader {
  int left = 3;
  asio::awaitable<std::optional<std::string>> read_line() {
    co_await yield();
    if (left-- > 0) co_return kText;
    co_return std::nullopt;
  }
  asio::awaitable<int> count_lines() {
    int lines = 0;
    while (co_await read_line()) ++lines;
    if ((co_await take(make_counted(), make_counteds(), make_text(), make_texts())) == kAllIntact) ++lines;
    while ((co_await counted_later()).read() != 3) {
    }
    co_return lines;
  }
};
TEST(AllowedInCoAwait, AwaitInAConditionWithALocal) {
  LineReader reader;
  int got = 0;
  run([&]() -> asio::awaitable<void> { got = co_await reader.count_lines(); });
  EXPECT_EQ(got, 4);
  expect_each_destroyed_once();
}

// Frames destroyed while suspended inside the call (the io_context goes
// away with the coroutines waiting on a timer): each object once.
TEST(AllowedInCoAwait, DestroyedWhileSuspendedInTheCall) {
  census = Census{};
  {
    asio::io_context ctx;
    asio::steady_timer never(ctx, std::chrono::hours(1));
    auto wait_in = [&never](Counted one, std::vector<Counted> many, std::string text,
                            std::vector<std::string> texts) -> asio::awaitable<int> {
      co_await never.async_wait(asio::use_awaitable);
      co_return one.read() + static_cast<int>(many.size() + text.size() + texts.size());
    };
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          co_await wait_in(make_counted(), make_counteds(), make_text(), make_texts());
        },
        asio::detached);
    ctx.run_for(std::chrono::milliseconds(20));
    EXPECT_GT(census.made, census.destroyed);  // the callee waits with its copies
  }
  expect_each_destroyed_once();
}

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12

// PR 100611 / PR 99576: a capture of a lambda made in a co_await expression
// is destroyed twice (the closure's member and a "promoted" copy).
TEST(Gcc12Miscompiles, LambdaWithCapturesInACoAwaitExpression) {
  run([&]() -> asio::awaitable<void> {
    Counted c(3);
    co_await [c]() -> asio::awaitable<int> { co_return c.read(); }();  // called in place
    co_await call([c] { return c.read(); });                           // passed by value
  });
  EXPECT_EQ(census.destroyed_twice, 2);
}

// PR 101976: a braced aggregate argument's members are destroyed twice
// (a std::string member is freed twice: ASan's bad-free).
struct Box {
  Counted one;
};
asio::awaitable<int> take_box(Box b) {
  co_await yield();
  co_return b.one.read();
}
TEST(Gcc12Miscompiles, BracedAggregateInACoAwaitExpression) {
  run([&]() -> asio::awaitable<void> { co_await take_box(Box{Counted(3)}); });
  EXPECT_EQ(census.destroyed_twice, 1);
}

// A class temporary made by ?: in a co_await expression is destroyed twice
// (no PR found; also when the ?: is elsewhere in the full-expression).
TEST(Gcc12Miscompiles, ConditionalTemporaryInACoAwaitExpression) {
  bool pick = true;
  run([&]() -> asio::awaitable<void> {
    co_await take(pick ? Counted(3) : make_counted(), make_counteds(), kText, make_texts());
  });
  EXPECT_EQ(census.destroyed_twice, 1);
}

// PR 106188: a coroutine with no local variable that co_awaits in an
// if/while/for/switch condition gets a frame whose first field is the
// condition's hidden variable: the handle (from_promise) is not the frame's
// address, and resuming it corrupts memory (`while (co_await read_line())`
// in a member function crashed micq bench's supervisor). Parameters, `this`
// included, do not help; a local anywhere in the body does. Shown without
// resuming: the frame's allocation is compared with the handle.
void* frame_allocated = nullptr;
struct Probe {
  struct promise_type {
    static void* operator new(std::size_t n) { return frame_allocated = ::operator new(n); }
    static void operator delete(void* p) { ::operator delete(p); }
    Probe get_return_object() { return Probe{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() {}
  };
  std::coroutine_handle<promise_type> handle;
};
struct Ready {
  bool await_ready() { return true; }
  void await_suspend(std::coroutine_handle<>) {}
  int await_resume() { return 2; }
};
bool taken = false;
Probe condition_without_locals() {
  if ((co_await Ready{}) == 2) taken = true;
}
Probe condition_with_a_parameter(int two) {
  if ((co_await Ready{}) == two) taken = true;
}
struct Member {
  int two = 2;
  Probe condition_in_a_member() {
    if ((co_await Ready{}) == two) taken = true;
  }
};
Probe condition_with_a_local() {
  int two = 2;
  if ((co_await Ready{}) == two) taken = true;
}
Probe condition_with_a_later_local() {
  if ((co_await Ready{}) == 2) taken = true;
  int one = 1;
  taken = taken && one == 1;
}

// Whether the coroutine's handle is its frame. A wrong one is never
// resumed or destroyed: the frame holds only trivial objects before its
// first resumption, so it is freed as memory.
bool handle_is_the_frame(Probe probe) {
  bool same = probe.handle.address() == frame_allocated;
  if (same) {
    probe.handle.destroy();
  } else {
    ::operator delete(frame_allocated);
  }
  return same;
}

TEST(Gcc12Miscompiles, AwaitInAConditionWithoutLocals) {
  EXPECT_TRUE(handle_is_the_frame(condition_with_a_local()));
  EXPECT_TRUE(handle_is_the_frame(condition_with_a_later_local()));

  EXPECT_FALSE(handle_is_the_frame(condition_without_locals()));
  EXPECT_FALSE(handle_is_the_frame(condition_with_a_parameter(2)));
  Member member;
  EXPECT_FALSE(handle_is_the_frame(member.condition_in_a_member()));
}

#endif

}  // namespace
}  // namespace micq
