#include "process.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace micq::testing {

namespace {

process::Child started(Program program, std::vector<std::string> args, std::vector<std::string> env) {
  process::Command command{
      .program = std::move(program.path), .args = std::move(args), .env = std::move(env)};
  auto child = process::Child::start(command);
  if (!child) throw std::runtime_error("posix_spawn failed: " + child.error().message());
  return std::move(*child);
}

std::optional<int> shell_code(const std::optional<process::ExitStatus>& status) {
  if (!status) return std::nullopt;
  return status->shell_code();
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> args, std::vector<std::string> env)
    : ChildProcess(Program{MICQ_BINARY}, std::move(args), std::move(env)) {}

ChildProcess::ChildProcess(Program program, std::vector<std::string> args, std::vector<std::string> env)
    : child_(started(std::move(program), std::move(args), std::move(env))) {}

std::optional<std::string> ChildProcess::wait_for_line(std::string_view needle,
                                                       std::chrono::milliseconds timeout) {
  return child_.wait_for_line(needle, timeout);
}

int ChildProcess::wait_listening(std::chrono::milliseconds timeout) {
  auto line = wait_for_line("listening on", timeout);
  if (!line) return 0;
  auto colon = line->rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(line->c_str() + colon + 1);
}

std::optional<std::string> ChildProcess::read_line(std::chrono::milliseconds timeout) {
  return child_.read_line(timeout);
}

void ChildProcess::signal(int signo) { child_.signal(signo); }

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  return shell_code(child_.wait_exit(timeout));
}

std::optional<int> ChildProcess::terminate(std::chrono::milliseconds timeout) {
  signal(SIGTERM);
  return wait_exit(timeout);
}

Service start_service(std::vector<std::string> args, std::vector<std::string> env) {
  bool has_listen = false;
  for (const auto& a : args) has_listen = has_listen || a == "--listen";
  if (!has_listen) {
    args.push_back("--listen");
    args.push_back("127.0.0.1:0");
  }
  Service service;
  service.process = std::make_unique<ChildProcess>(std::move(args), std::move(env));
  service.port = service.process->wait_listening();
  if (service.port == 0) {
    throw std::runtime_error("service did not start listening; output:\n" + service.process->output());
  }
  return service;
}

std::string output_of(Program program, std::vector<std::string> args, std::chrono::milliseconds timeout) {
  process::Command command{.program = std::move(program.path), .args = std::move(args)};
  command.stdin_from = process::Input::kNull;  // a tool run to its end reads nothing of ours
  auto started_child = process::Child::start(command);
  if (!started_child) throw std::runtime_error("posix_spawn failed: " + started_child.error().message());
  process::Child child = std::move(*started_child);
  if (!child.wait_exit(timeout)) child.terminate(std::chrono::seconds(1), SIGKILL);
  return child.output();
}

std::string redis_cli(int port, const std::string& words) {
  std::vector<std::string> args = {"-p", std::to_string(port)};
  std::istringstream split(words);
  for (std::string word; split >> word;) args.push_back(word == "\"\"" ? std::string() : word);
  return output_of(Program{"redis-cli"}, std::move(args));
}

std::vector<int> children_of(int parent) {
  std::vector<int> children;
  std::error_code ec;
  for (std::filesystem::directory_iterator entry("/proc", ec), end; !ec && entry != end;
       entry.increment(ec)) {
    int pid = std::atoi(entry->path().filename().c_str());
    if (pid <= 0) continue;
    std::ifstream stat(entry->path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos || close + 4 >= text.size()) continue;
    if (std::atoi(text.c_str() + close + 4) == parent) children.push_back(pid);
  }
  return children;
}

bool alive(int pid) { return ::kill(pid, 0) == 0; }

}  // namespace micq::testing
