// Names of enum (or bool) values as flags spell them, one table per enum:
// `std::array<Named<E>, N>`, looked up both ways. add_choice (flag_checks.h)
// makes a flag of one; a command passing the value on to another command
// (bench starting serve) spells it back with name_of.
//
// Example:
//   inline constexpr std::array<Named<Mode>, 2> kModeNames = {{{"on", Mode::kOn}, {"off", Mode::kOff}}};
//   value_named(kModeNames, "on");      // Mode::kOn
//   name_of(kModeNames, Mode::kOff);    // "off"
//   alternatives(kModeNames);           // "on or off"
//
// Thread safety: pure functions over constants.
#ifndef MICQ_SERVICE_NAMED_H_
#define MICQ_SERVICE_NAMED_H_

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace micq::service {

// One name of an enum (or bool) value, as a flag spells it.
template <class E>
struct Named {
  std::string_view name;
  E value;
};

// The flag names of a bool: on and off.
inline constexpr std::array<Named<bool>, 2> kOnOff = {{{"on", true}, {"off", false}}};

// "a, b or c": the names of `names`, leaving out an empty one.
template <class E, std::size_t N>
std::string alternatives(const std::array<Named<E>, N>& names) {
  std::string text;
  std::size_t listed = 0, count = 0;
  for (const auto& named : names) count += named.name.empty() ? 0 : 1;
  for (const auto& named : names) {
    if (named.name.empty()) continue;
    if (listed > 0) text += listed + 1 == count ? " or " : ", ";
    text += named.name;
    ++listed;
  }
  return text;
}

template <class E, std::size_t N>
std::optional<E> value_named(const std::array<Named<E>, N>& names, std::string_view name) {
  for (const auto& named : names)
    if (named.name == name) return named.value;
  return std::nullopt;
}

// REQUIRES: `value` is in `names`.
template <class E, std::size_t N>
std::string_view name_of(const std::array<Named<E>, N>& names, E value) {
  for (const auto& named : names)
    if (named.value == value) return named.name;
  return {};
}

}  // namespace micq::service

#endif  // MICQ_SERVICE_NAMED_H_
