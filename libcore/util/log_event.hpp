#pragma once
// Structured log events (DESIGN.md section 8, "Logs"): a log record that
// says what happened in words *and* carries typed fields a tool can filter
// on without parsing the words:
//
//   util::log_event(spdlog::level::info, "peer_connected",
//                   {{"peer", id.hex()}, {"addr", address}, {"height", height}},
//                   "p2p: connected {} at {}", id.short_hex(), address);
//
// The message is formatted as spdlog formats it and written to the default
// logger like any other record. While the logger writes it, the event and
// its fields are visible to the formatter on the same thread
// (current_log_event()): the `json` format (node/logging.hpp) writes them as
// keys of the record, the `text` format ignores them (the message already
// says it). Records logged without log_event carry no event.
//
// Field keys are fixed identifiers chosen by our code (the table in
// tnode(1)); values are text, integers (kept as JSON numbers: a height stays
// a number), reals or flags. Text from peers needs no care here: the sink
// escapes field text exactly as it escapes messages (util::one_line).
//
// Threads: any thread; the default logger's sinks must be synchronous (they
// are: node/logging.hpp), since the fields live only during the call.

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <spdlog/spdlog.h>

namespace core::util {

// One field's value. Converts implicitly from text, any integer (signed ->
// int64, unsigned -> uint64), floating point, bool, and an optional of
// those (nullopt: no value, JSON null). Text is referred to, not copied:
// build values inside the log_event call (a temporary string lives until
// the call returns), never keep a LogValue.
class LogValue {
 public:
  using Variant = std::variant<std::monostate, std::string_view, std::int64_t, std::uint64_t, double, bool>;

  LogValue(std::string_view s) : v_(s) {}
  LogValue(const std::string& s) : v_(std::string_view(s)) {}
  LogValue(const char* s) : v_(std::string_view(s)) {}
  LogValue(bool b) : v_(b) {}  // preferred to the template below for a bool
  template <std::signed_integral T>
  LogValue(T n) : v_(static_cast<std::int64_t>(n)) {}
  template <std::unsigned_integral T>
  LogValue(T n) : v_(static_cast<std::uint64_t>(n)) {}
  template <std::floating_point T>
  LogValue(T d) : v_(static_cast<double>(d)) {}
  template <typename T>
  LogValue(const std::optional<T>& o) : v_(o ? LogValue(*o).v_ : Variant()) {}

  const Variant& get() const { return v_; }

 private:
  Variant v_;
};

// A key and its value: {"height", 42}.
struct LogField {
  std::string_view key;
  LogValue value;
};

// The event being written on this thread: its name and fields.
struct LogEvent {
  std::string_view name;
  std::span<const LogField> fields;
};

// The event whose record the calling thread is writing right now (inside a
// formatter called by log_event), else nullptr. For formatters.
const LogEvent* current_log_event();

// Writes `message` at `level` to the default logger with `event` and
// `fields` visible to its formatter through current_log_event(). The level
// is checked by the caller (log_event); the logger checks it again.
void write_log_event(spdlog::level::level_enum level, std::string_view event, std::span<const LogField> fields,
                     std::string_view message);

// Logs like spdlog::log(level, fmt, args...) with an event name and fields.
// Nothing is formatted when the default logger would drop `level`.
template <typename... Args>
void log_event(spdlog::level::level_enum level, std::string_view event, std::initializer_list<LogField> fields,
               spdlog::format_string_t<Args...> fmt, Args&&... args) {
  if (!spdlog::default_logger_raw()->should_log(level)) return;
  write_log_event(level, event, std::span<const LogField>(fields.begin(), fields.size()),
                  fmt::format(fmt, std::forward<Args>(args)...));
}

}  // namespace core::util
