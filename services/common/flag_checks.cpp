#include "micq/service/flag_checks.h"

#include <cmath>
#include <cstdio>

namespace micq::service {

namespace flag_checks_internal {

std::string number_text(double value) {
  char text[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else {
    std::snprintf(text, sizeof text, "%g", value);
  }
  return text;
}

}  // namespace flag_checks_internal

CLI::Validator more_than_at_most(double min, double max) {
  std::string low = flag_checks_internal::number_text(min), high = flag_checks_internal::number_text(max);
  return CLI::Validator(
      [min, max,
       reason = "must be more than " + low + " and at most " + high](std::string& text) -> std::string {
        double value = 0;
        if (!flag_checks_internal::convert(text, value) || !(value > min && value <= max)) return reason;
        return {};
      },
      "(" + low + ".." + high + "]");
}

CLI::Validator satisfying(std::function<bool(const std::string&)> holds, std::string reason,
                          std::string description) {
  return CLI::Validator(
      [holds = std::move(holds), reason = std::move(reason)](std::string& text) -> std::string {
        if (holds(text)) return {};
        return reason;
      },
      std::move(description));
}

CLI::Validator or_empty(CLI::Validator check) {
  std::string description = check.get_description();
  return CLI::Validator(
      [check = std::move(check)](std::string& text) -> std::string {
        if (text.empty()) return {};
        return check(text);
      },
      std::move(description));
}

}  // namespace micq::service
