#include "record.h"

#include <array>

namespace micq::sim {
namespace {

std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 1469598103934665603ULL) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

// splitmix64: a tiny deterministic generator seeded by the record's key.
struct Draws {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

constexpr std::array<std::string_view, 24> kWords = {
    "golden",  "star",  "crown",   "blaze",  "silver", "dragon", "moon",    "rose",
    "thunder", "jade",  "phoenix", "ocean",  "royal",  "storm",  "crystal", "lotus",
    "ember",   "frost", "nova",    "aurora", "tiger",  "sakura", "comet",   "velvet"};

void add_string(rapidjson::Writer<rapidjson::StringBuffer>& writer, std::string_view text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

}  // namespace

void write_record(rapidjson::Writer<rapidjson::StringBuffer>& writer, const RecordKey& key,
                  std::size_t payload_bytes) {
  Draws draws{fnv1a(key.uid, fnv1a(key.kind)) ^ (key.gen * 0x9e3779b97f4a7c15ULL)};
  unsigned level = 1 + static_cast<unsigned>(draws.below(100));
  char hex[7];
  std::snprintf(hex, sizeof hex, "%06llx", static_cast<unsigned long long>(draws.below(0x1000000)));
  std::string icon =
      "https://cdn.micq.example/" + std::string(key.kind) + "/" + std::to_string(level) + "-" + hex + ".png";
  std::string title = std::string(kWords[draws.below(kWords.size())]) + " " +
                      std::string(kWords[draws.below(kWords.size())]) + " " + std::to_string(level);
  std::int64_t expires_at = 1767225600 + static_cast<std::int64_t>(draws.below(90 * 86400));

  // The fixed fields take ~250 bytes; "text" pads the record to size.
  std::size_t fixed = 160 + key.kind.size() * 2 + key.uid.size() + icon.size() + title.size();
  std::size_t text_size = payload_bytes > fixed ? payload_bytes - fixed : 0;
  std::string text;
  text.reserve(text_size + 16);
  while (text.size() < text_size) {
    if (!text.empty()) text += ' ';
    text += kWords[draws.below(kWords.size())];
  }
  text.resize(text_size);

  writer.StartObject();
  writer.Key("kind");
  add_string(writer, key.kind);
  writer.Key("uid");
  add_string(writer, key.uid);
  writer.Key("gen");
  writer.Uint64(key.gen);
  writer.Key("level");
  writer.Uint(level);
  writer.Key("icon");
  add_string(writer, icon);
  writer.Key("title");
  add_string(writer, title);
  writer.Key("color");
  add_string(writer, std::string("#") + hex);
  writer.Key("active");
  writer.Bool(draws.below(10) != 0);
  writer.Key("expires_at");
  writer.Int64(expires_at);
  writer.Key("text");
  add_string(writer, text);
  writer.EndObject();
}

std::string make_record(const RecordKey& key, std::size_t payload_bytes) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  write_record(writer, key, payload_bytes);
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace micq::sim
