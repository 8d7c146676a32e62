#pragma once
// The node's HTTP endpoints (DESIGN.md section 8) as an http::Router over
// the node's state: /health, /metrics, /peers, /addrbook, /chain/tip,
// /chain/block/{height|hash} and the admin endpoints (loopback + token).
// Handlers run on the node's thread (the HTTP server shares its io_context).

#include <chrono>
#include <string>

#include "libcore/http/server.hpp"

namespace core::store {
class ChainStore;
}
namespace core::metrics {
struct NodeMetrics;
}

namespace core::node {

class Network;

struct ApiContext {
  Network& network;
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

// Degraded when peers are expected (other masternodes in genesis, or static
// peers) and there are none, or when this node sees fewer than half of the
// genesis masternodes (itself included if it is one).
HealthVerdict health_verdict(std::size_t peers, bool peers_expected, std::size_t masternodes_seen,
                             std::size_t masternodes_total, bool syncing);

http::Router make_api(ApiContext context);

}  // namespace core::node
