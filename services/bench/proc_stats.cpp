#include "proc_stats.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace micq::bench {

std::optional<double> cpu_seconds_from_stat(std::string_view stat, long ticks_per_second) {
  // "pid (comm) state ppid ..." — fields after the last ')' start at field 3;
  // utime and stime are fields 14 and 15 (proc(5)).
  auto close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::istringstream rest{std::string(stat.substr(close + 1))};
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int index = 3; index <= 15 && rest >> field; ++index) {
    if (index == 14 || index == 15) {
      unsigned long long value = 0;
      auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
      if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
      (index == 14 ? utime : stime) = value;
      if (index == 15) return static_cast<double>(utime + stime) / static_cast<double>(ticks_per_second);
    }
  }
  return std::nullopt;
}

std::optional<double> cpu_seconds_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  return cpu_seconds_from_stat(stat, sysconf(_SC_CLK_TCK));
}

namespace {

// Socket inodes listening on `port` in one /proc/net/tcp-style table.
void listening_inodes(const char* table, int port, std::vector<std::string>& inodes) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >>
          inode))
      continue;
    auto colon = local.rfind(':');
    if (colon == std::string::npos || state != "0A") continue;  // 0A: TCP_LISTEN
    int local_port = -1;
    std::from_chars(local.data() + colon + 1, local.data() + local.size(), local_port, 16);
    if (local_port == port) inodes.push_back("socket:[" + inode + "]");
  }
}

}  // namespace

std::optional<pid_t> pid_listening_on(int port) {
  std::vector<std::string> inodes;
  listening_inodes("/proc/net/tcp", port, inodes);
  listening_inodes("/proc/net/tcp6", port, inodes);
  if (inodes.empty()) return std::nullopt;
  // Processes come and go while we look: every step takes an error_code
  // (increment() too), so a vanished one is skipped, never thrown over.
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::directory_iterator process("/proc", ec), end; !ec && process != end; process.increment(ec)) {
    const std::string name = process->path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code fd_ec;
    for (fs::directory_iterator fd(process->path() / "fd", fd_ec); !fd_ec && fd != end; fd.increment(fd_ec)) {
      std::error_code link_ec;
      auto target = fs::read_symlink(fd->path(), link_ec).string();
      if (link_ec) continue;
      for (const auto& inode : inodes)
        if (target == inode) return static_cast<pid_t>(std::stol(name));
    }
  }
  return std::nullopt;
}

}  // namespace micq::bench
