// tpeer-probe local: this host's open-file limits against what tnode needs,
// sockets on the node port by TCP state, and the ephemeral port range.
#include <cstdint>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/app.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/config/node_config.hpp"
#include "libcore/util/resources.hpp"
#include "tpeer-probe/commands.hpp"
#include "tpeer-probe/output.hpp"

namespace tpeer_probe {

namespace {

using nlohmann::json;

std::string limit_text(std::uint64_t v) { return v == core::util::kFdUnlimited ? "unlimited" : std::to_string(v); }
json limit_json(std::uint64_t v) { return v == core::util::kFdUnlimited ? json(nullptr) : json(v); }

// What tnode needs and what this host offers. A value that could not be read
// holds its error, which is also listed in `errors`.
struct LocalReport {
  core::util::FdBudget budget;
  std::uint16_t port = 0;
  std::string needs_of = "default tnode.toml";
  std::uint64_t need = 0;  // required_fds(budget)
  core::util::Result<core::util::FdLimits> limits;
  core::util::Result<core::util::TcpStateCounts> sockets;
  core::util::Result<std::pair<std::uint16_t, std::uint16_t>> ports;
  std::vector<std::string> errors;
  bool fd_ok = false;        // the hard limit covers the need
  bool soft_raised = false;  // fd_ok, but the soft limit is below the need: tnode raises it at start
};

json local_json(const LocalReport& r) {
  json j = {{"ok", r.fd_ok && r.errors.empty()}, {"port", r.port}};
  j["fd_limits"] =
      r.limits ? json{{"soft", limit_json(r.limits->soft)}, {"hard", limit_json(r.limits->hard)}} : json(nullptr);
  j["fds_needed"] = {{"total", r.need},
                     {"for", r.needs_of},
                     {"max_inbound", r.budget.max_inbound},
                     {"max_outbound", r.budget.max_outbound},
                     {"masternodes", r.budget.masternodes},
                     {"max_handshakes", r.budget.max_handshakes},
                     {"http_connections", r.budget.http_connections},
                     {"reserve", r.budget.reserve}};
  j["fd_ok"] = r.fd_ok;
  j["soft_limit_raised_at_start"] = r.soft_raised;
  if (r.sockets)
    j["sockets"] = {{"total", r.sockets->total()}, {"by_state", r.sockets->by_state}};
  else
    j["sockets"] = nullptr;
  if (r.ports)
    j["ephemeral_ports"] = {
        {"low", r.ports->first}, {"high", r.ports->second}, {"count", r.ports->second - r.ports->first + 1}};
  else
    j["ephemeral_ports"] = nullptr;
  j["errors"] = r.errors;
  return j;
}

void print_local(const LocalReport& r) {
  const auto& b = r.budget;
  if (r.limits)
    std::cout << col("open files", 14) << "soft " << limit_text(r.limits->soft) << ", hard "
              << limit_text(r.limits->hard) << "\n";
  std::cout << col("tnode needs", 14) << r.need << " (" << r.needs_of << ": " << b.max_inbound << " inbound, "
            << b.max_outbound << " outbound, " << b.masternodes << " masternodes, " << b.max_handshakes
            << " handshakes, " << b.http_connections << " HTTP, " << b.reserve << " store and process)\n";
  if (r.limits)
    std::cout << col("", 14)
              << (!r.fd_ok        ? "too low: the hard limit is below the need (raise it, e.g. LimitNOFILE= in the "
                                    "systemd unit or nofile in /etc/security/limits.conf)"
                  : r.soft_raised ? "ok: tnode raises its soft limit to " + std::to_string(r.need) + " at start"
                                  : std::string("ok"))
              << "\n";
  if (r.sockets) {
    std::cout << col("port " + std::to_string(r.port), 14) << r.sockets->total() << " socket"
              << (r.sockets->total() == 1 ? "" : "s");
    const char* sep = ": ";
    for (const auto& [state, n] : r.sockets->by_state) {
      std::cout << sep << state << " " << n;
      sep = ", ";
    }
    std::cout << "\n";
  }
  if (r.ports)
    std::cout << col("ephemeral", 14) << r.ports->first << "-" << r.ports->second << " ("
              << (r.ports->second - r.ports->first + 1) << " ports)\n";
}

}  // namespace

int cmd_local(const Settings& s) {
  // What the node needs: the defaults, or the given node's settings.
  LocalReport r;
  r.port = s.port;
  if (!s.config_file.empty()) {
    auto cfg = core::config::load_node_config(s.config_file);
    if (!cfg) return usage_error(cfg.error().message);
    r.budget.max_inbound = cfg->max_inbound;
    r.budget.max_outbound = cfg->max_outbound;
    if (auto path = cfg->genesis_path()) {
      auto spec = core::chain::load_genesis_file(*path);
      if (!spec) return usage_error(spec.error().message);
      r.budget.masternodes = spec->masternodes.size();
    }
    if (!s.port_given) r.port = cfg->listen.port;
    r.needs_of = s.config_file;
  }
  r.need = core::util::required_fds(r.budget);

  r.limits = core::util::current_fd_limits();
  if (!r.limits) r.errors.push_back("open-file limit: " + r.limits.error().message);
  r.sockets = core::util::read_tcp_states(r.port);
  if (!r.sockets) r.errors.push_back("sockets: " + r.sockets.error().message);
  r.ports = core::util::read_ephemeral_port_range();
  if (!r.ports) r.errors.push_back("ephemeral ports: " + r.ports.error().message);

  // tnode raises its soft limit towards the hard limit at start, so the hard
  // limit decides whether it can hold its connections.
  r.fd_ok = r.limits && r.limits->hard >= r.need;
  r.soft_raised = r.limits && r.fd_ok && r.limits->soft < r.need;

  if (s.json)
    app::print_json(local_json(r));
  else
    print_local(r);
  for (const auto& e : r.errors) app::report_error(kTool, e, app::kFailure);
  if (r.limits && !r.fd_ok)
    return failure("open-file hard limit " + limit_text(r.limits->hard) + " is below the " + std::to_string(r.need) +
                   " descriptors tnode needs");
  return r.errors.empty() ? app::kOk : app::kFailure;
}

}  // namespace tpeer_probe
