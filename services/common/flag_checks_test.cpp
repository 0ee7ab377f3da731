#include "micq/service/flag_checks.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "micq/service/serve_modes.h"

namespace micq::service {
namespace {

// Parses `micq cmd <args>` with the flags `define` gives "cmd": "" if the
// line is accepted, else the one line micq prints for it.
std::string refusal(const std::function<void(CLI::App&)>& define, std::vector<std::string> args) {
  CLI::App app;
  define(*app.add_subcommand("cmd"));
  args.insert(args.begin(), {"micq", "cmd"});
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return parse_failure(app, e);
  }
  return "";
}

TEST(FlagChecks, InRangeAcceptsItsBoundsAndRefusesPastThemWithTheRange) {
  int ttl_ms = 1000;
  auto define = [&](CLI::App& cmd) { add_flag(cmd, "ttl-ms", ttl_ms, "")->check(in_range(1, 3'600'000)); };
  EXPECT_EQ(refusal(define, {"--ttl-ms", "1"}), "");
  EXPECT_EQ(ttl_ms, 1);
  EXPECT_EQ(refusal(define, {"--ttl-ms", "3600000"}), "");
  EXPECT_EQ(refusal(define, {"--ttl-ms", "0"}), "micq cmd: --ttl-ms must be 1..3600000");
  EXPECT_EQ(refusal(define, {"--ttl-ms=3600001"}), "micq cmd: --ttl-ms must be 1..3600000");
  EXPECT_EQ(refusal(define, {"--ttl-ms", "soon"}), "micq cmd: --ttl-ms must be 1..3600000");
  EXPECT_EQ(refusal(define, {"--ttl-ms", "99999999999"}), "micq cmd: --ttl-ms must be 1..3600000")
      << "past int, not wrapped into range";
}

TEST(FlagChecks, DoubleRangesRefuseNanAndTheOpenBound) {
  double rate = 0, seconds = 3;
  auto define = [&](CLI::App& cmd) {
    add_flag(cmd, "error-rate", rate, "")->check(in_range(0.0, 1.0));
    add_flag(cmd, "poll-seconds", seconds, "")->check(more_than_at_most(0, 3600));
  };
  EXPECT_EQ(refusal(define, {"--error-rate", "0.5"}), "");
  EXPECT_DOUBLE_EQ(rate, 0.5);
  EXPECT_EQ(refusal(define, {"--error-rate", "nan"}), "micq cmd: --error-rate must be 0..1");
  EXPECT_EQ(refusal(define, {"--error-rate", "2"}), "micq cmd: --error-rate must be 0..1");
  EXPECT_EQ(refusal(define, {"--poll-seconds", "3600"}), "");
  EXPECT_EQ(refusal(define, {"--poll-seconds", "0"}),
            "micq cmd: --poll-seconds must be more than 0 and at most 3600");
  EXPECT_EQ(refusal(define, {"--poll-seconds", "nan"}),
            "micq cmd: --poll-seconds must be more than 0 and at most 3600");
}

TEST(FlagChecks, AtLeastRefusesBelow) {
  long long bytes = 5;
  auto define = [&](CLI::App& cmd) { add_flag(cmd, "min-bytes", bytes, "")->check(at_least(0LL)); };
  EXPECT_EQ(refusal(define, {"--min-bytes", "0"}), "");
  EXPECT_EQ(refusal(define, {"--min-bytes", "-1"}), "micq cmd: --min-bytes must be at least 0");
}

TEST(FlagChecks, ValuesFromTheEnvironmentAreCheckedToo) {
  int ttl_ms = 1000;
  auto define = [&](CLI::App& cmd) { add_flag(cmd, "ttl-ms", ttl_ms, "")->check(in_range(1, 3'600'000)); };
  ::setenv("MICQ_TTL_MS", "0", 1);
  std::string line = refusal(define, {});
  ::unsetenv("MICQ_TTL_MS");
  EXPECT_EQ(line, "micq cmd: --ttl-ms must be 1..3600000");
}

TEST(FlagChecks, ParserErrorsFollowTheFlagAfterAColonUnlessTheyNameIt) {
  std::string address = "127.0.0.1:6379", empty_allowed;
  auto endpoint = [](std::string_view text) {
    using Result = boost::system::result<int, std::string>;
    if (text.find(':') == std::string_view::npos)
      return Result(boost::system::in_place_error, "expected host:port, got " + std::string(text));
    return Result(1);
  };
  auto define = [&](CLI::App& cmd) {
    add_flag(cmd, "redis", address, "")->check(parsed_by(endpoint));
    add_flag(cmd, "cluster", empty_allowed, "")->check(or_empty(parsed_by(endpoint)));
    add_flag(cmd, "listen", address, "")->check(parsed_by(parse_listen));
  };
  EXPECT_EQ(refusal(define, {"--redis", "nohost"}), "micq cmd: --redis: expected host:port, got nohost");
  EXPECT_EQ(refusal(define, {"--redis", ""}), "micq cmd: --redis: expected host:port, got ");
  EXPECT_EQ(refusal(define, {"--cluster", ""}), "") << "empty: none";
  EXPECT_EQ(refusal(define, {"--cluster", "x"}), "micq cmd: --cluster: expected host:port, got x");
  EXPECT_EQ(refusal(define, {"--listen", "nowhere"}),
            "micq cmd: --listen must be address:port, got 'nowhere'");
}

TEST(FlagChecks, SatisfyingRefusesWithItsReason) {
  std::string path;
  auto define = [&](CLI::App& cmd) {
    add_flag(cmd, "path", path, "")
        ->check(satisfying([](const std::string& p) { return p.front() == '/'; }, "must start with /"));
  };
  EXPECT_EQ(refusal(define, {"--path", "/x"}), "");
  EXPECT_EQ(refusal(define, {"--path", "x"}), "micq cmd: --path must start with /");
}

TEST(FlagChecks, ChoiceMapsNamesToTheEnumAndRefusesOthersListingThem) {
  Strategy strategy = Strategy::kCached;
  auto define = [&](CLI::App& cmd) { add_choice(cmd, "strategy", strategy, kStrategyNames, ""); };
  EXPECT_EQ(refusal(define, {"--strategy", "singleflight"}), "");
  EXPECT_EQ(strategy, Strategy::kSingleflight);
  EXPECT_EQ(refusal(define, {"--strategy", "direct"}), "");
  EXPECT_EQ(strategy, Strategy::kDirect);
  EXPECT_EQ(refusal(define, {"--strategy", "fastest"}),
            "micq cmd: --strategy must be direct, singleflight or cached");
  EXPECT_EQ(refusal(define, {"--strategy", "1"}),
            "micq cmd: --strategy must be direct, singleflight or cached")
      << "the enum's number is not a name";
}

TEST(FlagChecks, ChoiceOfABoolIsOnOrOff) {
  bool l2 = false;
  auto define = [&](CLI::App& cmd) { add_choice(cmd, "l2", l2, kOnOff, ""); };
  EXPECT_EQ(refusal(define, {"--l2", "on"}), "");
  EXPECT_TRUE(l2);
  EXPECT_EQ(refusal(define, {"--l2", "off"}), "");
  EXPECT_FALSE(l2);
  EXPECT_EQ(refusal(define, {"--l2", "maybe"}), "micq cmd: --l2 must be on or off");
  EXPECT_EQ(refusal(define, {"--l2", "true"}), "micq cmd: --l2 must be on or off");
}

TEST(FlagChecks, ChoiceKeepsAGivenReasonAndShowsTheDefaultByName) {
  JsonEngine json = JsonEngine::kBaseline;
  CLI::App app;
  auto* option = add_choice(app, "json", json, kJsonNames, "", "must be fast or baseline (nlohmann)");
  EXPECT_EQ(option->get_default_str(), "baseline");
  EXPECT_NE(app.help().find("{fast,baseline}"), std::string::npos) << app.help();
  auto define = [&](CLI::App& cmd) {
    add_choice(cmd, "json", json, kJsonNames, "", "must be fast or baseline (nlohmann)");
  };
  EXPECT_EQ(refusal(define, {"--json", "simd"}), "micq cmd: --json must be fast or baseline (nlohmann)");
}

TEST(FlagChecks, OtherParseErrorsKeepCli11sReason) {
  int ttl_ms = 1;
  auto define = [&](CLI::App& cmd) { add_flag(cmd, "ttl-ms", ttl_ms, ""); };
  std::string line = refusal(define, {"--bogus", "1"});
  EXPECT_EQ(line.rfind("micq: ", 0), 0u) << line;
  EXPECT_NE(line.find("--bogus"), std::string::npos) << line;
  EXPECT_NE(line.find("(see --help)"), std::string::npos) << line;
}

TEST(Named, NamesAndValuesBothWays) {
  EXPECT_EQ(value_named(kStrategyNames, "cached"), Strategy::kCached);
  EXPECT_FALSE(value_named(kStrategyNames, "Cached"));
  EXPECT_EQ(name_of(kJsonNames, JsonEngine::kBaseline), "baseline");
  EXPECT_EQ(alternatives(kOnOff), "on or off");
  constexpr std::array<Named<int>, 3> with_empty = {{{"", 0}, {"a", 1}, {"b", 2}}};
  EXPECT_EQ(alternatives(with_empty), "a or b") << "an empty name (the flag left out) is not listed";
}

}  // namespace
}  // namespace micq::service
