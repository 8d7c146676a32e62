#include "libcore/node/logging.hpp"

#include <chrono>
#include <cmath>
#include <memory>
#include <type_traits>
#include <variant>

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "libcore/util/log_event.hpp"
#include "libcore/util/printable.hpp"
#include "libcore/util/time.hpp"

namespace core::node {

namespace {

// Peer-supplied text is made printable where it enters the node (wire.hpp);
// the sink makes sure of it anyway, for whatever a log call was handed: one
// record is one line, in both formats. Messages go through util::one_line
// (control characters and invalid UTF-8 escaped, backslashes kept, so text
// already printable is unchanged and nothing is escaped twice).
std::string_view payload_of(const spdlog::details::log_msg& msg) { return {msg.payload.data(), msg.payload.size()}; }

// 2026-11-24T10:00:00.123Z info p2p: ...
class TextFormatter final : public spdlog::formatter {
 public:
  TextFormatter()
      : pattern_(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l %v",
                                                             spdlog::pattern_time_type::utc)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto payload = payload_of(msg);
    if (util::is_one_line(payload)) {
      pattern_->format(msg, dest);
      return;
    }
    const std::string safe = util::one_line(payload);
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(safe.data(), safe.size());
    pattern_->format(copy, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<TextFormatter>(); }

 private:
  std::unique_ptr<spdlog::formatter> pattern_;
};

// A field's value as JSON: text through one_line like the message, numbers
// as numbers; no value (and a non-finite real, which JSON cannot hold) null.
nlohmann::ordered_json json_value(const util::LogValue& v) {
  return std::visit(
      [](const auto& x) -> nlohmann::ordered_json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>)
          return nullptr;
        else if constexpr (std::is_same_v<T, std::string_view>)
          return util::one_line(x);
        else if constexpr (std::is_same_v<T, double>)
          return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr);
        else
          return x;
      },
      v.get());
}

// {"time":"2026-11-24T10:00:00.123Z","level":"info","msg":"..."}: the
// message is escaped as JSON (a pattern cannot do that), after one_line, so
// that `msg` reads as the text format's message: a tool printing it raw
// (jq -r .msg) still prints one line. A record logged with util::log_event
// goes on with "event" and its fields, in the order given; a field whose key
// is taken (time, level, msg, event, or an earlier field) is left out.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const auto level = spdlog::level::to_string_view(msg.level);
    nlohmann::ordered_json line = {{"time", util::format_rfc3339(ms)},
                                   {"level", std::string(level.data(), level.size())},
                                   {"msg", util::one_line(payload_of(msg))}};
    if (const auto* event = util::current_log_event()) {
      line["event"] = util::one_line(event->name);
      for (const auto& field : event->fields) {
        auto key = util::one_line(field.key);
        if (!line.contains(key)) line[std::move(key)] = json_value(field.value);
      }
    }
    // one_line leaves valid UTF-8 only; `replace` is a second guard.
    auto text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

util::Result<void> configure_logging(const std::string& level, config::LogFormat format,
                                     const std::optional<std::filesystem::path>& file) {
  spdlog::sink_ptr sink;
  if (file) {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file->string(), false);
    } catch (const spdlog::spdlog_ex& e) {
      return util::fail("log file " + file->string() + ": " + e.what());
    }
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto logger = std::make_shared<spdlog::logger>("tnode", sink);
  if (format == config::LogFormat::Json)
    logger->set_formatter(std::make_unique<JsonFormatter>());
  else
    logger->set_formatter(std::make_unique<TextFormatter>());
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace core::node
