#include "tnode/tnode.hpp"

#include <filesystem>
#include <iostream>

#include "libcore/config/node_config.hpp"
#include "libcore/node/node.hpp"
#include "libcore/store/chain_store.hpp"

namespace tnode {

namespace {

constexpr const char* kTool = "tnode";

}  // namespace

int run_tnode(const Settings& s) {
  if (s.config.empty())
    return app::report_error(kTool, "no configuration: give --config FILE (tgenesis testnet writes one per node)",
                             app::kUsage);
  auto config = core::config::load_node_config(s.config);
  if (!config) return app::report_error(kTool, config.error().message, app::kUsage);
  auto resolved = core::config::apply_overrides(*config, s.overrides);
  if (!resolved) return app::report_error(kTool, resolved.error().message, app::kUsage);
  if (s.check_config) {
    std::cout << core::config::to_toml(*resolved);
    return app::kOk;
  }
  core::node::NodeOptions options;
  options.config = *resolved;
  options.version = app::version();
  if (!s.log_file.empty()) options.log_file = std::filesystem::absolute(s.log_file);
  try {
    if (auto ok = core::node::run_node(options); !ok)
      return app::report_error(kTool, ok.error().message, app::kFailure);
  } catch (const core::store::StoreFailure& e) {
    return app::report_error(kTool, std::string("chain store failure: ") + e.what(), app::kFailure);
  }
  return app::kOk;
}

int tnode_main(int argc, char** argv) {
  Settings s;
  CLI::App cli{"tnode: the masternode network node (peer-to-peer daemon, chain store, HTTP endpoints)", kTool};
  app::add_version_flag(cli, kTool);
  cli.add_option("--config,-c", s.config, "tnode.toml to run with (see tnode.toml(5))");
  cli.add_option("--set", s.overrides, "Override one config key, SECTION.KEY=VALUE (repeatable)");
  std::string data_dir, listen, http_listen, role, log_level, log_format;
  std::vector<std::string> peers;
  cli.add_option("--data-dir", data_dir, "Override node.data_dir");
  cli.add_option("--listen", listen, "Override network.listen (HOST:PORT)");
  cli.add_option("--http-listen", http_listen, "Override http.listen (HOST:PORT)");
  cli.add_option("--peer", peers, "Static peer HOST:PORT, replacing network.peers (repeatable)");
  cli.add_option("--role", role, "Override node.role")->check(CLI::IsMember({"regular", "masternode"}));
  cli.add_option("--log-level", log_level, "Override log.level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cli.add_option("--log-format", log_format, "Override log.format")->check(CLI::IsMember({"text", "json"}));
  cli.add_option("--log-file", s.log_file, "Log to this file instead of stderr (reopened on SIGHUP)");
  cli.add_flag("--check-config", s.check_config, "Print the resolved configuration and exit");
  if (auto code = app::parse_cli(cli, argc, argv)) return *code;

  // The shorthand flags are --set overrides, applied after the generic ones.
  auto set = [&](const char* key, const std::string& value) {
    if (!value.empty()) s.overrides.push_back(std::string(key) + "=" + value);
  };
  if (!data_dir.empty()) data_dir = std::filesystem::absolute(data_dir).string();
  set("node.data_dir", data_dir);
  set("network.listen", listen);
  set("http.listen", http_listen);
  set("node.role", role);
  set("log.level", log_level);
  set("log.format", log_format);
  if (!peers.empty()) {
    std::string list = "[";
    for (const auto& p : peers) list += (list.size() > 1 ? ", \"" : "\"") + p + "\"";
    set("network.peers", list + "]");
  }
  return run_tnode(s);
}

}  // namespace tnode
