// Checks of a flag's value, attached where the flag is defined, so that a
// command's run() only wires values already known to be good. The same
// checks run on values from the environment (MICQ_<NAME>).
//
// Example:
//   add_flag(*command, "ttl-ms", flags.ttl_ms, "...")->check(in_range(1, 3'600'000));
//   add_flag(*command, "redis", flags.redis, "...")->check(parsed_by(redis::parse_endpoint));
//   add_choice(*command, "strategy", flags.strategy, kStrategyNames, "...");
//
// A check refuses a value with a reason that reads after the flag's name
// ("must be 1..3600000"), or with its parser's message ("bad port in x");
// fail_parse() (command.h) prints them as the one line of SPEC §1:
// "micq serve: --ttl-ms must be 1..3600000", "micq serve: --redis: bad port in x".
//
// An enum flag (add_choice) takes its names from the enum's one table of
// names (named.h), which also gives the name back to a command that passes
// the value on to another (bench starting serve).
//
// Thread safety: used while a command line is built and parsed, on one thread.
#ifndef MICQ_SERVICE_FLAG_CHECKS_H_
#define MICQ_SERVICE_FLAG_CHECKS_H_

#include <CLI/CLI.hpp>
#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "micq/service/command.h"
#include "micq/service/named.h"

namespace micq::service {

namespace flag_checks_internal {

// 3 -> "3", 0.5 -> "0.5", 86400.0 -> "86400".
std::string number_text(double value);
template <class T>
std::string number_text(T value) {
  if constexpr (std::is_floating_point_v<T>) {
    return number_text(static_cast<double>(value));
  } else {
    return std::to_string(value);
  }
}

// True if `text` converts to T the way CLI11 will convert the flag's value.
template <class T>
bool convert(const std::string& text, T& value) {
  return CLI::detail::lexical_cast(text, value);
}

}  // namespace flag_checks_internal

// A number (as CLI11 converts it to T) within [min, max]: "must be min..max".
// A double check refuses NaN.
template <class T>
CLI::Validator in_range(T min, T max) {
  std::string bounds = flag_checks_internal::number_text(min) + ".." + flag_checks_internal::number_text(max);
  return CLI::Validator(
      [min, max, reason = "must be " + bounds](std::string& text) -> std::string {
        T value{};
        if (!flag_checks_internal::convert(text, value) || !(value >= min && value <= max)) return reason;
        return {};
      },
      bounds);
}

// A number of at least `min`: "must be at least min".
template <class T>
CLI::Validator at_least(T min) {
  std::string bound = flag_checks_internal::number_text(min);
  return CLI::Validator(
      [min, reason = "must be at least " + bound](std::string& text) -> std::string {
        T value{};
        if (!flag_checks_internal::convert(text, value) || !(value >= min)) return reason;
        return {};
      },
      ">=" + bound);
}

// A double in (min, max]: "must be more than min and at most max".
CLI::Validator more_than_at_most(double min, double max);

// A value `holds` accepts, else `reason` ("must start with /").
CLI::Validator satisfying(std::function<bool(const std::string&)> holds, std::string reason,
                          std::string description = {});

// A value `parse` accepts: `parse(std::string_view)` returns a
// boost::system::result<T, std::string> (or anything with bool and
// error()), whose error is the reason.
template <class Parse>
CLI::Validator parsed_by(Parse parse, std::string description = {}) {
  return CLI::Validator(
      [parse = std::move(parse)](std::string& text) -> std::string {
        auto parsed = parse(std::string_view(text));
        if (parsed) return {};
        return std::string(parsed.error());
      },
      std::move(description));
}

// `check`, except that an empty value (the flag's "none") passes.
CLI::Validator or_empty(CLI::Validator check);

// Adds --<name> (and MICQ_<NAME>) taking one of `names` into `value`, an
// enum or bool: help lists the names and shows the default's; any other
// value is refused with "must be a, b or c", or with `reason` if given.
template <class E, std::size_t N>
CLI::Option* add_choice(CLI::App& command, const std::string& name, E& value,
                        const std::array<Named<E>, N>& names, const std::string& help,
                        std::string reason = {}) {
  static_assert(std::is_enum_v<E> || std::is_same_v<E, bool>);
  if (reason.empty()) reason = "must be " + alternatives(names);
  std::string listed;
  for (const auto& named : names) {
    if (named.name.empty()) continue;
    listed += (listed.empty() ? "" : ",") + std::string(named.name);
  }
  // CLI11 converts the number an enum (or bool) is, so the name becomes it.
  CLI::Validator to_value(
      [names, reason = std::move(reason)](std::string& text) -> std::string {
        auto named = value_named(names, text);
        if (!named) return reason;
        text = std::to_string(static_cast<long long>(*named));
        return {};
      },
      "{" + listed + "}");
  return add_flag(command, name, value, help)
      ->transform(std::move(to_value))
      ->type_name("TEXT")
      ->default_str(std::string(name_of(names, value)));
}

}  // namespace micq::service

#endif  // MICQ_SERVICE_FLAG_CHECKS_H_
