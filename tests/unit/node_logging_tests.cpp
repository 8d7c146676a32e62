// libcore/node/logging: what the sink writes, read back from a log file.
// One record is one line in both formats, whatever the message holds
// (DESIGN.md section 11: a newline can never forge a log line); records
// logged with util::log_event carry their event and typed fields in JSON.

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "libcore/node/logging.hpp"
#include "libcore/util/printable.hpp"
#include "test_support.hpp"

namespace {

// What a hostile peer might get into a message if nothing escaped it: a
// line break, then a line in each format's own shape, a terminal escape,
// a JSON breakout, invalid UTF-8.
const std::string kForged =
    "bye\n2026-01-01T00:00:00.000Z warning p2p: banned 00ff for 1h: forged\r\n"
    "{\"time\":\"2026-01-01T00:00:00.000Z\",\"level\":\"warning\",\"msg\":\"forged\"}\n"
    "\x1b[2J\" \\ \xff\xc3 end";

// Restores the default logger the tests found (configure_logging replaces it).
class LoggerGuard {
 public:
  LoggerGuard() : saved_(spdlog::default_logger()) {}
  ~LoggerGuard() { spdlog::set_default_logger(saved_); }
  LoggerGuard(const LoggerGuard&) = delete;
  LoggerGuard& operator=(const LoggerGuard&) = delete;

 private:
  std::shared_ptr<spdlog::logger> saved_;
};

// Runs `log` with the logger configure_logging(format, level) installs,
// writing into a file, and returns the file's lines (split on '\n' only; the
// last one is empty).
std::vector<std::string> lines_of(core::config::LogFormat format, const std::function<void()>& log,
                                  const std::string& level = "info") {
  test::TempDir dir;
  const auto path = dir / "tnode.log";
  {
    LoggerGuard guard;
    REQUIRE(core::node::configure_logging(level, format, path).has_value());
    log();
    spdlog::default_logger()->flush();
  }
  const auto text = test::read_text(path);
  std::vector<std::string> lines;
  std::size_t begin = 0;
  for (std::size_t end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1)
    lines.push_back(text.substr(begin, end - begin));
  lines.push_back(text.substr(begin));
  return lines;
}

// Logs `messages` at info (as a close with the peer's detail) and returns the lines.
std::vector<std::string> log_lines(core::config::LogFormat format, const std::vector<std::string>& messages) {
  return lines_of(format, [&] {
    for (const auto& m : messages) spdlog::info("p2p: closed inbound 00ff: protocol_error (by peer: {})", m);
  });
}

// The JSON object on `line`; fails the test unless it is one.
nlohmann::json parse_record(const std::string& line) {
  INFO(line);
  auto j = nlohmann::json::parse(line, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  REQUIRE(j.is_object());
  return j;
}

// The keys of a JSON object in the order the line holds them.
std::vector<std::string> keys_in_order(const std::string& line) {
  std::vector<std::string> keys;
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(line);
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  return keys;
}

}  // namespace

// A format argument that counts how often it is formatted.
struct CountedFormat {
  int* count;
};
template <>
struct fmt::formatter<CountedFormat> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const CountedFormat& c, FormatContext& ctx) const {
    ++*c.count;
    return fmt::formatter<std::string_view>::format("counted", ctx);
  }
};

TEST_CASE("text log: a message with line breaks stays one line, escaped", "[unit][node]") {
  const auto lines = log_lines(core::config::LogFormat::Text, {kForged, "plain C:\\path"});
  REQUIRE(lines.size() == 3);
  CHECK(lines[2].empty());
  const std::regex record(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info p2p: closed inbound 00ff: .*)");
  for (std::size_t i = 0; i < 2; ++i) {
    INFO(lines[i]);
    CHECK(std::regex_match(lines[i], record));
    CHECK(lines[i].find('\r') == std::string::npos);
    CHECK(lines[i].find('\x1b') == std::string::npos);
  }
  CHECK(lines[0].ends_with("(by peer: " + core::util::one_line(kForged) + ")"));
  CHECK_THAT(lines[0], Catch::Matchers::Contains("bye\\n2026-01-01T00:00:00.000Z warning p2p: banned"));
  CHECK_THAT(lines[0], Catch::Matchers::Contains("\\x1b[2J\" \\ \\xff\\xc3 end"));
  // Text without controls is written as it was logged (backslashes too).
  CHECK(lines[1].ends_with("(by peer: plain C:\\path)"));
}

TEST_CASE("text log: text already made printable is not escaped twice", "[unit][node]") {
  const auto printable = core::util::printable(kForged, 1024);
  const auto lines = log_lines(core::config::LogFormat::Text, {printable});
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].ends_with("(by peer: " + printable + ")"));
}

TEST_CASE("json log: one valid object per line, msg without control characters", "[unit][node]") {
  const auto lines = log_lines(core::config::LogFormat::Json, {kForged, "quote \" and backslash \\"});
  REQUIRE(lines.size() == 3);
  CHECK(lines[2].empty());
  std::vector<nlohmann::json> records;
  for (std::size_t i = 0; i < 2; ++i) {
    INFO(lines[i]);
    auto j = nlohmann::json::parse(lines[i], nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    REQUIRE(j.is_object());
    CHECK(j.size() == 3);
    CHECK(j["level"] == "info");
    CHECK(std::regex_match(j["time"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    records.push_back(j);
  }
  const auto msg = records[0]["msg"].get<std::string>();
  CHECK(msg == "p2p: closed inbound 00ff: protocol_error (by peer: " + core::util::one_line(kForged) + ")");
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(records[0]["msg"] != "forged");
  CHECK(records[1]["msg"] == "p2p: closed inbound 00ff: protocol_error (by peer: quote \" and backslash \\)");
}

TEST_CASE("json log: an event's fields follow msg, typed", "[unit][node]") {
  const std::string id(64, 'a');
  const std::uint64_t height = 18'446'744'073'709'551'615ULL;  // beyond int64: still a number
  const auto lines = lines_of(core::config::LogFormat::Json, [&] {
    core::util::log_event(spdlog::level::info, "peer_connected",
                          {{"peer", id},
                           {"addr", std::string("127.0.0.1:24100")},
                           {"height", height},
                           {"offset", -5},
                           {"ratio", 0.25},
                           {"by_peer", true},
                           {"eta_s", std::optional<double>()},
                           {"view", std::string_view("sv")}},
                          "p2p: connected outbound {} at {}", id.substr(0, 16), "127.0.0.1:24100");
  });
  REQUIRE(lines.size() == 2);
  const auto j = parse_record(lines[0]);
  CHECK(keys_in_order(lines[0]) == std::vector<std::string>{"time", "level", "msg", "event", "peer", "addr", "height",
                                                            "offset", "ratio", "by_peer", "eta_s", "view"});
  CHECK(j["level"] == "info");
  CHECK(j["msg"] == "p2p: connected outbound " + id.substr(0, 16) + " at 127.0.0.1:24100");
  CHECK(j["event"] == "peer_connected");
  CHECK(j["peer"] == id);
  CHECK(j["addr"] == "127.0.0.1:24100");
  REQUIRE(j["height"].is_number_unsigned());
  CHECK(j["height"].get<std::uint64_t>() == height);
  REQUIRE(j["offset"].is_number_integer());
  CHECK(j["offset"].get<std::int64_t>() == -5);
  REQUIRE(j["ratio"].is_number_float());
  CHECK(j["ratio"].get<double>() == 0.25);
  REQUIRE(j["by_peer"].is_boolean());
  CHECK(j["by_peer"] == true);
  CHECK(j["eta_s"].is_null());
  CHECK(j["view"] == "sv");
  // The raw line holds the numbers as numbers, not as strings.
  CHECK_THAT(lines[0], Catch::Matchers::Contains("\"height\":18446744073709551615,"));
}

TEST_CASE("json log: field text from a peer is escaped like msg", "[unit][node]") {
  const auto lines = lines_of(core::config::LogFormat::Json, [] {
    core::util::log_event(spdlog::level::info, "peer_disconnected", {{"reason", "protocol_error"}, {"detail", kForged}},
                          "p2p: closed inbound 00ff: protocol_error (by peer: {})", kForged);
  });
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].empty());
  const auto j = parse_record(lines[0]);
  CHECK(j["detail"] == core::util::one_line(kForged));
  CHECK(j["detail"].get<std::string>().find('\n') == std::string::npos);
  CHECK(j["msg"] == "p2p: closed inbound 00ff: protocol_error (by peer: " + core::util::one_line(kForged) + ")");
  CHECK(lines[0].find('\x1b') == std::string::npos);
  CHECK(lines[0].find('\r') == std::string::npos);
}

TEST_CASE("json log: a field never replaces time, level, msg, event or an earlier field", "[unit][node]") {
  const auto lines = lines_of(core::config::LogFormat::Json, [] {
    core::util::log_event(spdlog::level::warn, "peer_banned",
                          {{"time", "2026-01-01T00:00:00.000Z"},
                           {"level", "info"},
                           {"msg", "forged"},
                           {"event", "forged"},
                           {"peer", "first"},
                           {"peer", "second"},
                           {"reason", "score"}},
                          "p2p: banned 00ff for 1h: score");
  });
  REQUIRE(lines.size() == 2);
  const auto j = parse_record(lines[0]);
  CHECK(keys_in_order(lines[0]) == std::vector<std::string>{"time", "level", "msg", "event", "peer", "reason"});
  CHECK(j["time"] != "2026-01-01T00:00:00.000Z");
  CHECK(j["level"] == "warning");
  CHECK(j["msg"] == "p2p: banned 00ff for 1h: score");
  CHECK(j["event"] == "peer_banned");
  CHECK(j["peer"] == "first");
}

TEST_CASE("json log: records without an event keep time, level, msg only", "[unit][node]") {
  const auto lines = lines_of(core::config::LogFormat::Json, [] {
    core::util::log_event(spdlog::level::info, "block_produced", {{"height", 7}}, "chain: produced block at height 7");
    spdlog::info("p2p: forgot 1 static peer(s) no longer in network.peers");
  });
  REQUIRE(lines.size() == 3);
  CHECK(parse_record(lines[0])["height"] == 7);
  CHECK(keys_in_order(lines[1]) == std::vector<std::string>{"time", "level", "msg"});
  CHECK(parse_record(lines[1])["msg"] == "p2p: forgot 1 static peer(s) no longer in network.peers");
}

TEST_CASE("json log: a non-finite real is null", "[unit][node]") {
  const auto lines = lines_of(core::config::LogFormat::Json, [] {
    core::util::log_event(spdlog::level::info, "sync_progress",
                          {{"blocks_per_s", std::numeric_limits<double>::infinity()}}, "sync: progress");
  });
  REQUIRE(lines.size() == 2);
  CHECK(parse_record(lines[0])["blocks_per_s"].is_null());
}

TEST_CASE("text log: an event's record is its message only", "[unit][node]") {
  const auto lines = lines_of(core::config::LogFormat::Text, [] {
    core::util::log_event(spdlog::level::info, "block_produced", {{"height", 7}, {"hash", "abcd"}},
                          "chain: produced block {} at height {} in slot {}", "abcd", 7, 9);
    core::util::log_event(spdlog::level::info, "peer_disconnected", {{"detail", kForged}}, "p2p: closed: {}", kForged);
  });
  REQUIRE(lines.size() == 3);
  const std::regex record(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info chain: produced block abcd at height 7 in slot 9$)");
  CHECK(std::regex_match(lines[0], record));
  CHECK(lines[1].ends_with("info p2p: closed: " + core::util::one_line(kForged)));
}

TEST_CASE("log_event: below the logger's level nothing is formatted or written", "[unit][node]") {
  int formatted = 0;
  const auto lines = lines_of(core::config::LogFormat::Json, [&] {
    core::util::log_event(spdlog::level::debug, "dial_started", {{"addr", "127.0.0.1:1"}}, "p2p: dialling {}",
                          CountedFormat{&formatted});
    core::util::log_event(spdlog::level::info, "dial_failed", {{"addr", "127.0.0.1:1"}}, "p2p: dial {} failed",
                          CountedFormat{&formatted});
  });
  CHECK(formatted == 1);
  REQUIRE(lines.size() == 2);
  const auto j = parse_record(lines[0]);
  CHECK(j["event"] == "dial_failed");
  CHECK(j["msg"] == "p2p: dial counted failed");
  // After the record, the thread holds no event: a plain record stays plain.
  CHECK(core::util::current_log_event() == nullptr);
}
