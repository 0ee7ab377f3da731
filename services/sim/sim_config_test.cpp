#include "sim_config.h"

#include <gtest/gtest.h>

namespace micq::sim {
namespace {

TEST(SimConfig, UpdateChangesOnlyTheSettingsGiven) {
  SimConfig current;
  current.latency_ms = 7;
  auto next = parse_config_update(R"({"error_rate":0.25,"payload_bytes":300})", current);
  ASSERT_TRUE(next) << next.error();
  EXPECT_EQ(next->error_rate, 0.25);
  EXPECT_EQ(next->payload_bytes, 300u);
  EXPECT_EQ(next->latency_ms, 7) << "not in the body: kept";
}

TEST(SimConfig, BadBodiesAreSentences) {
  SimConfig current;
  EXPECT_EQ(parse_config_update("[1]", current).error(), "The body must be a JSON object.");
  EXPECT_EQ(parse_config_update("{", current).error(), "The body must be a JSON object.");
  EXPECT_EQ(parse_config_update(R"({"latency_ms":"5"})", current).error(), "latency_ms must be a number.");
  EXPECT_EQ(parse_config_update(R"({"payload_bytes":1.5})", current).error(),
            "payload_bytes must be 1..1048576.");
  EXPECT_EQ(parse_config_update(R"({"colour":1})", current).error(), "Unknown setting colour.");
  EXPECT_EQ(parse_config_update(R"({"error_rate":2})", current).error(), "error_rate must be 0..1.");
}

TEST(SimConfig, AnswerReadsBackUnchanged) {
  SimConfig config{4096, 12.5, 0.1, 1.0 / 3, 1e-9};
  auto back = parse_config_update(config_json(config), SimConfig{});
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->payload_bytes, config.payload_bytes);
  EXPECT_EQ(back->latency_ms, config.latency_ms);
  EXPECT_EQ(back->jitter_ms, config.jitter_ms);
  EXPECT_EQ(back->error_rate, config.error_rate);
  EXPECT_EQ(back->timeout_rate, config.timeout_rate);
}

}  // namespace
}  // namespace micq::sim
