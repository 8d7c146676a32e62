#pragma once
// The node's HTTP endpoints (DESIGN.md section 8) as an http::Router over
// the node's state: the status page (/), /health, /metrics, /peers,
// /addrbook, /chain/tip, /chain/block/{height|hash} and the admin endpoints
// (loopback + token). Handlers run on the node's thread (the HTTP server
// shares its io_context).

#include <chrono>
#include <cstdint>
#include <string>

#include "libcore/chain/fork_choice.hpp"
#include "libcore/http/server.hpp"
#include "libcore/node/connectivity.hpp"
#include "libcore/node/network.hpp"
#include "libcore/node/sync.hpp"

namespace core::store {
class ChainStore;
}
namespace core::metrics {
struct NodeMetrics;
}

namespace core::node {

// Who the node is, as /health tells it.
struct NodeIdentity {
  std::string network;  // the genesis network name
  std::string version;  // the software version, as `tnode --version` prints it ("0.1.0")
  std::string node_id;  // hex
  std::string role;     // "masternode" | "regular"
};

struct ApiContext {
  Network& network;
  ChainSync& sync;
  store::ChainStore& store;
  metrics::NodeMetrics& metrics;
  NodeIdentity identity;
  std::string admin_token;
  std::chrono::milliseconds default_ban_duration{std::chrono::hours(24)};  // [peer_quality] ban_duration
  std::chrono::steady_clock::time_point started_at;
};

// What GET /health decides: "ok", "syncing" or "degraded" with its reason.
struct HealthVerdict {
  std::string status;
  std::string reason;  // empty unless degraded
};

// Degraded (HTTP 503) when the connectivity verdict says partitioned
// (connectivity.hpp: the same verdict counts partition events), with its
// reason; otherwise "syncing" while a better chain downloads, else "ok".
HealthVerdict health_verdict(const ConnectivityVerdict& connectivity, bool syncing);

// What GET /health reports besides the node's identity, read from the node's
// owners at request time.
struct HealthFacts {
  HealthVerdict verdict;
  chain::TipRef tip;
  std::string genesis;  // hex
  NetworkCounts peers;
  SyncStatus sync;
  std::int64_t uptime_s = 0;
};

// The GET /health answer: HTTP 503 when the verdict is "degraded", else 200;
// the body is {status, reason (only when not empty), height, tip, genesis,
// network, protocol_version (p2p::kProtocolVersion), version, node_id, role,
// peers: {inbound, outbound, masternodes}, syncing, sync: {target_height,
// pending_headers, blocks_in_flight, stalls}, uptime_s}. Pure: any thread.
http::Response health_response(const NodeIdentity& identity, const HealthFacts& facts);

http::Router make_api(ApiContext context);

}  // namespace core::node
