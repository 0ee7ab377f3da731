// Room ids and uids (SPEC §2): 1 to 64 characters of [A-Za-z0-9_.-], and the
// one sentence every service answers when one is not.
#ifndef MICQ_SERVICE_IDS_H_
#define MICQ_SERVICE_IDS_H_

#include <string>
#include <string_view>

namespace micq::service {

bool is_valid_id(std::string_view id);

// "<what> must be 1 to 64 characters of [A-Za-z0-9_.-]." for the SPEC
// error message of a bad id ("room_id", "uid", "Each uid").
std::string invalid_id_message(std::string_view what);

}  // namespace micq::service

#endif  // MICQ_SERVICE_IDS_H_
