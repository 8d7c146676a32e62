#pragma once
// spdlog setup for the daemon (DESIGN.md section 8): `text` (one readable
// line) or `json` (one object per line: time, level, msg), UTC timestamps,
// to stderr or to a file that can be reopened (SIGHUP, after logrotate).
// A record logged with util::log_event (util/log_event.hpp) carries its
// event in JSON: {"time","level","msg","event",<fields...>}, field text a
// string, numbers numbers; a field never replaces time, level, msg, event or
// an earlier field. The text format writes the message only.
// One record is always one line: control characters and invalid UTF-8 in a
// message or a field are escaped (util::one_line) in both formats (DESIGN.md 11).
// The sinks are synchronous: the formatter runs in the logging call, on the
// caller's thread (which util::log_event relies on).

#include <filesystem>
#include <optional>
#include <string>

#include "libcore/config/node_config.hpp"
#include "libcore/util/error.hpp"
#include "libcore/util/log_event.hpp"  // what the node logs events with

namespace core::node {

// Installs the default logger. `level` is one of spdlog's names (validated
// by the config). Fails naming the file when it cannot be opened. Call from
// the main thread; calling it again replaces the logger (that is the reopen).
util::Result<void> configure_logging(const std::string& level, config::LogFormat format,
                                     const std::optional<std::filesystem::path>& file);

}  // namespace core::node
