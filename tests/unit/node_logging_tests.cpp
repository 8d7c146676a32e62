// libcore/node/logging: what the sink writes, read back from a log file.
// One record is one line in both formats, whatever the message holds
// (DESIGN.md section 11: a newline can never forge a log line).

#include <catch2/catch.hpp>

#include <memory>
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

// Logs `messages` at info through configure_logging(format) into a file and
// returns the file's lines (split on '\n' only; the last one is empty).
std::vector<std::string> log_lines(core::config::LogFormat format, const std::vector<std::string>& messages) {
  test::TempDir dir;
  const auto path = dir / "tnode.log";
  {
    LoggerGuard guard;
    REQUIRE(core::node::configure_logging("info", format, path).has_value());
    for (const auto& m : messages) spdlog::info("p2p: closed inbound 00ff: protocol_error (by peer: {})", m);
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

}  // namespace

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
