// Child's blocking facade against real programs (/bin/sh, sleep, ls):
// exit statuses, output capture, argv/env/working directory, terminate and
// its escalation, and that no child and no descriptor is ever left behind.
#include "micq/process/child.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace micq::process {
namespace {

using namespace std::chrono_literals;

Command shell(std::string script) { return Command{.program = "/bin/sh", .args = {"-c", std::move(script)}}; }

Child started(const Command& command) {
  auto child = Child::start(command);
  if (!child) throw std::runtime_error("cannot start " + command.program + ": " + child.error().message());
  return std::move(*child);
}

// A child that runs until it is told to stop: sleep ignores nothing.
Command long_running() { return Command{.program = "sleep", .args = {"30"}}; }

TEST(Child, ExitStatusIsWhatTheChildPassedToExit) {
  Child child = started(shell("exit 3"));
  auto status = child.wait_exit(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, (ExitStatus{3, 0}));
  EXPECT_EQ(status->shell_code(), 3);
  EXPECT_EQ(child.exit_status(), status);
}

TEST(Child, AChildKilledByASignalReportsTheSignal) {
  Child child = started(shell("kill -USR1 $$"));
  auto status = child.wait_exit(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, (ExitStatus{0, SIGUSR1}));
  EXPECT_EQ(status->shell_code(), 128 + SIGUSR1);
}

TEST(Child, StdoutAndStderrAreCapturedInOnePipeAsWritten) {
  Child child = started(shell("echo out; echo err >&2; echo again"));
  ASSERT_TRUE(child.wait_exit(10s));
  EXPECT_EQ(child.output(), "out\nerr\nagain\n");
}

TEST(Child, AStreamDiscardedOrInheritedIsNotCaptured) {
  Command command = shell("echo out; echo err >&2");
  command.stdout_to = Output::kDiscard;
  Child child = started(command);
  ASSERT_TRUE(child.wait_exit(10s));
  EXPECT_EQ(child.output(), "err\n");

  Command uncaptured = shell("exit 0");
  uncaptured.stdout_to = Output::kInherit;
  uncaptured.stderr_to = Output::kDiscard;
  Child quiet = started(uncaptured);
  EXPECT_EQ(quiet.output_fd(), -1);
  EXPECT_EQ(quiet.wait_exit(10s), (ExitStatus{0, 0}));
}

TEST(Child, OutputWrittenBeyondAPipeFullIsReadWhileWaiting) {
  // 1 MiB: sixteen times what a pipe holds; the child exits only once all
  // of it is read.
  Child child = started(shell("head -c 1048576 /dev/zero"));
  EXPECT_EQ(child.wait_exit(20s), (ExitStatus{0, 0}));
  EXPECT_EQ(child.output().size(), 1048576u);
}

TEST(Child, TheChildGetsItsArgvEnvironmentAndWorkingDirectory) {
  ASSERT_EQ(::setenv("MICQ_PROCESS_INHERITED", "kept", 1), 0);
  ASSERT_EQ(::setenv("MICQ_PROCESS_REPLACED", "ours", 1), 0);
  const std::string dir = std::filesystem::canonical(std::filesystem::temp_directory_path()).string();
  Command command =
      shell(R"(echo "$0|$1|$MICQ_PROCESS_INHERITED|$MICQ_PROCESS_REPLACED|$MICQ_PROCESS_ADDED"; pwd)");
  command.args.push_back("zero");
  command.args.push_back("one two");
  command.env = {"MICQ_PROCESS_REPLACED=theirs", "MICQ_PROCESS_ADDED=new"};
  command.working_dir = dir;
  Child child = started(command);
  ASSERT_EQ(child.wait_exit(10s), (ExitStatus{0, 0}));
  EXPECT_EQ(child.output(), "zero|one two|kept|theirs|new\n" + dir + "\n");
}

TEST(Child, AProgramIsLookedUpInThePath) {
  Child child = started(Command{.program = "sh", .args = {"-c", "echo found"}});
  ASSERT_EQ(child.wait_exit(10s), (ExitStatus{0, 0}));
  EXPECT_EQ(child.output(), "found\n");
}

TEST(Child, AMissingProgramIsAnErrorAndLeavesNoChild) {
  auto child = Child::start(Command{.program = "/nonexistent/micq-no-such-program"});
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().value(), ENOENT) << child.error().message();
  int status = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1) << "a child was left to reap";
  EXPECT_EQ(errno, ECHILD);
}

TEST(Child, WaitForLineReturnsTheFirstCompleteLineWithTheNeedle) {
  Child child = started(shell("echo one; echo 'two ready'; echo 'three ready'; exec sleep 30"));
  EXPECT_EQ(child.wait_for_line("ready", 10s), "two ready");
  EXPECT_EQ(child.wait_for_line("three", 10s), "three ready");
  EXPECT_EQ(child.wait_for_line("never written", 50ms), std::nullopt) << "the child still runs: a timeout";
  EXPECT_FALSE(child.exit_status());
}

TEST(Child, WaitForLineEndsWithTheOutput) {
  Child child = started(shell("echo only"));
  EXPECT_EQ(child.wait_for_line("never written", 20s), std::nullopt);
  EXPECT_EQ(child.output_fd(), -1) << "the pipe ended";
}

// Each line once, in order, a repeated one too; a line is returned only
// once complete; wait_for_line does not move read_line on.
TEST(Child, ReadLineReturnsEachCompleteLineOnceInOrder) {
  Child child = started(shell("echo a; echo a; printf 'half'; sleep 0.2; echo ' whole'; exec sleep 30"));
  EXPECT_EQ(child.read_line(10s), "a");
  EXPECT_EQ(child.wait_for_line("whole", 10s), "half whole");
  EXPECT_EQ(child.read_line(10s), "a");
  EXPECT_EQ(child.read_line(10s), "half whole");
  EXPECT_EQ(child.read_line(50ms), std::nullopt) << "the child still runs: a timeout";
  EXPECT_FALSE(child.exit_status());
}

TEST(Child, ReadLineEndsWithTheOutput) {
  Child child = started(shell("echo last"));
  EXPECT_EQ(child.read_line(20s), "last");
  EXPECT_EQ(child.read_line(20s), std::nullopt);
  EXPECT_EQ(child.output_fd(), -1) << "the pipe ended";
}

TEST(Child, WaitExitTimesOutOnARunningChild) {
  Child child = started(long_running());
  EXPECT_EQ(child.wait_exit(50ms), std::nullopt);
  EXPECT_FALSE(child.try_wait());
  EXPECT_TRUE(child.signal(SIGTERM));
  EXPECT_EQ(child.wait_exit(10s), (ExitStatus{0, SIGTERM}));
  EXPECT_FALSE(child.signal(SIGTERM)) << "reaped: nothing to signal";
}

TEST(Child, TerminateEndsAChildThatObeysWithItsSignal) {
  Child child = started(long_running());
  EXPECT_EQ(child.terminate(20s), (ExitStatus{0, SIGTERM}));
}

TEST(Child, TerminateEscalatesToSigkillAfterTheGrace) {
  // SIGTERM ignored, which exec keeps.
  Child child = started(shell("trap '' TERM; echo ready; exec sleep 30"));
  ASSERT_TRUE(child.wait_for_line("ready", 10s)) << child.output();
  auto began = std::chrono::steady_clock::now();
  EXPECT_EQ(child.terminate(200ms), (ExitStatus{0, SIGKILL}));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 200ms) << "SIGKILL only after the grace";
}

TEST(Child, TerminateContinuesAStoppedChild) {
  Child child = started(long_running());
  ASSERT_TRUE(child.signal(SIGSTOP));
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child.pid()), &info, WSTOPPED | WNOWAIT), 0);
  ASSERT_EQ(info.si_code, CLD_STOPPED);
  // Without a SIGCONT the SIGTERM would wait for the whole grace and end in SIGKILL.
  EXPECT_EQ(child.terminate(20s), (ExitStatus{0, SIGTERM}));
}

TEST(Child, DestroyingARunningChildKillsAndReapsIt) {
  pid_t pid = -1;
  {
    Child child = started(long_running());
    pid = child.pid();
    ASSERT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_EQ(::kill(pid, 0), -1) << "still there, or a zombie nobody reaped";
  EXPECT_EQ(errno, ESRCH);
}

TEST(Child, AMovedChildIsStillOwnedOnce) {
  Child first = started(long_running());
  const pid_t pid = first.pid();
  Child second = std::move(first);
  EXPECT_EQ(second.pid(), pid);
  // What a move leaves behind owns nothing.
  EXPECT_EQ(first.pid(), -1);           // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(first.signal(SIGTERM));  // NOLINT(bugprone-use-after-move)
  second = started(shell("exit 0"));    // the first child is killed and reaped here
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(second.wait_exit(10s), (ExitStatus{0, 0}));
}

TEST(Child, TheChildInheritsNoDescriptorButItsThree) {
  // Another child's pipe and pidfd are open here, and a descriptor someone
  // opened without O_CLOEXEC.
  Child other = started(long_running());
  const int inheritable = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(inheritable, 0);
  Command command = shell("ls /proc/$$/fd");  // the shell's own: what it was given
  command.stdin_from = Input::kNull;
  Child child = started(command);
  EXPECT_EQ(child.wait_exit(10s), (ExitStatus{0, 0}));
  ::close(inheritable);
  EXPECT_EQ(child.output(), "0\n1\n2\n");
}

TEST(Child, ItsDescriptorsAreCloseOnExec) {
  // So that no program another thread starts (popen, say) inherits them.
  Child child = started(long_running());
  ASSERT_GE(child.output_fd(), 0);
  EXPECT_TRUE(::fcntl(child.output_fd(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(child.pidfd(), F_GETFD) & FD_CLOEXEC);
}

TEST(Child, AfterCloseOutputTheChildsNextWriteFails) {
  Child child = started(Command{.program = "yes"});  // writes "y" lines until a write fails
  ASSERT_TRUE(child.wait_for_line("y", 10s));
  child.close_output();
  EXPECT_EQ(child.output_fd(), -1);
  EXPECT_EQ(child.wait_for_line("y", 10s), "y") << "what was read is kept";
  EXPECT_EQ(child.wait_exit(10s), (ExitStatus{0, SIGPIPE}));
}

}  // namespace
}  // namespace micq::process
