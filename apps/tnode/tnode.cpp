#include "tnode/tnode.hpp"

#include <filesystem>
#include <iostream>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/config/node_config.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/node/node.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/files.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"

namespace tnode {

namespace {

constexpr const char* kTool = "tnode";
constexpr const char* kDefaultDevDir = "~/.local/share/tnode/dev";
constexpr const char* kDefaultDevBlockTime = "1s";

// A dev network's slot length: a duration within the genesis limits.
core::util::Result<core::util::Millis> dev_block_time(const std::string& text) {
  auto slot = core::util::parse_duration(text.empty() ? kDefaultDevBlockTime : text);
  if (!slot) return core::util::fail("--block-time: " + slot.error().message);
  if (slot->count() < core::chain::kMinBlockTimeMs || slot->count() > core::chain::kMaxBlockTimeMs)
    return core::util::fail("--block-time: " + text + " is outside " +
                            core::util::format_duration(core::util::Millis(core::chain::kMinBlockTimeMs)) + ".." +
                            core::util::format_duration(core::util::Millis(core::chain::kMaxBlockTimeMs)));
  return *slot;
}

}  // namespace

core::util::Result<std::filesystem::path> prepare_dev(const std::filesystem::path& dir, const std::string& block_time) {
  namespace fs = std::filesystem;
  const auto config_path = dir / "tnode.toml";
  std::error_code ec;
  if (fs::exists(config_path, ec)) {
    if (!block_time.empty())
      std::cerr << "tnode: note: --block-time applies only to a new dev network; " << dir.string()
                << " keeps the block time of its genesis\n";
    return config_path;
  }
  auto slot = dev_block_time(block_time);
  if (!slot) return tl::unexpected(slot.error());
  fs::create_directories(dir, ec);
  if (ec) return core::util::fail("--data-dir " + dir.string() + ": " + ec.message());

  const auto key_path = dir / "node.key";
  auto key = core::crypto::load_or_create_key_file(key_path);
  if (!key) return tl::unexpected(key.error());

  core::chain::GenesisSpec spec;
  spec.network = "dev";
  spec.timestamp_ms = core::util::now_ms() / 1000 * 1000;
  spec.block_time_ms = slot->count();
  spec.masternodes.push_back({"dev", key->public_key(), ""});
  if (auto ok = core::chain::validate(spec); !ok) return core::util::fail("--block-time: " + ok.error().message);
  if (auto ok = core::util::write_file_atomic(dir / "genesis.toml", core::chain::to_toml(spec)); !ok)
    return tl::unexpected(ok.error());

  core::config::NodeConfig c;
  c.data_dir = ".";
  c.role = core::config::Role::Masternode;
  c.listen = {"127.0.0.1", 24100};
  c.http_listen = {"127.0.0.1", 24101};
  c.genesis_file = "genesis.toml";
  if (auto ok = core::util::write_file_atomic(config_path, core::config::to_toml(c)); !ok)
    return tl::unexpected(ok.error());
  std::cerr << "tnode: created a development network in " << dir.string() << " (genesis "
            << core::chain::genesis_hash(spec).hex() << ", block time " << core::util::format_duration(*slot) << ")\n";
  return config_path;
}

void add_override(std::vector<std::string>& overrides, const char* key, const std::string& value) {
  if (!value.empty()) overrides.push_back(std::string(key) + "=" + value);
}

void add_peers_override(std::vector<std::string>& overrides, const std::vector<std::string>& peers) {
  if (peers.empty()) return;
  std::string list = "[";
  for (const auto& p : peers) list += (list.size() > 1 ? ", \"" : "\"") + p + "\"";
  add_override(overrides, "network.peers", list + "]");
}

int run_tnode(const Settings& settings) {
  Settings s = settings;
  if (s.dev) {
    if (!s.config.empty()) return app::report_error(kTool, "--dev and --config exclude each other", app::kUsage);
    if (auto slot = dev_block_time(s.block_time); !slot)
      return app::report_error(kTool, slot.error().message, app::kUsage);
    const auto dir =
        std::filesystem::absolute(core::util::expand_home(s.dev_dir.empty() ? std::string(kDefaultDevDir) : s.dev_dir));
    auto config = prepare_dev(dir, s.block_time);
    if (!config) return app::report_error(kTool, config.error().message, app::kFailure);
    s.config = config->string();
  } else if (!s.block_time.empty()) {
    return app::report_error(kTool, "--block-time needs --dev (a network's block time is in its genesis)", app::kUsage);
  }
  if (s.config.empty())
    return app::report_error(
        kTool, "no configuration: give --config FILE (tgenesis testnet writes one per node), or --dev", app::kUsage);
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
  if (!s.pid_file.empty()) options.pid_file = std::filesystem::absolute(s.pid_file);
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
  cli.add_flag("--dev", s.dev,
               "Run a one-node development network in --data-dir (default ~/.local/share/tnode/dev): created on "
               "first use, resumed after");
  cli.add_option("--block-time", s.block_time, "With --dev: slot length of a new dev network (default 1s)");
  cli.add_option("--pid-file", s.pid_file, "Write the process id to FILE at start; removed at exit");

  InitSettings init;
  auto* init_cmd = cli.add_subcommand(
      "init", "Write a commented tnode.toml and a node key into a new node directory (never overwrites)");
  init_cmd->add_option("--data-dir", init.data_dir, "Node directory (default ~/.local/share/tnode)");
  init_cmd->add_option("--config", init.config, "Where to write tnode.toml (default DATA_DIR/tnode.toml)");
  init_cmd->add_option("--role", init.role, "regular (default) or masternode")
      ->check(CLI::IsMember({"regular", "masternode"}));
  init_cmd->add_option("--genesis", init.genesis, "The network's genesis.toml: copied into DATA_DIR, hash pinned");
  init_cmd->add_option("--genesis-hash", init.genesis_hash, "Pin this genesis hash (alone: fetch genesis from peers)");
  init_cmd->add_option("--key", init.key, "Run with this existing key file instead of generating one");
  init_cmd->add_option("--listen", init.listen, "network.listen (HOST:PORT)");
  init_cmd->add_option("--external-address", init.external_address, "network.external_address (HOST:PORT)");
  init_cmd->add_option("--http-listen", init.http_listen, "http.listen (HOST:PORT)");
  init_cmd->add_option("--peer", init.peers, "A static peer HOST:PORT (repeatable)");
  init_cmd->add_flag("--print", init.print, "Print the tnode.toml it would write; write nothing");
  cli.require_subcommand(0, 1);
  if (auto code = app::parse_cli(cli, argc, argv)) return *code;
  if (init_cmd->parsed()) return run_init(init);

  // The shorthand flags are --set overrides, applied after the generic ones.
  auto set = [&](const char* key, const std::string& value) { add_override(s.overrides, key, value); };
  if (!data_dir.empty()) data_dir = std::filesystem::absolute(data_dir).string();
  if (s.dev)
    s.dev_dir = data_dir;  // the dev network's directory, where its tnode.toml says data_dir = "."
  else
    set("node.data_dir", data_dir);
  set("network.listen", listen);
  set("http.listen", http_listen);
  set("node.role", role);
  set("log.level", log_level);
  set("log.format", log_format);
  add_peers_override(s.overrides, peers);
  return run_tnode(s);
}

}  // namespace tnode
