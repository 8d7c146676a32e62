#pragma once
// The subcommands of tpeer-probe, one cmd_<name>.cpp each, registered in the
// command table of run_tpeer_probe (tpeer_probe.cpp), and what they share
// from there: error reports with their exit code, and --timeout.

#include <string>

#include "libcore/util/error.hpp"
#include "libcore/util/units.hpp"
#include "tpeer-probe/tpeer_probe.hpp"

namespace tpeer_probe {

// Each runs its subcommand on the calling thread (with its own io_context
// where it does I/O) and returns the exit code: app::kOk, app::kFailure (a
// target failed) or app::kUsage. Results on stdout, errors on stderr.
int cmd_connect(const Settings& s);
int cmd_health(const Settings& s);
int cmd_stress(const Settings& s);
int cmd_local(const Settings& s);
int cmd_crawl(const Settings& s);

// Print "tpeer-probe: error: <m>" on stderr and return app::kUsage
// (usage_error) or app::kFailure (failure).
int usage_error(const std::string& m);
int failure(const std::string& m);

// --timeout TEXT as a duration above zero; fails with a message naming
// --timeout (a usage error).
core::util::Result<core::util::Millis> parse_timeout(const std::string& text);

}  // namespace tpeer_probe
