// Resolving the network the probe handshakes on: genesis file, node config,
// or network name with genesis hash (see probe_network.hpp).
#include "tpeer-probe/probe_network.hpp"

#include <filesystem>
#include <utility>

#include "libcore/chain/block.hpp"
#include "libcore/config/node_config.hpp"
#include "libcore/p2p/messages.hpp"

namespace tpeer_probe {

namespace {

namespace p2p = core::p2p;

core::util::Result<Network> network_of_genesis_file(const std::filesystem::path& path) {
  auto spec = core::chain::load_genesis_file(path);
  if (!spec) return tl::unexpected(spec.error());
  Network n;
  n.name = spec->network;
  n.genesis_hash = core::chain::genesis_hash(*spec);
  n.spec = std::move(*spec);
  n.source = path.string();
  return n;
}

core::util::Result<core::crypto::Hash32> parse_genesis_hash(const std::string& text) {
  auto h = core::crypto::Hash32::from_hex(text);
  if (!h) return core::util::fail("--genesis-hash '" + text + "': " + h.error().message);
  return *h;
}

core::util::Result<void> check_network_name(const std::string& name) {
  if (name.empty()) return core::util::fail("--network: the network name is empty");
  if (name.size() > p2p::kMaxNetworkName)
    return core::util::fail("--network: the name is longer than " + std::to_string(p2p::kMaxNetworkName) + " bytes");
  return {};
}

}  // namespace

core::util::Result<std::optional<Network>> resolve_network(const Settings& s) {
  if (!s.genesis_file.empty()) {
    auto n = network_of_genesis_file(s.genesis_file);
    if (!n) return tl::unexpected(n.error());
    return std::optional<Network>(std::move(*n));
  }
  if (!s.config_file.empty()) {
    auto cfg = core::config::load_node_config(s.config_file);
    if (!cfg) return tl::unexpected(cfg.error());
    Network n;
    if (auto path = cfg->genesis_path()) {
      auto from_file = network_of_genesis_file(*path);
      if (!from_file) return tl::unexpected(from_file.error());
      n = std::move(*from_file);
      if (cfg->genesis_hash && *cfg->genesis_hash != n.genesis_hash)
        return core::util::fail(s.config_file + ": genesis.hash " + cfg->genesis_hash->hex() + " does not match " +
                                path->string() + " (hash " + n.genesis_hash.hex() + ")");
      if (!s.network.empty() && s.network != n.name)
        return core::util::fail("--network '" + s.network + "' differs from the network '" + n.name + "' of " +
                                path->string());
      n.source = path->string() + " (from " + s.config_file + ")";
    } else {
      // The node pins only the hash; the wire also needs the network name.
      if (s.network.empty())
        return core::util::fail(s.config_file + " pins only genesis.hash: give the network name with --network NAME");
      if (auto ok = check_network_name(s.network); !ok) return tl::unexpected(ok.error());
      n.name = s.network;
      n.genesis_hash = *cfg->genesis_hash;
      n.source = s.config_file + " (genesis.hash)";
    }
    n.max_message_size = cfg->max_message_size;
    return std::optional<Network>(std::move(n));
  }
  if (!s.network.empty() || !s.genesis_hash.empty()) {
    if (s.network.empty() || s.genesis_hash.empty())
      return core::util::fail("--network and --genesis-hash go together (or use --genesis FILE or --config FILE)");
    if (auto ok = check_network_name(s.network); !ok) return tl::unexpected(ok.error());
    auto h = parse_genesis_hash(s.genesis_hash);
    if (!h) return tl::unexpected(h.error());
    Network n;
    n.name = s.network;
    n.genesis_hash = *h;
    n.source = "--network/--genesis-hash";
    return std::optional<Network>(std::move(n));
  }
  return std::optional<Network>();
}

core::util::Result<std::vector<Target>> targets_or_masternodes(const std::vector<std::string>& given,
                                                               const std::optional<Network>& net) {
  std::vector<Target> out;
  for (const auto& t : given) {
    auto a = core::util::parse_host_port(t, kDefaultPeerPort);
    if (!a) return core::util::fail("target '" + t + "': " + a.error().message);
    out.push_back(Target{t, *a});
  }
  if (!given.empty()) return out;
  if (!net || !net->spec)
    return core::util::fail("no target: give HOST[:PORT], or --genesis FILE / --config FILE to probe its masternodes");
  for (const auto& m : net->spec->masternodes) {
    if (m.address.empty()) continue;
    auto a = core::util::parse_host_port(m.address, kDefaultPeerPort);
    if (!a) return core::util::fail("masternode '" + m.name + "' address '" + m.address + "': " + a.error().message);
    out.push_back(Target{m.name, *a});
  }
  if (out.empty()) return core::util::fail(net->source + ": no masternode lists an address: give targets");
  return out;
}

}  // namespace tpeer_probe
