#pragma once
// The one step that turns tnode.toml (config::NodeConfig) into the node
// layer's settings structs (and the HTTP server's limits), after p2p/settings_from_config.hpp does
// [reconnect] and [peer_quality]. Header-only, included by node.cpp and the
// tests: the settings structs never see NodeConfig, and a new setting is
// wired here once. Mapping NodeConfig{} gives each struct's own defaults
// (both come from config/defaults.hpp; node_settings_tests.cpp proves it).

#include <algorithm>
#include <string>

#include "libcore/config/node_config.hpp"
#include "libcore/http/server.hpp"
#include "libcore/node/network.hpp"
#include "libcore/node/sync.hpp"
#include "libcore/p2p/settings_from_config.hpp"
#include "libcore/util/resources.hpp"

namespace core::node {

// Handshakes in progress at once: every connection the configuration allows
// may be handshaking together (a network starting at once, a partition
// healing), so the cap is sized from them, never below kMaxHandshakes.
// Sized too small, honest peers are refused with `capacity` and retry.
inline std::size_t handshake_cap(const config::NodeConfig& c, std::size_t masternodes) {
  return std::max<std::size_t>(config::defaults::kMaxHandshakes,
                               std::size_t{c.max_inbound} + c.max_outbound + masternodes);
}

// The descriptors a node with this configuration may hold open (its
// connection limits, the masternodes of its genesis dialled beyond them, the
// handshake cap, the HTTP server's connections and the reserve): what tnode
// checks its open-file limit against at start, and `tpeer-probe local` too.
inline util::FdBudget fd_budget(const config::NodeConfig& c, std::size_t masternodes) {
  util::FdBudget budget;
  budget.max_inbound = c.max_inbound;
  budget.max_outbound = c.max_outbound;
  budget.masternodes = masternodes;
  budget.max_handshakes = handshake_cap(c, masternodes);
  budget.http_connections = c.http_max_connections;
  return budget;
}

// `user_agent` is what this node calls itself in its Hello ("tnode/0.1.0");
// `masternodes` is the genesis's count (sizes the handshake cap).
inline NetworkSettings network_settings_from(const config::NodeConfig& c, p2p::Role role, const std::string& user_agent,
                                             std::size_t masternodes = 0) {
  NetworkSettings s;
  s.listen = c.listen;
  s.external_address = c.external_address;
  for (const auto& p : c.peers)
    if (auto a = util::parse_host_port(p)) s.static_peers.push_back(*a);  // validated by the config parser
  s.max_inbound = c.max_inbound;
  s.max_outbound = c.max_outbound;
  s.max_per_ip = c.max_per_ip;
  s.check_interval = c.check_interval;
  s.handshake_timeout = c.handshake_timeout;
  s.max_handshakes = handshake_cap(c, masternodes);
  s.ping_interval = c.ping_interval;
  s.ping_timeout = c.ping_timeout;
  s.idle_timeout = c.idle_timeout;
  s.max_message_size = c.max_message_size;
  s.max_address_book = c.max_address_book;
  s.max_addresses_per_source = c.max_addresses_per_source;
  s.max_dials_per_second = c.max_dials_per_second;
  s.max_genesis_requests_per_minute = c.max_genesis_requests_per_minute;
  s.max_pings_per_second = c.max_pings_per_second;
  s.reconnect = p2p::reconnect_settings_from(c);
  s.quality = p2p::peer_quality_settings_from(c);
  s.role = role;
  s.user_agent = user_agent;
  return s;
}

inline SyncSettings sync_settings_from(const config::NodeConfig& c) {
  SyncSettings s;
  s.stall_timeout = c.stall_timeout;
  s.max_clock_drift_ms = c.max_clock_drift.count();
  s.max_reorg_depth = c.max_reorg_depth;
  s.max_reply_bytes = c.max_message_size;
  return s;
}

// [http]: the server's limits (the fixed ones keep their defaults).
inline http::ServerLimits http_limits_from(const config::NodeConfig& c) {
  http::ServerLimits s;
  s.max_connections = c.http_max_connections;
  s.max_connections_per_ip = c.http_max_connections_per_ip;
  s.header_timeout = c.http_header_timeout;
  s.idle_timeout = c.http_idle_timeout;
  return s;
}

}  // namespace core::node
