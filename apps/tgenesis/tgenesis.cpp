#include "tgenesis/tgenesis.hpp"

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>

#include "common/app.hpp"
#include "libcore/chain/block.hpp"
#include "libcore/config/node_config.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/files.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"

namespace tgenesis {

namespace {

namespace fs = std::filesystem;
using core::util::fail;
using core::util::Result;
using nlohmann::json;

constexpr const char* kTool = "tgenesis";
constexpr std::uint32_t kMaxTestnetNodes = 1000;

int usage_error(const std::string& m) { return app::report_error(kTool, m, app::kUsage); }
int failure(const std::string& m) { return app::report_error(kTool, m, app::kFailure); }

Result<core::util::UnixMillis> timestamp_or_now(const std::string& text) {
  if (text.empty()) return core::util::now_ms() / 1000 * 1000;
  return core::util::parse_rfc3339(text);
}

// "NAME:REST[@HOST:PORT]" -> name, rest, address.
Result<std::tuple<std::string, std::string, std::string>> split_masternode(const std::string& spec) {
  auto colon = spec.find(':');
  if (colon == std::string::npos || colon == 0) return fail("masternode '" + spec + "' must be NAME:KEY[@HOST:PORT]");
  std::string name = spec.substr(0, colon);
  std::string rest = spec.substr(colon + 1);
  std::string address;
  if (auto at = rest.find('@'); at != std::string::npos) {
    address = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  return std::make_tuple(name, rest, address);
}

json genesis_json(const core::chain::GenesisSpec& spec) {
  json mns = json::array();
  for (const auto& mn : spec.masternodes)
    mns.push_back({{"name", mn.name}, {"pubkey", mn.pubkey.hex()}, {"address", mn.address}});
  json allocs = json::array();
  for (const auto& a : spec.allocations) allocs.push_back({{"pubkey", a.pubkey.hex()}, {"amount", a.amount}});
  return {{"network", spec.network},
          {"timestamp", core::util::format_rfc3339(spec.timestamp_ms)},
          {"block_time", core::util::format_duration(core::util::Millis(spec.block_time_ms))},
          {"hash", core::chain::genesis_hash(spec).hex()},
          {"magic", core::chain::network_magic(spec.network)},
          {"masternodes", mns},
          {"allocations", allocs}};
}

int cmd_keygen(const Settings& s) {
  auto key = core::crypto::KeyPair::generate();
  if (auto r = core::crypto::save_key_file(s.out, key); !r) return failure(r.error().message);
  if (s.json)
    app::print_json({{"key_file", s.out}, {"pubkey", key.public_key().hex()}});
  else
    std::cout << key.public_key().hex() << "\n";
  return app::kOk;
}

int cmd_new(const Settings& s) {
  core::chain::GenesisSpec spec;
  spec.network = s.network;
  auto ts = timestamp_or_now(s.timestamp);
  if (!ts) return usage_error("--timestamp: " + ts.error().message);
  spec.timestamp_ms = *ts;
  auto bt = core::util::parse_duration(s.block_time);
  if (!bt) return usage_error("--block-time: " + bt.error().message);
  spec.block_time_ms = bt->count();
  for (const auto& m : s.masternodes) {
    auto parts = split_masternode(m);
    if (!parts) return usage_error("--masternode: " + parts.error().message);
    auto [name, key_hex, address] = *parts;
    auto key = core::crypto::PublicKey::from_hex(key_hex);
    if (!key) return usage_error("--masternode " + name + ": pubkey: " + key.error().message);
    spec.masternodes.push_back({name, *key, address});
  }
  for (const auto& m : s.masternode_keys) {
    auto parts = split_masternode(m);
    if (!parts) return usage_error("--masternode-key: " + parts.error().message);
    auto [name, path, address] = *parts;
    auto key = core::crypto::load_key_file(path);
    if (!key) return usage_error("--masternode-key " + name + ": " + key.error().message);
    spec.masternodes.push_back({name, key->public_key(), address});
  }
  for (const auto& a : s.allocations) {
    auto colon = a.find(':');
    if (colon == std::string::npos) return usage_error("--allocation '" + a + "' must be PUBKEY:AMOUNT");
    auto key = core::crypto::PublicKey::from_hex(a.substr(0, colon));
    if (!key) return usage_error("--allocation: pubkey: " + key.error().message);
    std::uint64_t amount = 0;
    try {
      std::size_t used = 0;
      amount = std::stoull(a.substr(colon + 1), &used);
      if (used != a.size() - colon - 1) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      return usage_error("--allocation '" + a + "': amount is not a number");
    }
    spec.allocations.push_back({*key, amount});
  }
  if (auto v = core::chain::validate(spec); !v) return usage_error(v.error().message);
  if (auto w = core::util::write_file_atomic(s.out, core::chain::to_toml(spec), 0644, s.force); !w)
    return failure(w.error().message + (s.force ? "" : " (use --force to replace it)"));
  auto hash = core::chain::genesis_hash(spec).hex();
  if (s.json)
    app::print_json({{"file", s.out}, {"hash", hash}});
  else
    std::cout << hash << "\n";
  return app::kOk;
}

int cmd_hash(const Settings& s) {
  auto spec = core::chain::load_genesis_file(s.file);
  if (!spec) return failure(spec.error().message);
  auto hash = core::chain::genesis_hash(*spec).hex();
  if (s.json)
    app::print_json({{"file", s.file}, {"hash", hash}});
  else
    std::cout << hash << "\n";
  return app::kOk;
}

int cmd_verify(const Settings& s) {
  auto expected = core::crypto::Hash32::from_hex(s.expect_hash);
  if (!expected) return usage_error("--hash: " + expected.error().message);
  auto spec = core::chain::load_genesis_file(s.file);
  if (!spec) return failure(spec.error().message);
  auto actual = core::chain::genesis_hash(*spec);
  bool ok = actual == *expected;
  if (s.json)
    app::print_json({{"file", s.file}, {"ok", ok}, {"hash", actual.hex()}, {"expected", expected->hex()}});
  else if (ok)
    std::cout << "ok " << actual.hex() << "\n";
  if (!ok)
    return failure(s.file + ": genesis hash " + actual.hex() + " does not match the expected " + expected->hex());
  return app::kOk;
}

int cmd_show(const Settings& s) {
  auto spec = core::chain::load_genesis_file(s.file);
  if (!spec) return failure(spec.error().message);
  if (s.json) {
    app::print_json(genesis_json(*spec));
    return app::kOk;
  }
  std::cout << "network     " << spec->network << "\n"
            << "hash        " << core::chain::genesis_hash(*spec).hex() << "\n"
            << "timestamp   " << core::util::format_rfc3339(spec->timestamp_ms) << "\n"
            << "block_time  " << core::util::format_duration(core::util::Millis(spec->block_time_ms)) << "\n"
            << "masternodes " << spec->masternodes.size() << "\n";
  for (std::size_t i = 0; i < spec->masternodes.size(); ++i) {
    const auto& mn = spec->masternodes[i];
    std::cout << "  " << i << "  " << mn.name << "  " << mn.pubkey.hex() << "  "
              << (mn.address.empty() ? "-" : mn.address) << "\n";
  }
  std::cout << "allocations " << spec->allocations.size() << "\n";
  for (const auto& a : spec->allocations) std::cout << "  " << a.pubkey.hex() << "  " << a.amount << "\n";
  return app::kOk;
}

int cmd_testnet(const Settings& s) {
  if (s.nodes < 1 || s.nodes > kMaxTestnetNodes)
    return usage_error("--nodes must be 1.." + std::to_string(kMaxTestnetNodes));
  const std::uint32_t mn_count = s.masternode_count == 0 ? s.nodes : s.masternode_count;
  if (mn_count > s.nodes) return usage_error("--masternodes (" + std::to_string(mn_count) + ") exceeds --nodes");
  if (s.base_port < 1 || static_cast<std::uint64_t>(s.base_port) + 2ull * s.nodes - 1 > 65535)
    return usage_error("--base-port " + std::to_string(s.base_port) + " leaves no room for " + std::to_string(s.nodes) +
                       " nodes (2 ports each) below 65536");
  auto bt = core::util::parse_duration(s.block_time);
  if (!bt) return usage_error("--block-time: " + bt.error().message);
  auto ts = timestamp_or_now(s.timestamp);
  if (!ts) return usage_error("--timestamp: " + ts.error().message);

  const fs::path dir = core::util::expand_home(s.dir);
  std::error_code ec;
  if (fs::exists(dir / "genesis.toml", ec)) {
    if (!s.force)
      return failure((dir / "genesis.toml").string() +
                     " already exists: a testnet is already there (use --force to replace it, "
                     "keys and chain data included)");
    // Only what testnet itself made: node<N> directories.
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      const bool node_dir =
          name.size() > 4 && name.rfind("node", 0) == 0 && name.find_first_not_of("0123456789", 4) == std::string::npos;
      if (entry.is_directory() && node_dir) fs::remove_all(entry.path(), ec);
    }
    fs::remove(dir / "genesis.toml", ec);
  }

  core::chain::GenesisSpec spec;
  spec.network = s.network;
  spec.timestamp_ms = *ts;
  spec.block_time_ms = bt->count();
  std::vector<core::crypto::KeyPair> keys;
  for (std::uint32_t i = 1; i <= s.nodes; ++i) keys.push_back(core::crypto::KeyPair::generate());
  auto peer_port = [&](std::uint32_t i) { return static_cast<std::uint16_t>(s.base_port + 2 * (i - 1)); };
  for (std::uint32_t i = 1; i <= mn_count; ++i)
    spec.masternodes.push_back(
        {"mn" + std::to_string(i), keys[i - 1].public_key(), "127.0.0.1:" + std::to_string(peer_port(i))});
  if (auto v = core::chain::validate(spec); !v) return usage_error(v.error().message);
  if (auto w = core::util::write_file_atomic(dir / "genesis.toml", core::chain::to_toml(spec)); !w)
    return failure(w.error().message);

  json nodes = json::array();
  for (std::uint32_t i = 1; i <= s.nodes; ++i) {
    const fs::path node_dir = dir / ("node" + std::to_string(i));
    if (auto w = core::crypto::save_key_file(node_dir / "node.key", keys[i - 1]); !w) return failure(w.error().message);
    core::config::NodeConfig cfg;
    cfg.data_dir = ".";
    cfg.key_file = "node.key";
    cfg.role = i <= mn_count ? core::config::Role::Masternode : core::config::Role::Regular;
    cfg.listen = {"127.0.0.1", peer_port(i)};
    cfg.http_listen = {"127.0.0.1", static_cast<std::uint16_t>(peer_port(i) + 1)};
    for (std::uint32_t j = 1; j <= s.nodes; ++j)
      if (j != i) cfg.peers.push_back("127.0.0.1:" + std::to_string(peer_port(j)));
    // Every node of a loopback testnet connects from 127.0.0.1: the per-IP
    // cap must admit all of them, and inbound slots must hold them all.
    cfg.max_per_ip = std::max(cfg.max_per_ip, s.nodes);
    cfg.max_inbound = std::max(cfg.max_inbound, s.nodes);
    cfg.genesis_file = "../genesis.toml";
    cfg.bootstrap_node = i == 1;
    if (auto w = core::util::write_file_atomic(node_dir / "tnode.toml", core::config::to_toml(cfg)); !w)
      return failure(w.error().message);
    nodes.push_back({{"name", "node" + std::to_string(i)},
                     {"dir", node_dir.string()},
                     {"config", (node_dir / "tnode.toml").string()},
                     {"pubkey", keys[i - 1].public_key().hex()},
                     {"role", core::config::to_string(cfg.role)},
                     {"listen", cfg.listen.to_string()},
                     {"http", cfg.http_listen.to_string()}});
  }
  const auto hash = core::chain::genesis_hash(spec).hex();
  if (s.json) {
    app::print_json(
        {{"dir", dir.string()}, {"genesis", (dir / "genesis.toml").string()}, {"hash", hash}, {"nodes", nodes}});
    return app::kOk;
  }
  std::cout << "testnet '" << spec.network << "' in " << dir.string() << " (genesis " << hash << ")\n";
  for (const auto& n : nodes)
    std::cout << "  " << n["name"].get<std::string>() << "  " << n["role"].get<std::string>() << "  p2p "
              << n["listen"].get<std::string>() << "  http " << n["http"].get<std::string>() << "  "
              << n["config"].get<std::string>() << "\n";
  return app::kOk;
}

}  // namespace

int run_tgenesis(const Settings& s) {
  core::crypto::init();
  static const std::map<std::string, std::function<int(const Settings&)>> kCommands = {
      {"keygen", cmd_keygen}, {"new", cmd_new},   {"hash", cmd_hash},
      {"verify", cmd_verify}, {"show", cmd_show}, {"testnet", cmd_testnet}};
  auto it = kCommands.find(s.command);
  if (it == kCommands.end()) return usage_error("unknown command '" + s.command + "'");
  return it->second(s);
}

int tgenesis_main(int argc, char** argv) {
  Settings s;
  CLI::App cli{"tgenesis: node keys, a deterministic genesis, and ready-made local testnets", kTool};
  app::add_tool_basics(cli, kTool, s.json);

  auto* keygen = cli.add_subcommand("keygen", "Write a new Ed25519 key file (mode 0600) and print its public key");
  keygen->add_option("-o,--out", s.out, "Key file to create (never overwritten)")->required();

  auto* create = cli.add_subcommand("new", "Write a genesis.toml and print its hash");
  create->add_option("-o,--out", s.out, "Genesis file to write")->default_val("genesis.toml");
  create->add_option("--network", s.network, "Network name (a-z, 0-9, '-', '_')")->capture_default_str();
  create->add_option("--timestamp", s.timestamp, "Genesis time, RFC 3339 (default: now, whole seconds)");
  create->add_option("--block-time", s.block_time, "Slot length, e.g. 10s, 500ms")->capture_default_str();
  create->add_option("--masternode", s.masternodes, "NAME:PUBKEY[@HOST:PORT], in schedule order (repeatable)");
  create->add_option("--masternode-key", s.masternode_keys,
                     "NAME:KEYFILE[@HOST:PORT]: take the public key from a key file");
  create->add_option("--allocation", s.allocations, "PUBKEY:AMOUNT initial balance (repeatable)");
  create->add_flag("--force", s.force, "Replace an existing output file");

  auto* hash = cli.add_subcommand("hash", "Print the genesis hash of a genesis.toml");
  hash->add_option("file", s.file, "genesis.toml")->required();

  auto* verify = cli.add_subcommand("verify", "Check a genesis.toml against an expected hash (exit 1 on mismatch)");
  verify->add_option("file", s.file, "genesis.toml")->required();
  verify->add_option("--hash", s.expect_hash, "Expected genesis hash (64 hex digits)")->required();

  auto* show = cli.add_subcommand("show", "Show a genesis.toml: network, hash, schedule, allocations");
  show->add_option("file", s.file, "genesis.toml")->required();

  auto* testnet = cli.add_subcommand("testnet", "Create a ready local network on 127.0.0.1");
  testnet->add_option("-n,--nodes", s.nodes, "Number of nodes")->required();
  testnet->add_option("-m,--masternodes", s.masternode_count,
                      "How many of the nodes are genesis masternodes (default: all)");
  testnet->add_option("-p,--base-port", s.base_port, "Node i listens on P+2(i-1), HTTP on the port after")
      ->capture_default_str();
  s.block_time = "";
  testnet->add_option("--block-time", s.block_time, "Slot length (default 2s)");
  testnet->add_option("--network", s.network, "Network name")->capture_default_str();
  testnet->add_option("--timestamp", s.timestamp, "Genesis time, RFC 3339 (default: now)");
  testnet->add_option("-d,--dir", s.dir, "Directory to create the testnet in")->required();
  testnet->add_flag("--force", s.force, "Replace an existing testnet in DIR (keys and chain data included)");

  if (auto code = app::parse_cli(cli, argc, argv)) return *code;
  s.command = cli.get_subcommands().front()->get_name();
  if (s.block_time.empty()) s.block_time = s.command == "testnet" ? "2s" : "10s";
  return run_tgenesis(s);
}

}  // namespace tgenesis
