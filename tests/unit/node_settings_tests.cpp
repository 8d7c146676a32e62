// One source for every default (config/defaults.hpp): mapping a default
// NodeConfig onto the library settings structs gives each struct's own
// defaults, and one changed key changes exactly its field.

#include <catch2/catch.hpp>

#include "libcore/config/node_config.hpp"
#include "libcore/node/settings_from_config.hpp"
#include "libcore/p2p/settings_from_config.hpp"

using core::config::NodeConfig;

TEST_CASE("settings_from_config(NodeConfig{}) equals each settings struct's defaults", "[unit][config][node]") {
  const NodeConfig c;
  CHECK(core::p2p::reconnect_settings_from(c) == core::p2p::ReconnectSettings{});
  CHECK(core::p2p::peer_quality_settings_from(c) == core::p2p::PeerQualitySettings{});
  CHECK(core::node::network_settings_from(c, core::p2p::Role::Regular, "tnode") == core::node::NetworkSettings{});
  CHECK(core::node::sync_settings_from(c) == core::node::SyncSettings{});
  CHECK(core::node::http_limits_from(c) == core::http::ServerLimits{});
}

TEST_CASE("a changed key reaches its settings field", "[unit][config][node]") {
  NodeConfig c;
  c.max_inbound = 5;
  c.stall_timeout = std::chrono::seconds(7);
  c.base_delay = std::chrono::milliseconds(250);
  c.ban_threshold = -80;
  c.max_message_size = 1 << 20;
  const auto n = core::node::network_settings_from(c, core::p2p::Role::Masternode, "tnode/x");
  CHECK(n.max_inbound == 5);
  CHECK(n.reconnect.base_delay == std::chrono::milliseconds(250));
  CHECK(n.quality.ban_threshold == -80);
  CHECK(n.max_message_size == (1u << 20));
  CHECK(n.role == core::p2p::Role::Masternode);
  CHECK(n.max_handshakes == 32);  // never below kMaxHandshakes
  const auto s = core::node::sync_settings_from(c);
  CHECK(s.stall_timeout == std::chrono::seconds(7));
  CHECK(s.max_reply_bytes == (1u << 20));

  // The handshake cap holds every connection the configuration allows.
  NodeConfig big;
  big.max_inbound = 100;
  big.max_outbound = 10;
  CHECK(core::node::handshake_cap(big, 12) == 122);
  CHECK(core::node::network_settings_from(big, core::p2p::Role::Regular, "tnode", 12).max_handshakes == 122);
  CHECK(core::node::handshake_cap(NodeConfig{}, 0) ==
        core::config::defaults::kMaxInbound + core::config::defaults::kMaxOutbound);

  NodeConfig h;
  h.http_max_connections = 300;
  h.http_max_connections_per_ip = 2;
  h.http_header_timeout = std::chrono::seconds(3);
  h.http_idle_timeout = std::chrono::seconds(20);
  const auto limits = core::node::http_limits_from(h);
  CHECK(limits.max_connections == 300);
  CHECK(limits.max_connections_per_ip == 2);
  CHECK(limits.header_timeout == std::chrono::seconds(3));
  CHECK(limits.idle_timeout == std::chrono::seconds(20));
  // The fixed limits keep their defaults.
  CHECK(limits.max_header_bytes == core::http::ServerLimits{}.max_header_bytes);
  CHECK(limits.body_timeout == core::http::ServerLimits{}.body_timeout);
}
