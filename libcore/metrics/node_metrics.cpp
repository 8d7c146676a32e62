#include "libcore/metrics/node_metrics.hpp"

#include "libcore/chain/validation.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/p2p/messages.hpp"

namespace core::metrics {

const std::vector<std::string_view> kNodeMetricNames = {
    "tnode_handshakes_total",
    "tnode_handshake_failures_total",
    "tnode_handshake_duration_seconds",
    "tnode_dial_errors_total",
    "tnode_connections",
    "tnode_connections_max",
    "tnode_reconnect_attempts_total",
    "tnode_disconnects_total",
    "tnode_partition_events_total",
    "tnode_masternodes",
    "tnode_masternodes_seen",
    "tnode_chain_height",
    "tnode_chain_tip_timestamp_seconds",
    "tnode_block_time_seconds",
    "tnode_peer_height",
    "tnode_blocks_produced_total",
    "tnode_blocks_received_total",
    "tnode_reorgs_total",
    "tnode_invalid_blocks_total",
    "tnode_sync_stalls_total",
    "tnode_bans_active",
    "tnode_breakers_open",
    "tnode_messages_total",
    "tnode_bytes_total",
    "tnode_http_connections",
    "tnode_http_connections_refused_total",
    "tnode_http_connections_closed_total",
    "tnode_build_info",
    "tnode_uptime_seconds",
};

NodeMetrics::NodeMetrics(std::string_view version)
    : handshakes(
          registry.counter("tnode_handshakes_total", "Handshakes finished, by result (ok or failed).", {"result"})),
      handshake_failures(
          registry.counter("tnode_handshake_failures_total", "Failed handshakes, by reason.", {"reason"})),
      handshake_duration(registry
                             .histogram("tnode_handshake_duration_seconds",
                                        "Time from TCP connect to a completed handshake, in seconds.",
                                        {kHandshakeDurationBuckets.begin(), kHandshakeDurationBuckets.end()})
                             .with()),
      dial_errors(registry.counter("tnode_dial_errors_total",
                                   "Outbound dials that failed before a handshake, by reason.", {"reason"})),
      connections(registry.gauge("tnode_connections", "Open peer connections, by direction and peer class.",
                                 {"direction", "class"})),
      connections_max(
          registry.gauge("tnode_connections_max", "Configured maximum of peer connections (inbound plus outbound).")
              .with()),
      reconnect_attempts(registry.counter("tnode_reconnect_attempts_total",
                                          "Reconnect dials to known addresses, by peer class.", {"class"})),
      disconnects(registry.counter("tnode_disconnects_total", "Closed peer connections, by reason.", {"reason"})),
      partition_events(registry
                           .counter("tnode_partition_events_total",
                                    "Transitions into seeing fewer than half of the masternodes, or no peers.")
                           .with()),
      masternodes(registry
                      .gauge("tnode_masternodes",
                             "Masternodes of the network this node counts for partitions (itself included when it "
                             "runs as a masternode).")
                      .with()),
      masternodes_seen(registry
                           .gauge("tnode_masternodes_seen",
                                  "Of tnode_masternodes, those connected (plus this node when it is one); fewer "
                                  "than half is a partition.")
                           .with()),
      chain_height(registry.gauge("tnode_chain_height", "Height of the local chain tip.").with()),
      chain_tip_timestamp(
          registry
              .gauge("tnode_chain_tip_timestamp_seconds", "Timestamp of the local chain tip's block, in Unix seconds.")
              .with()),
      block_time(
          registry.gauge("tnode_block_time_seconds", "The genesis block time (slot length), in seconds.").with()),
      peer_height(registry.gauge("tnode_peer_height", "Chain height last reported by each connected peer.", {"peer"})),
      blocks_produced(
          registry.counter("tnode_blocks_produced_total", "Blocks this node produced in its own slots.").with()),
      blocks_received(
          registry.counter("tnode_blocks_received_total", "Valid blocks received from peers and accepted.").with()),
      reorgs(registry.counter("tnode_reorgs_total", "Times the chain tip moved to another branch.").with()),
      invalid_blocks(registry.counter("tnode_invalid_blocks_total",
                                      "Invalid headers or blocks received from peers (never stored), by fault.",
                                      {"reason"})),
      sync_stalls(registry
                      .counter("tnode_sync_stalls_total",
                               "Sync requests a peer did not answer within its stall timeout (re-issued elsewhere).")
                      .with()),
      bans_active(registry.gauge("tnode_bans_active", "Peers currently banned.").with()),
      breakers_open(registry.gauge("tnode_breakers_open", "Addresses whose circuit breaker is open.").with()),
      messages(registry.counter("tnode_messages_total", "P2P messages, by message type and direction.",
                                {"type", "direction"})),
      bytes(registry.counter("tnode_bytes_total", "P2P bytes on the wire, frame headers included, by direction.",
                             {"direction"})),
      http_connections(registry.gauge("tnode_http_connections", "Open HTTP connections.").with()),
      http_refused(registry.counter("tnode_http_connections_refused_total",
                                    "HTTP connections refused with 503 at accept, by reason.", {"reason"})),
      http_closed(registry.counter("tnode_http_connections_closed_total",
                                   "HTTP connections the server closed by itself (a deadline, or to serve a "
                                   "newcomer), by reason.",
                                   {"reason"})),
      build_info(
          registry.gauge("tnode_build_info", "Always 1; the version label names the running build.", {"version"})),
      uptime_seconds(registry.gauge("tnode_uptime_seconds", "Seconds since the node started.").with()) {
  // Known label values start at 0, so rate() and absence alerts work before
  // the first event.
  handshakes.with({std::string(kHandshakeOk)});
  handshakes.with({std::string(kHandshakeFailed)});
  for (auto peer_class : {p2p::PeerClass::Masternode, p2p::PeerClass::Static, p2p::PeerClass::Discovered}) {
    connections.with({std::string(kInbound), p2p::to_string(peer_class)});
    connections.with({std::string(kOutbound), p2p::to_string(peer_class)});
    reconnect_attempts.with({p2p::to_string(peer_class)});
  }
  for (auto type : p2p::kAllMessageTypes) {
    messages.with({std::string(p2p::to_string(type)), std::string(kReceived)});
    messages.with({std::string(p2p::to_string(type)), std::string(kSent)});
  }
  for (auto fault : chain::kAllBlockFaults) invalid_blocks.with({chain::to_string(fault)});
  bytes.with({std::string(kReceived)});
  bytes.with({std::string(kSent)});
  build_info.with({std::string(version)}).set(1);
}

}  // namespace core::metrics
