#pragma once
// Every metric the tnode daemon exports at GET /metrics (DESIGN.md section 8),
// registered once with its help text and label names. The node updates the
// members on its strand and the HTTP module serves render(); the thread
// contract is the registry's (registry.hpp): one owner, the node's strand.
//
// Label values used by the daemon (kept to small closed sets or to ids of
// connected peers; see the overflow rule in registry.hpp):
//   direction  connections: "inbound" | "outbound" (kInbound, kOutbound);
//              messages, bytes: "received" | "sent" (kReceived, kSent)
//   class      p2p::to_string(PeerClass): "masternode" | "static" | "discovered"
//   result     handshakes: "ok" | "failed" (kHandshakeOk, kHandshakeFailed)
//   reason     stable snake_case names (p2p::to_string(RejectCode), dial
//              error kinds), never free text
//   type       p2p::to_string(MessageType): "hello", "get_headers", ...
//   peer       the peer's node id, hex; remove() the series when it leaves
//   version    the build's version string
//   reason     (invalid blocks) chain::to_string(BlockFault): "bad_signature", ...
//   reason     (HTTP) http::to_string(Drop): "full", "per_ip_limit" (refused);
//              "evicted", "header_timeout", "idle_timeout", ... (closed)

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "libcore/metrics/registry.hpp"

namespace core::metrics {

inline constexpr std::string_view kInbound = "inbound";
inline constexpr std::string_view kOutbound = "outbound";
inline constexpr std::string_view kReceived = "received";
inline constexpr std::string_view kSent = "sent";
inline constexpr std::string_view kHandshakeOk = "ok";
inline constexpr std::string_view kHandshakeFailed = "failed";

// tnode_handshake_duration_seconds: 1 ms to 10 s in 1-2.5-5 steps (a
// loopback handshake takes about a millisecond; handshake_timeout is seconds).
inline constexpr std::array<double, 13> kHandshakeDurationBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                     0.25,  0.5,    1,     2.5,  5,     10};

// The names of DESIGN.md section 8 plus the HTTP server's, tnode_build_info,
// tnode_uptime_seconds and the gauges the alert rules need (masternodes,
// tip timestamp, block time), in the order NodeMetrics declares them.
extern const std::vector<std::string_view> kNodeMetricNames;

// Owns a Registry with every node metric. Families with labels are members
// (take children with .with({...}) and keep the reference); metrics without
// labels are their single child. Neither copyable nor movable: the members
// refer into `registry`.
struct NodeMetrics {
  // `version` is the tnode_build_info label; that gauge is set to 1 here.
  explicit NodeMetrics(std::string_view version);
  NodeMetrics(const NodeMetrics&) = delete;
  NodeMetrics& operator=(const NodeMetrics&) = delete;

  // The text exposition of every metric. The caller sets uptime_seconds
  // first (the registry reads no clocks).
  std::string render() const { return registry.render(); }

  Registry registry;  // declared first: every member below refers into it

  Family<Counter>& handshakes;          // tnode_handshakes_total{result}
  Family<Counter>& handshake_failures;  // tnode_handshake_failures_total{reason}
  Histogram& handshake_duration;        // tnode_handshake_duration_seconds
  Family<Counter>& dial_errors;         // tnode_dial_errors_total{reason}
  Family<Gauge>& connections;           // tnode_connections{direction,class}
  Gauge& connections_max;               // tnode_connections_max
  Family<Counter>& reconnect_attempts;  // tnode_reconnect_attempts_total{class}
  Family<Counter>& disconnects;         // tnode_disconnects_total{reason}
  Counter& partition_events;            // tnode_partition_events_total
  Gauge& masternodes;                   // tnode_masternodes
  Gauge& masternodes_seen;              // tnode_masternodes_seen
  Gauge& chain_height;                  // tnode_chain_height
  Gauge& chain_tip_timestamp;           // tnode_chain_tip_timestamp_seconds
  Gauge& block_time;                    // tnode_block_time_seconds
  Family<Gauge>& peer_height;           // tnode_peer_height{peer}
  Counter& blocks_produced;             // tnode_blocks_produced_total
  Counter& blocks_received;             // tnode_blocks_received_total
  Counter& reorgs;                      // tnode_reorgs_total
  Family<Counter>& invalid_blocks;      // tnode_invalid_blocks_total{reason}
  Counter& sync_stalls;                 // tnode_sync_stalls_total
  Gauge& bans_active;                   // tnode_bans_active
  Gauge& breakers_open;                 // tnode_breakers_open
  Family<Counter>& messages;            // tnode_messages_total{type,direction}
  Family<Counter>& bytes;               // tnode_bytes_total{direction}
  Gauge& http_connections;              // tnode_http_connections
  Family<Counter>& http_refused;        // tnode_http_connections_refused_total{reason}
  Family<Counter>& http_closed;         // tnode_http_connections_closed_total{reason}
  Family<Gauge>& build_info;            // tnode_build_info{version}
  Gauge& uptime_seconds;                // tnode_uptime_seconds
};

}  // namespace core::metrics
