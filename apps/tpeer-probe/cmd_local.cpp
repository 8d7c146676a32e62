// tpeer-probe local: this host's open-file limits against what tnode needs,
// sockets on the node port by TCP state, and the ephemeral port range; with
// --pid, a running tnode's own limits, descriptors and TCP sockets (/proc).
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/app.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/config/node_config.hpp"
#include "libcore/node/settings_from_config.hpp"
#include "libcore/util/files.hpp"
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
  core::util::FdBudget budget = core::node::fd_budget(core::config::NodeConfig{}, 0);
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

// What a node with this tnode.toml (and these --set overrides) needs: its
// connection limits and its genesis's masternodes; sets needs_of and, unless
// --port was given, the port. A usage error on a bad config or genesis.
core::util::Result<void> needs_of_config(const std::string& path, const std::vector<std::string>& overrides,
                                         LocalReport& r, bool port_given) {
  auto file = core::config::load_node_config(path);
  if (!file) return tl::unexpected(file.error());
  auto cfg = core::config::apply_overrides(*file, overrides);
  if (!cfg) return tl::unexpected(cfg.error());
  std::size_t masternodes = 0;
  if (auto genesis = cfg->genesis_path()) {
    auto spec = core::chain::load_genesis_file(*genesis);
    if (!spec) return tl::unexpected(spec.error());
    masternodes = spec->masternodes.size();
  }
  r.budget = core::node::fd_budget(*cfg, masternodes);
  if (!port_given) r.port = cfg->listen.port;
  r.needs_of = path;
  return {};
}

// ------------------------------------------------------------ --pid

// --pid PID, or the path of a pid file holding it.
core::util::Result<int> resolve_pid(const std::string& arg) {
  std::string text = arg;
  const bool number = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!number) {
    auto file = core::util::read_file(arg, 64);
    if (!file)
      return core::util::fail("--pid '" + arg + "': not a process id, nor a readable pid file (" +
                              file.error().message + ")");
    text = file->substr(0, file->find_last_not_of(" \t\r\n") + 1);
  }
  int pid = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || ptr != text.data() + text.size() || pid <= 0)
    return core::util::fail("--pid '" + arg + "': " + (number ? "not a process id" : "the file does not hold a pid") +
                            (number ? "" : " (it holds \"" + text + "\")"));
  return pid;
}

// The --config and --set arguments tnode was started with (as given on its
// command line; a relative config path is relative to its directory).
struct NodeCommandLine {
  std::string config;
  std::vector<std::string> overrides;
};
NodeCommandLine node_command_line(const core::util::ProcessResources& p) {
  NodeCommandLine out;
  const auto& a = p.cmdline;
  for (std::size_t i = 1; i < a.size(); ++i) {
    auto value = [&](const std::string& name, const std::string& short_name, std::string& into) {
      if ((a[i] == name || (!short_name.empty() && a[i] == short_name)) && i + 1 < a.size()) {
        into = a[++i];
        return true;
      }
      if (a[i].rfind(name + "=", 0) == 0) {
        into = a[i].substr(name.size() + 1);
        return true;
      }
      return false;
    };
    std::string set;
    if (value("--config", "-c", out.config)) continue;
    if (value("--set", "", set)) out.overrides.push_back(set);
  }
  if (!out.config.empty() && std::filesystem::path(out.config).is_relative() && !p.cwd.empty())
    out.config = (p.cwd / out.config).lexically_normal().string();
  return out;
}

struct ProcessReport {
  core::util::ProcessResources process;
  LocalReport needs;  // budget, need and where it came from
  std::vector<const core::util::TcpSocket*> listening, established;
  std::map<std::string, std::uint64_t> by_state;  // every socket of the process
  bool fd_ok = false;                             // its soft limit (in force) covers the need
};

json process_json(const ProcessReport& r) {
  const auto& p = r.process;
  auto sockets = [](const std::vector<const core::util::TcpSocket*>& list, bool remote) {
    json out = json::array();
    for (const auto* s : list)
      out.push_back(remote ? json{{"local", s->local}, {"remote", s->remote}} : json(s->local));
    return out;
  };
  json j = {{"ok", r.fd_ok},
            {"pid", p.pid},
            {"process", p.name},
            {"fd_limits", {{"soft", limit_json(p.limits.soft)}, {"hard", limit_json(p.limits.hard)}}},
            {"fds_open", p.open_fds},
            {"fd_ok", r.fd_ok}};
  j["fds_needed"] = local_json(r.needs)["fds_needed"];
  j["sockets"] = {{"total", p.sockets.size()},
                  {"by_state", r.by_state},
                  {"listening", sockets(r.listening, false)},
                  {"established", sockets(r.established, true)}};
  j["errors"] = r.needs.errors;
  return j;
}

void print_process(const ProcessReport& r) {
  const auto& p = r.process;
  const auto& b = r.needs.budget;
  std::cout << col("process", 14) << p.pid << " (" << p.name << ")\n"
            << col("open files", 14) << "soft " << limit_text(p.limits.soft) << ", hard " << limit_text(p.limits.hard)
            << ", " << p.open_fds << " open now\n"
            << col("tnode needs", 14) << r.needs.need << " (" << r.needs.needs_of << ": " << b.max_inbound
            << " inbound, " << b.max_outbound << " outbound, " << b.masternodes << " masternodes, " << b.max_handshakes
            << " handshakes, " << b.http_connections << " HTTP, " << b.reserve << " store and process)\n"
            << col("", 14)
            << (r.fd_ok ? "ok"
                        : "too low: its open-file soft limit is below the need (raise LimitNOFILE= in the "
                          "systemd unit or nofile in /etc/security/limits.conf, and restart it)")
            << "\n";
  std::cout << col("listening", 14);
  if (r.listening.empty()) std::cout << "none";
  for (std::size_t i = 0; i < r.listening.size(); ++i) std::cout << (i ? ", " : "") << r.listening[i]->local;
  std::cout << "\n" << col("established", 14) << r.established.size() << "\n";
  for (const auto* s : r.established) std::cout << col("", 14) << s->local << " <-> " << s->remote << "\n";
  std::cout << col("TCP sockets", 14) << p.sockets.size();
  const char* sep = ": ";
  for (const auto& [state, n] : r.by_state) {
    std::cout << sep << state << " " << n;
    sep = ", ";
  }
  std::cout << "\n";
}

int cmd_local_process(const Settings& s) {
  auto pid = resolve_pid(s.pid);
  if (!pid) return usage_error(pid.error().message);
  auto process = core::util::read_process_resources(*pid);
  if (!process) return failure(process.error().message);
  if (process->name != "tnode")
    return failure("process " + std::to_string(*pid) + " is '" + process->name + "' (/proc/" + std::to_string(*pid) +
                   "/comm), not tnode");
  ProcessReport r;
  r.process = std::move(*process);
  // Its needs: --config if given, else the config it was started with.
  NodeCommandLine started = node_command_line(r.process);
  const std::string config = s.config_file.empty() ? started.config : s.config_file;
  const auto overrides = s.config_file.empty() ? started.overrides : std::vector<std::string>{};
  if (!config.empty()) {
    if (auto ok = needs_of_config(config, overrides, r.needs, true); !ok) {
      if (!s.config_file.empty()) return usage_error(ok.error().message);
      r.needs.errors.push_back("its configuration: " + ok.error().message);
    }
  }
  r.needs.need = core::util::required_fds(r.needs.budget);
  // tnode raised its soft limit at start: the soft limit now is what it has.
  r.fd_ok = r.process.limits.soft >= r.needs.need;
  for (const auto& sock : r.process.sockets) {
    ++r.by_state[sock.state];
    if (sock.state == "LISTEN") r.listening.push_back(&sock);
    if (sock.state == "ESTABLISHED") r.established.push_back(&sock);
  }
  if (s.json)
    app::print_json(process_json(r));
  else
    print_process(r);
  for (const auto& e : r.needs.errors) app::report_error(kTool, e, app::kFailure);
  if (!r.fd_ok)
    return failure("process " + std::to_string(r.process.pid) + ": open-file soft limit " +
                   limit_text(r.process.limits.soft) + " is below the " + std::to_string(r.needs.need) +
                   " descriptors tnode needs");
  return r.needs.errors.empty() ? app::kOk : app::kFailure;
}

}  // namespace

int cmd_local(const Settings& s) {
  if (!s.pid.empty()) return cmd_local_process(s);
  // What the node needs: the defaults, or the given node's settings.
  LocalReport r;
  r.port = s.port;
  if (!s.config_file.empty())
    if (auto ok = needs_of_config(s.config_file, {}, r, s.port_given); !ok) return usage_error(ok.error().message);
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
