#include "prometheus_text.h"

#include <charconv>
#include <cmath>

namespace micq::bench {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// A sample value: a float as Go's strconv writes it, or +Inf / -Inf / NaN.
std::optional<double> parse_value(std::string_view text) {
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<double> prometheus_value(std::string_view exposition, std::string_view series) {
  if (series.empty()) return std::nullopt;
  while (!exposition.empty()) {
    auto newline = exposition.find('\n');
    std::string_view line = exposition.substr(0, newline);
    exposition = newline == std::string_view::npos ? std::string_view() : exposition.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // The series must be followed by the blank before the value: that is
    // what keeps "name" from matching "name_total" or "name{...}".
    if (line.size() <= series.size() || line.substr(0, series.size()) != series ||
        !is_blank(line[series.size()]))
      continue;
    std::string_view rest = line.substr(series.size());
    while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
    std::size_t end = 0;
    while (end < rest.size() && !is_blank(rest[end])) ++end;
    return parse_value(rest.substr(0, end));
  }
  return std::nullopt;
}

}  // namespace micq::bench
