// metrics_sample: prints the /metrics text of a NodeMetrics after a few
// updates of every kind, for `promtool check metrics` (ctest
// unit.promtool_check_metrics). Not installed.

#include <iostream>
#include <string>

#include "libcore/metrics/node_metrics.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/p2p/messages.hpp"

int main() {
  using core::metrics::kInbound;
  using core::metrics::kOutbound;
  using core::metrics::kReceived;
  using core::metrics::kSent;
  using core::p2p::PeerClass;
  using core::p2p::RejectCode;

  core::metrics::NodeMetrics m(TNODE_VERSION);
  auto s = [](auto view) { return std::string(view); };

  m.handshakes.with({s(core::metrics::kHandshakeOk)}).inc(3);
  m.handshakes.with({s(core::metrics::kHandshakeFailed)}).inc();
  m.handshake_failures.with({s(core::p2p::to_string(RejectCode::genesis_mismatch))}).inc();
  for (double seconds : {0.0004, 0.001, 0.003, 0.25, 12.0}) m.handshake_duration.observe(seconds);
  m.dial_errors.with({"connection_refused"}).inc(2);
  m.connections.with({s(kInbound), core::p2p::to_string(PeerClass::Masternode)}).set(2);
  m.connections.with({s(kOutbound), core::p2p::to_string(PeerClass::Static)}).inc();
  m.connections_max.set(64);
  m.reconnect_attempts.with({core::p2p::to_string(PeerClass::Discovered)}).inc(5);
  m.disconnects.with({s(core::p2p::to_string(RejectCode::timeout))}).inc();
  m.partition_events.inc();
  m.masternodes.set(4);
  m.masternodes_seen.set(3);
  m.chain_height.set(1234);
  m.chain_tip_timestamp.set(1767225600.5);
  m.block_time.set(0.5);
  // A label value with every character the format escapes, and a byte that
  // is not UTF-8: the output must still parse.
  m.peer_height.with({"a1b2c3"}).set(1230);
  m.peer_height.with({"odd \"peer\" \\ name\n\xff"}).set(7);
  m.blocks_produced.inc(10);
  m.blocks_received.inc(1224);
  m.reorgs.inc();
  m.bans_active.set(1);
  m.breakers_open.set(3);
  m.messages.with({s(core::p2p::to_string(core::p2p::MessageType::Ping)), s(kSent)}).inc(40);
  m.bytes.with({s(kReceived)}).inc(1'000'000);
  m.bytes.with({s(kSent)}).inc(123'456'789);
  m.http_connections.set(17);
  m.http_refused.with({"per_ip_limit"}).inc(4);
  m.http_closed.with({"header_timeout"}).inc(9);
  m.http_closed.with({"evicted"}).inc(2);
  m.uptime_seconds.set(3600.5);

  std::cout << m.render();
  return 0;
}
