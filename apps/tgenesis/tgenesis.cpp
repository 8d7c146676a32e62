#include "tgenesis/tgenesis.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <iostream>
#include <map>
#include <set>

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
constexpr std::uint32_t kMaxNodes = 1000;  // testnet --nodes, network --host

int usage_error(const std::string& m) { return app::report_error(kTool, m, app::kUsage); }
int failure(const std::string& m) { return app::report_error(kTool, m, app::kFailure); }

Result<core::util::UnixMillis> timestamp_or_now(const std::string& text) {
  if (text.empty()) return core::util::now_ms() / 1000 * 1000;
  return core::util::parse_rfc3339(text);
}

// The genesis new, testnet and network start from: name, time and slot
// length from the options, no masternodes yet. Errors name the option.
Result<core::chain::GenesisSpec> base_genesis(const Settings& s) {
  core::chain::GenesisSpec spec;
  spec.network = s.network;
  auto bt = core::util::parse_duration(s.block_time);
  if (!bt) return fail("--block-time: " + bt.error().message);
  spec.block_time_ms = bt->count();
  auto ts = timestamp_or_now(s.timestamp);
  if (!ts) return fail("--timestamp: " + ts.error().message);
  spec.timestamp_ms = *ts;
  return spec;
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

// The node id of a key file: what `keygen` printed when it wrote it.
int cmd_pubkey(const Settings& s) {
  auto key = core::crypto::load_key_file(s.file);
  if (!key) return failure(key.error().message);
  if (s.json)
    app::print_json({{"key_file", s.file}, {"pubkey", key->public_key().hex()}});
  else
    std::cout << key->public_key().hex() << "\n";
  return app::kOk;
}

int cmd_new(const Settings& s) {
  auto base = base_genesis(s);
  if (!base) return usage_error(base.error().message);
  core::chain::GenesisSpec spec = *base;
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

// ---- shared by testnet and network: one genesis, one directory per node

// What an earlier run of a generating command left in its directory.
struct GeneratedLayout {
  std::string kind;                                  // "testnet" | "network"
  std::vector<std::string> files;                    // top-level files it writes
  std::function<bool(const fs::path&)> is_node_dir;  // a node directory it wrote
};

// An earlier network is there when one of its files or node directories is.
// Without `force` that is an error naming the first one found; with it, those
// files and node directories are removed (keys and chain data included) and
// nothing else is.
Result<void> clear_previous(const fs::path& dir, const GeneratedLayout& layout, bool force) {
  std::error_code ec;
  std::vector<fs::path> found;
  for (const auto& f : layout.files)
    if (fs::exists(dir / f, ec)) found.push_back(dir / f);
  if (fs::is_directory(dir, ec))
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.is_directory(ec) && layout.is_node_dir(entry.path())) found.push_back(entry.path());
  if (found.empty()) return {};
  if (!force)
    return fail(found.front().string() + " already exists: a " + layout.kind +
                " is already there (use --force to replace it, keys and chain data included)");
  for (const auto& p : found)
    if (fs::remove_all(p, ec); ec) return fail("cannot remove " + p.string() + ": " + ec.message());
  return {};
}

// The settings every generated node shares: its key and chain in its own
// directory, the first node marked as the genesis source.
core::config::NodeConfig generated_node_config(bool masternode, bool bootstrap, const std::string& genesis_file) {
  core::config::NodeConfig cfg;
  cfg.data_dir = ".";
  cfg.key_file = "node.key";
  cfg.role = masternode ? core::config::Role::Masternode : core::config::Role::Regular;
  cfg.genesis_file = genesis_file;
  cfg.bootstrap_node = bootstrap;
  return cfg;
}

struct GeneratedNode {
  std::string name;
  fs::path dir;
  core::crypto::KeyPair key;
  core::config::NodeConfig config;
  std::string address;  // where peers dial it, when that differs from config.listen
};

// Writes node.key (0600) and tnode.toml into n.dir and, when `genesis_toml`
// is not empty, genesis.toml too (a directory that stands alone).
Result<void> write_node_dir(const GeneratedNode& n, const std::string& genesis_toml) {
  if (auto w = core::crypto::save_key_file(n.dir / "node.key", n.key); !w) return w;
  if (!genesis_toml.empty())
    if (auto w = core::util::write_file_atomic(n.dir / "genesis.toml", genesis_toml); !w) return w;
  return core::util::write_file_atomic(n.dir / "tnode.toml", core::config::to_toml(n.config));
}

json node_json(const GeneratedNode& n) {
  json j = {{"name", n.name},
            {"dir", n.dir.string()},
            {"config", (n.dir / "tnode.toml").string()},
            {"pubkey", n.key.public_key().hex()},
            {"role", core::config::to_string(n.config.role)},
            {"listen", n.config.listen.to_string()},
            {"http", n.config.http_listen.to_string()}};
  if (!n.address.empty()) j["address"] = n.address;
  return j;
}

// Prints what a generating command made: `extra` joins the --json document,
// `footer` ends the text.
int print_summary(const Settings& s, const std::string& kind, const core::chain::GenesisSpec& spec, const fs::path& dir,
                  const std::vector<GeneratedNode>& nodes, const json& extra, const std::string& footer) {
  const auto hash = core::chain::genesis_hash(spec).hex();
  if (s.json) {
    json nodes_json = json::array();
    for (const auto& n : nodes) nodes_json.push_back(node_json(n));
    json out = {{"dir", dir.string()}, {"genesis", (dir / "genesis.toml").string()}, {"hash", hash}};
    out.update(extra);
    out["nodes"] = nodes_json;
    app::print_json(out);
    return app::kOk;
  }
  std::cout << kind << " '" << spec.network << "' in " << dir.string() << " (genesis " << hash << ")\n";
  for (const auto& n : nodes)
    std::cout << "  " << n.name << "  " << core::config::to_string(n.config.role) << "  p2p "
              << (n.address.empty() ? n.config.listen.to_string() : n.address) << "  http "
              << n.config.http_listen.to_string() << "  " << (n.dir / "tnode.toml").string() << "\n";
  std::cout << footer;
  return app::kOk;
}

int cmd_testnet(const Settings& s) {
  if (s.nodes < 1 || s.nodes > kMaxNodes) return usage_error("--nodes must be 1.." + std::to_string(kMaxNodes));
  const std::uint32_t mn_count = s.masternode_count.value_or(0) == 0 ? s.nodes : *s.masternode_count;
  if (mn_count > s.nodes) return usage_error("--masternodes (" + std::to_string(mn_count) + ") exceeds --nodes");
  if (s.base_port < 1 || static_cast<std::uint64_t>(s.base_port) + 2ull * s.nodes - 1 > 65535)
    return usage_error("--base-port " + std::to_string(s.base_port) + " leaves no room for " + std::to_string(s.nodes) +
                       " nodes (2 ports each) below 65536");
  auto spec = base_genesis(s);
  if (!spec) return usage_error(spec.error().message);

  const fs::path dir = core::util::expand_home(s.dir);
  const GeneratedLayout layout{"testnet", {"genesis.toml"}, [](const fs::path& p) {
                                 const std::string name = p.filename().string();
                                 return name.size() > 4 && name.rfind("node", 0) == 0 &&
                                        name.find_first_not_of("0123456789", 4) == std::string::npos;
                               }};

  auto peer_port = [&](std::uint32_t i) { return static_cast<std::uint16_t>(s.base_port + 2 * (i - 1)); };
  std::vector<GeneratedNode> nodes;
  for (std::uint32_t i = 1; i <= s.nodes; ++i) {
    GeneratedNode n{"node" + std::to_string(i), dir / ("node" + std::to_string(i)), core::crypto::KeyPair::generate(),
                    generated_node_config(i <= mn_count, i == 1, "../genesis.toml"), ""};
    n.config.listen = {"127.0.0.1", peer_port(i)};
    n.config.http_listen = {"127.0.0.1", static_cast<std::uint16_t>(peer_port(i) + 1)};
    for (std::uint32_t j = 1; j <= s.nodes; ++j)
      if (j != i) n.config.peers.push_back("127.0.0.1:" + std::to_string(peer_port(j)));
    // Every node of a loopback testnet connects from 127.0.0.1: the per-IP
    // cap must admit all of them, and inbound slots must hold them all.
    n.config.max_per_ip = std::max(n.config.max_per_ip, s.nodes);
    n.config.max_inbound = std::max(n.config.max_inbound, s.nodes);
    if (i <= mn_count)
      spec->masternodes.push_back({"mn" + std::to_string(i), n.key.public_key(), n.config.listen.to_string()});
    nodes.push_back(std::move(n));
  }
  if (auto v = core::chain::validate(*spec); !v) return usage_error(v.error().message);
  if (auto c = clear_previous(dir, layout, s.force); !c) return failure(c.error().message);
  if (auto w = core::util::write_file_atomic(dir / "genesis.toml", core::chain::to_toml(*spec)); !w)
    return failure(w.error().message);
  for (const auto& n : nodes)
    if (auto w = write_node_dir(n, ""); !w) return failure(w.error().message);
  return print_summary(s, "testnet", *spec, dir, nodes, json::object(), "");
}

// ---- network: one directory per real host

struct Host {
  std::string spec;  // as given to --host, for messages
  std::string name;
  core::util::HostPort address;
};

// Host directories sit beside these files, so no host may be named after one.
const std::vector<std::string> kNetworkFiles = {"genesis.toml", "README"};

// "NAME=ADDR[:PORT]": NAME a masternode name that can also name a directory,
// ADDR an IPv4 address or hostname, PORT the default peer port if left out.
Result<Host> parse_host(const std::string& text) {
  const std::string what = "--host '" + text + "'";
  const auto eq = text.find('=');
  if (eq == std::string::npos) return fail(what + " must be NAME=ADDR[:PORT]");
  Host h{text, text.substr(0, eq), {}};
  if (auto n = core::chain::check_masternode_name(h.name, what + ": name"); !n) return tl::unexpected(n.error());
  if (h.name == "." || h.name == "..") return fail(what + ": name '" + h.name + "' cannot name the host's directory");
  if (std::find(kNetworkFiles.begin(), kNetworkFiles.end(), h.name) != kNetworkFiles.end())
    return fail(what + ": name '" + h.name + "' is taken by the file DIR/" + h.name);
  auto a = core::util::parse_host_port(text.substr(eq + 1), core::config::defaults::kPeerPort);
  if (!a) return fail(what + ": " + a.error().message);
  if (a->host.find(':') != std::string::npos)
    return fail(what + ": IPv6 addresses are not supported here (ADDR is an IPv4 address or a hostname)");
  if (a->host == "0.0.0.0") return fail(what + ": 0.0.0.0 cannot be dialled; give the address peers reach it at");
  h.address = *a;
  return h;
}

// A machine is known by its address: hosts on one address share it.
std::string machine_of(const Host& h) {
  std::string m = h.address.host;
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return m;
}

// HTTP ports, in host order: 127.0.0.1 on the default HTTP port, unless
// another node on the same machine already uses that port (for peers or HTTP):
// then the next port up that none of them uses.
Result<std::vector<std::uint16_t>> http_ports(const std::vector<Host>& hosts) {
  std::map<std::string, std::set<std::uint32_t>> used;
  for (const auto& h : hosts) used[machine_of(h)].insert(h.address.port);
  std::vector<std::uint16_t> ports;
  for (const auto& h : hosts) {
    auto& taken = used[machine_of(h)];
    std::uint32_t port = core::config::defaults::kHttpPort;
    while (taken.count(port)) ++port;
    if (port > 65535) return fail("--host '" + h.spec + "': no free HTTP port left on " + h.address.host);
    taken.insert(port);
    ports.push_back(static_cast<std::uint16_t>(port));
  }
  return ports;
}

std::string network_readme(const core::chain::GenesisSpec& spec, const std::vector<GeneratedNode>& nodes) {
  const auto hash = core::chain::genesis_hash(spec).hex();
  std::string r;
  r += "Network '" + spec.network + "', made by tgenesis network.\n";
  r += "Genesis hash: " + hash + "\n\n";
  r += "WHAT GOES WHERE\n\n";
  r += "Each directory here belongs to the host of the same name. Copy its\n";
  r += "contents to that host, keeping file modes (rsync -a, scp -p), e.g.\n";
  const auto& first = nodes.front();
  const std::string first_host = first.address.substr(0, first.address.rfind(':'));  // never IPv6
  r += "    rsync -a " + first.name + "/ " + first_host + ":tnode/\n\n";
  for (const auto& n : nodes)
    r += "    " + n.name + "/  ->  " + n.address + "  (" + core::config::to_string(n.config.role) + ")\n";
  r += "\nEach directory holds:\n";
  r += "    node.key     the node's private key (see SECRETS)\n";
  r += "    tnode.toml   its configuration: listen, external_address, peers, role\n";
  r += "    genesis.toml the genesis, the same file in every directory\n\n";
  r += "START\n\n";
  r += "On each host, in the directory copied there:\n";
  r += "    tnode -c tnode.toml\n";
  r += "The chain is stored beside it, in chain/ (node.data_dir is \".\").\n";
  r += "Check the genesis a host received against the hash above:\n";
  r += "    tgenesis verify genesis.toml --hash " + hash + "\n\n";
  r += "PORTS\n\n";
  r += "Every host must accept TCP connections from the other hosts on its\n";
  r += "peer port:\n";
  for (const auto& n : nodes)
    r += "    " + n.name + "  " + std::to_string(n.config.listen.port) + "/tcp  (peers dial " + n.address + ")\n";
  r += "HTTP (/health, /metrics, ...) listens on 127.0.0.1 only; do not open it:\n";
  for (const auto& n : nodes) r += "    " + n.name + "  " + n.config.http_listen.to_string() + "\n";
  r += "\nSECRETS\n\n";
  r += "node.key is secret: whoever holds a masternode's key can produce its\n";
  r += "blocks. Keep each key on its own host only (mode 0600; tnode refuses a key\n";
  r += "others can read), and delete this directory's copy once the hosts are\n";
  r += "set up. genesis.toml and tnode.toml hold nothing secret.\n";
  return r;
}

int cmd_network(const Settings& s) {
  if (s.hosts.empty()) return usage_error("give at least one --host NAME=ADDR[:PORT]");
  if (s.hosts.size() > kMaxNodes) return usage_error("at most " + std::to_string(kMaxNodes) + " --host");
  std::vector<Host> hosts;
  std::map<std::string, const Host*> by_name, by_address;
  for (const auto& text : s.hosts) {
    auto h = parse_host(text);
    if (!h) return usage_error(h.error().message);
    hosts.push_back(*h);
  }
  for (const auto& h : hosts) {
    if (auto [it, fresh] = by_name.emplace(h.name, &h); !fresh)
      return usage_error("--host '" + h.spec + "': duplicate name '" + h.name + "' (also --host '" + it->second->spec +
                         "')");
    const std::string addr = machine_of(h) + ":" + std::to_string(h.address.port);
    if (auto [it, fresh] = by_address.emplace(addr, &h); !fresh)
      return usage_error("--host '" + h.spec + "': duplicate address " + h.address.to_string() + " (also --host '" +
                         it->second->spec + "')");
  }
  const auto count = static_cast<std::uint32_t>(hosts.size());
  const std::uint32_t mn_count = s.masternode_count.value_or(count);
  if (mn_count < 1 || mn_count > count)
    return usage_error("--masternodes " + std::to_string(mn_count) + " is out of range 1.." + std::to_string(count) +
                       " (the number of --host)");
  auto http = http_ports(hosts);
  if (!http) return usage_error(http.error().message);
  auto spec = base_genesis(s);
  if (!spec) return usage_error(spec.error().message);

  const fs::path dir = core::util::expand_home(s.dir);
  auto holds_config = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p / "tnode.toml", ec);
  };
  // Checked before anything is removed: --force replaces only what we wrote.
  std::error_code ec;
  for (const auto& h : hosts)
    if (fs::exists(dir / h.name, ec) && !holds_config(dir / h.name))
      return failure((dir / h.name).string() +
                     " exists and is not a node directory (no tnode.toml): move it away or choose another --dir");

  // Two nodes on one machine reach each other from one IP: the per-IP cap
  // must admit them all.
  std::map<std::string, std::uint32_t> per_machine;
  for (const auto& h : hosts) ++per_machine[machine_of(h)];
  std::vector<GeneratedNode> nodes;
  for (std::uint32_t i = 0; i < count; ++i) {
    const Host& h = hosts[i];
    GeneratedNode n{h.name, dir / h.name, core::crypto::KeyPair::generate(),
                    generated_node_config(i < mn_count, i == 0, "genesis.toml"), h.address.to_string()};
    n.config.listen = {"0.0.0.0", h.address.port};
    n.config.external_address = n.address;
    n.config.http_listen = {"127.0.0.1", (*http)[i]};
    for (const auto& other : hosts)
      if (&other != &h) n.config.peers.push_back(other.address.to_string());
    n.config.max_per_ip = std::max(n.config.max_per_ip, per_machine[machine_of(h)]);
    n.config.max_inbound = std::max(n.config.max_inbound, count);
    if (i < mn_count) spec->masternodes.push_back({h.name, n.key.public_key(), n.address});
    nodes.push_back(std::move(n));
  }
  if (auto v = core::chain::validate(*spec); !v) return usage_error(v.error().message);
  const GeneratedLayout layout{"network", kNetworkFiles, holds_config};
  if (auto c = clear_previous(dir, layout, s.force); !c) return failure(c.error().message);
  const std::string genesis_toml = core::chain::to_toml(*spec);
  if (auto w = core::util::write_file_atomic(dir / "genesis.toml", genesis_toml); !w) return failure(w.error().message);
  for (const auto& n : nodes)
    if (auto w = write_node_dir(n, genesis_toml); !w) return failure(w.error().message);
  if (auto w = core::util::write_file_atomic(dir / "README", network_readme(*spec, nodes)); !w)
    return failure(w.error().message);
  return print_summary(s, "network", *spec, dir, nodes, {{"readme", (dir / "README").string()}},
                       "copy each directory to its host: see " + (dir / "README").string() + "\n");
}

}  // namespace

int run_tgenesis(const Settings& s) {
  core::crypto::init();
  static const std::map<std::string, std::function<int(const Settings&)>> kCommands = {
      {"keygen", cmd_keygen}, {"pubkey", cmd_pubkey}, {"new", cmd_new},         {"hash", cmd_hash},
      {"verify", cmd_verify}, {"show", cmd_show},     {"testnet", cmd_testnet}, {"network", cmd_network}};
  auto it = kCommands.find(s.command);
  if (it == kCommands.end()) return usage_error("unknown command '" + s.command + "'");
  return it->second(s);
}

int tgenesis_main(int argc, char** argv) {
  Settings s;
  CLI::App cli{"tgenesis: node keys, a deterministic genesis, and ready-made networks", kTool};
  app::add_tool_basics(cli, kTool, s.json);

  auto* keygen = cli.add_subcommand("keygen", "Write a new Ed25519 key file (mode 0600) and print its public key");
  keygen->add_option("-o,--out", s.out, "Key file to create (never overwritten)")->required();

  auto* pubkey = cli.add_subcommand("pubkey", "Print the public key (node id) of a key file");
  pubkey->add_option("file", s.file, "Key file (as keygen or a node wrote it)")->required();

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

  auto* network = cli.add_subcommand("network", "Create one ready-to-copy node directory per real host");
  network->add_option("--host", s.hosts, "NAME=ADDR[:PORT]: one machine, PORT default 24100 (repeatable)")->required();
  network->add_option("-m,--masternodes", s.masternode_count,
                      "How many of the hosts (the first ones) are genesis masternodes (default: all)");
  network->add_option("--block-time", s.block_time, "Slot length (default 10s)");
  network->add_option("--network", s.network, "Network name")->capture_default_str();
  network->add_option("--timestamp", s.timestamp, "Genesis time, RFC 3339 (default: now)");
  network->add_option("-d,--dir", s.dir, "Directory to write the network in")->required();
  network->add_flag("--force", s.force, "Replace an existing network in DIR (keys and chain data included)");

  if (auto code = app::parse_cli(cli, argc, argv)) return *code;
  s.command = cli.get_subcommands().front()->get_name();
  if (s.block_time.empty()) s.block_time = s.command == "testnet" ? "2s" : "10s";
  return run_tgenesis(s);
}

}  // namespace tgenesis
