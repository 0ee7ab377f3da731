// The downstream privilege kinds (SPEC §1): the built-in names, and the
// --kinds flag, which is a count N (the first N names) or a comma list.
#ifndef MICQ_SERVICE_KINDS_H_
#define MICQ_SERVICE_KINDS_H_

#include <boost/system/result.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace micq::service {

std::span<const std::string_view> builtin_kinds();

// "24" -> the first 24 built-in names; "vip,medal" -> those two. Unknown
// names, duplicates, 0, or more than the built-in count are errors (the
// message names the culprit).
boost::system::result<std::vector<std::string>, std::string> parse_kinds(std::string_view flag);

}  // namespace micq::service

#endif  // MICQ_SERVICE_KINDS_H_
