#include "micq/service/ids.h"

#include <algorithm>

namespace micq::service {

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

std::string invalid_id_message(std::string_view what) {
  return std::string(what) + " must be 1 to 64 characters of [A-Za-z0-9_.-].";
}

}  // namespace micq::service
