// tpeer-probe's command line and command table: flags into Settings, the
// subcommand run from the table, and the error reports and --timeout
// parsing the subcommands share.
#include "tpeer-probe/tpeer_probe.hpp"

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <string>

#include "libcore/crypto/hash.hpp"
#include "libcore/util/units.hpp"
#include "tpeer-probe/commands.hpp"

namespace tpeer_probe {

int usage_error(const std::string& m) { return app::report_error(kTool, m, app::kUsage); }
int failure(const std::string& m) { return app::report_error(kTool, m, app::kFailure); }

core::util::Result<core::util::Millis> parse_timeout(const std::string& text) {
  auto t = core::util::parse_duration(text);
  if (!t) return core::util::fail("--timeout: " + t.error().message);
  if (t->count() <= 0) return core::util::fail("--timeout must be above zero, got '" + text + "'");
  return *t;
}

int run_tpeer_probe(const Settings& s) {
  core::crypto::init();
  static const std::map<std::string, std::function<int(const Settings&)>> kCommands = {{"connect", cmd_connect},
                                                                                       {"crawl", cmd_crawl},
                                                                                       {"health", cmd_health},
                                                                                       {"stress", cmd_stress},
                                                                                       {"local", cmd_local}};
  auto it = kCommands.find(s.command);
  if (it == kCommands.end()) return usage_error("unknown command '" + s.command + "'");
  try {
    return it->second(s);
  } catch (const std::exception& e) {
    return failure(std::string("unexpected error: ") + e.what());
  }
}

int tpeer_probe_main(int argc, char** argv) {
  Settings s;
  CLI::App cli{
      "tpeer-probe: test connectivity to tnode peers (TCP, handshake, ping), a node's health, handshake "
      "throughput, and this host's limits",
      kTool};
  app::add_tool_basics(cli, kTool, s.json);

  auto add_network = [&s](CLI::App* c) {
    auto* g = c->add_option("-g,--genesis", s.genesis_file, "genesis.toml of the network to handshake on");
    auto* cfg = c->add_option("-c,--config", s.config_file, "A node's tnode.toml: handshake on its genesis");
    auto* n = c->add_option("--network", s.network, "Network name (with --genesis-hash)");
    auto* h = c->add_option("--genesis-hash", s.genesis_hash, "Genesis hash, 64 hex digits (with --network)");
    g->excludes(cfg);
    g->excludes(n);
    g->excludes(h);
    cfg->excludes(h);
  };
  auto add_timeout = [&s](CLI::App* c, const std::string& what) {
    c->add_option("-t,--timeout", s.timeout, what)->capture_default_str();
  };

  auto* connect = cli.add_subcommand(
      "connect",
      "TCP connect, handshake and ping each target; classify failures. Without a network, ask each peer for its "
      "genesis first");
  connect->add_option("target", s.targets,
                      "HOST[:PORT] (default port 24100), one or more; none: every masternode of --genesis/--config");
  add_network(connect);
  add_timeout(connect, "Limit of each step, e.g. 5s, 500ms");

  auto* crawl = cli.add_subcommand(
      "crawl",
      "Walk the network from its seeds (and genesis masternodes): who is connected to whom, components (a split "
      "network), masternodes missing, heights and tips; exit 1 unless one component with every masternode");
  crawl->add_option("seed", s.targets, "HOST[:PORT] to start from; none: the masternodes of --genesis/--config");
  add_network(crawl);
  add_timeout(crawl, "Limit of each connect, handshake and answer");
  crawl->add_option("--max-nodes", s.max_nodes, "Dial at most this many addresses")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000}));
  crawl->add_option("-j,--concurrency", s.concurrency, "At most this many nodes at once (one connection each)")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000}));
  crawl->add_option("--time-limit", s.time_limit, "No new dial after this long, e.g. 60s")->capture_default_str();
  crawl->add_option("--dot", s.dot_file, "Write the graph as Graphviz DOT to this file");
  crawl->add_option("--svg", s.svg_file, "Render the graph as SVG to this file (Graphviz's dot)");
  crawl->add_option("--png", s.png_file, "Render the graph as PNG to this file (Graphviz's dot)");

  auto* health = cli.add_subcommand("health", "GET /health of a node's HTTP endpoint");
  health->add_option("target", s.target, "http://HOST[:PORT][/PATH] or HOST[:PORT] (default port 24101)")->required();
  add_timeout(health, "Limit of the whole request");

  auto* stress = cli.add_subcommand("stress", "Many handshakes against one node: success rate, latency, failures");
  stress->add_option("target", s.target, "HOST[:PORT] (default port 24100)")->required();
  stress->add_option("-n,--connections", s.connections, "Handshakes in total")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000}));
  stress->add_option("-j,--concurrency", s.concurrency, "At most this many at once")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10'000}));
  stress->add_option("-s,--source", s.sources,
                     "Connect from this local IP address (repeatable: the workers take them in turn), e.g. "
                     "127.0.0.2; the target must then be an IP address");
  add_network(stress);
  add_timeout(stress, "Limit of each connect and each handshake");

  auto* local = cli.add_subcommand(
      "local",
      "Open-file limits, sockets on the node port by TCP state, ephemeral ports; or those of a running tnode, by pid");
  local->add_option("-p,--port", s.port, "Port whose sockets are counted")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  local->add_option("-c,--config", s.config_file, "A node's tnode.toml: its limits, its genesis and its port");
  local->add_option("--pid", s.pid,
                    "A running tnode (its pid, or its pid file): its open-file limits, open descriptors and TCP "
                    "sockets (listening, established) from /proc; its needs from the config it was started with");

  if (auto code = app::parse_cli(cli, argc, argv)) return *code;
  s.command = cli.get_subcommands().front()->get_name();
  s.port_given = local->count("--port") > 0;
  return run_tpeer_probe(s);
}

}  // namespace tpeer_probe
