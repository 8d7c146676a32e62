#include "libcore/util/log_event.hpp"

namespace core::util {

namespace {

// Set only for the duration of one logger call on this thread: synchronous
// sinks format the record before the call returns, on this thread.
thread_local const LogEvent* t_current = nullptr;

// Restores the outer event (a formatter that logs would nest) even if the
// logger throws.
class CurrentEvent {
 public:
  explicit CurrentEvent(const LogEvent& e) : outer_(std::exchange(t_current, &e)) {}
  ~CurrentEvent() { t_current = outer_; }
  CurrentEvent(const CurrentEvent&) = delete;
  CurrentEvent& operator=(const CurrentEvent&) = delete;

 private:
  const LogEvent* outer_;
};

}  // namespace

const LogEvent* current_log_event() { return t_current; }

void write_log_event(spdlog::level::level_enum level, std::string_view event, std::span<const LogField> fields,
                     std::string_view message) {
  const LogEvent e{event, fields};
  CurrentEvent scope(e);
  spdlog::default_logger_raw()->log(level, spdlog::string_view_t(message.data(), message.size()));
}

}  // namespace core::util
