#pragma once
// The node's HTTP endpoints (DESIGN.md section 8) as an http::Router over
// the node's state: /health, /metrics, /peers, /addrbook, /chain/tip,
// /chain/block/{height|hash} and the admin endpoints (loopback + token).
// Handlers run on the node's thread (the HTTP server shares its io_context).

#include <chrono>
#include <string>

#include "libcore/http/server.hpp"
#include "libcore/node/connectivity.hpp"

namespace core::store {
class ChainStore;
}
namespace core::metrics {
struct NodeMetrics;
}

namespace core::node {

class Network;
class ChainSync;

struct ApiContext {
  Network& network;
  ChainSync& sync;
  store::ChainStore& store;
  metrics::NodeMetrics& metrics;
  std::string node_id;  // hex
  std::string role;     // "masternode" | "regular"
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

http::Router make_api(ApiContext context);

}  // namespace core::node
