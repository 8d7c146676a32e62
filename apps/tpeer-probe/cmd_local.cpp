// tpeer-probe local: this host's open-file limits against what tnode needs,
// sockets on the node port by TCP state, and the ephemeral port range.
#include <cstdint>
#include <iostream>
#include <string>
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

}  // namespace

int cmd_local(const Settings& s) {
  // What the node needs: the defaults, or the given node's settings.
  core::util::FdBudget budget;
  std::uint16_t port = s.port;
  std::string needs_of = "default tnode.toml";
  if (!s.config_file.empty()) {
    auto cfg = core::config::load_node_config(s.config_file);
    if (!cfg) return usage_error(cfg.error().message);
    budget.max_inbound = cfg->max_inbound;
    budget.max_outbound = cfg->max_outbound;
    if (auto path = cfg->genesis_path()) {
      auto spec = core::chain::load_genesis_file(*path);
      if (!spec) return usage_error(spec.error().message);
      budget.masternodes = spec->masternodes.size();
    }
    if (!s.port_given) port = cfg->listen.port;
    needs_of = s.config_file;
  }
  const auto need = core::util::required_fds(budget);

  std::vector<std::string> errors;
  auto limits = core::util::current_fd_limits();
  if (!limits) errors.push_back("open-file limit: " + limits.error().message);
  auto sockets = core::util::read_tcp_states(port);
  if (!sockets) errors.push_back("sockets: " + sockets.error().message);
  auto ports = core::util::read_ephemeral_port_range();
  if (!ports) errors.push_back("ephemeral ports: " + ports.error().message);

  // tnode raises its soft limit towards the hard limit at start, so the hard
  // limit decides whether it can hold its connections.
  const bool fd_ok = limits && limits->hard >= need;
  const bool soft_raised = limits && fd_ok && limits->soft < need;

  if (s.json) {
    json j = {{"ok", fd_ok && errors.empty()}, {"port", port}};
    j["fd_limits"] =
        limits ? json{{"soft", limit_json(limits->soft)}, {"hard", limit_json(limits->hard)}} : json(nullptr);
    j["fds_needed"] = {{"total", need},
                       {"for", needs_of},
                       {"max_inbound", budget.max_inbound},
                       {"max_outbound", budget.max_outbound},
                       {"masternodes", budget.masternodes},
                       {"max_handshakes", budget.max_handshakes},
                       {"http_connections", budget.http_connections},
                       {"reserve", budget.reserve}};
    j["fd_ok"] = fd_ok;
    j["soft_limit_raised_at_start"] = soft_raised;
    if (sockets)
      j["sockets"] = {{"total", sockets->total()}, {"by_state", sockets->by_state}};
    else
      j["sockets"] = nullptr;
    if (ports)
      j["ephemeral_ports"] = {
          {"low", ports->first}, {"high", ports->second}, {"count", ports->second - ports->first + 1}};
    else
      j["ephemeral_ports"] = nullptr;
    j["errors"] = errors;
    app::print_json(j);
  } else {
    if (limits)
      std::cout << col("open files", 14) << "soft " << limit_text(limits->soft) << ", hard " << limit_text(limits->hard)
                << "\n";
    std::cout << col("tnode needs", 14) << need << " (" << needs_of << ": " << budget.max_inbound << " inbound, "
              << budget.max_outbound << " outbound, " << budget.masternodes << " masternodes, " << budget.max_handshakes
              << " handshakes, " << budget.http_connections << " HTTP, " << budget.reserve << " store and process)\n";
    if (limits)
      std::cout << col("", 14)
                << (!fd_ok        ? "too low: the hard limit is below the need (raise it, e.g. LimitNOFILE= in the "
                                    "systemd unit or nofile in /etc/security/limits.conf)"
                    : soft_raised ? "ok: tnode raises its soft limit to " + std::to_string(need) + " at start"
                                  : std::string("ok"))
                << "\n";
    if (sockets) {
      std::cout << col("port " + std::to_string(port), 14) << sockets->total() << " socket"
                << (sockets->total() == 1 ? "" : "s");
      const char* sep = ": ";
      for (const auto& [state, n] : sockets->by_state) {
        std::cout << sep << state << " " << n;
        sep = ", ";
      }
      std::cout << "\n";
    }
    if (ports)
      std::cout << col("ephemeral", 14) << ports->first << "-" << ports->second << " ("
                << (ports->second - ports->first + 1) << " ports)\n";
  }
  for (const auto& e : errors) app::report_error(kTool, e, app::kFailure);
  if (limits && !fd_ok)
    return failure("open-file hard limit " + limit_text(limits->hard) + " is below the " + std::to_string(need) +
                   " descriptors tnode needs");
  return errors.empty() ? app::kOk : app::kFailure;
}

}  // namespace tpeer_probe
