// The {"uids":[...]} request body shared by the aggregator and the sim.
#ifndef MICQ_SERVICE_UID_BATCH_H_
#define MICQ_SERVICE_UID_BATCH_H_

#include <boost/system/result.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace micq::service {

// Parses and validates a batch body: a JSON object whose "uids" is an array
// of 1..max_uids valid ids (SPEC §2 rule); other members are ignored. The
// error message says what is wrong, for a 400.
boost::system::result<std::vector<std::string>, std::string> parse_uid_batch(std::string_view body,
                                                                             std::size_t max_uids);

// {"uids":["u1","u2"]}
std::string uid_batch_json(const std::vector<std::string>& uids);

}  // namespace micq::service

#endif  // MICQ_SERVICE_UID_BATCH_H_
