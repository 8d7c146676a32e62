#pragma once
// The map of a network as a crawler saw it (tpeer-probe crawl): which nodes
// it reached, which peers each said it is connected to now (Connections),
// and what follows: the connection graph's components (more than one is a
// partition), the genesis masternodes seen and missing, and the spread of
// heights and tips.
//
// Everything a node says about its connections is its claim; the crawler
// records who said it. An edge is "confirmed" when both ends were reached
// and both listed the other. Components are computed over every edge
// claimed, so one node's lie can join two sides but never split them.
//
// Pure: no I/O, no clock; unit-tested without sockets.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "libcore/chain/genesis.hpp"
#include "libcore/crypto/types.hpp"
#include "libcore/p2p/messages.hpp"

namespace core::p2p {

// What the crawler found at one address it dialled.
struct CrawlVisit {
  std::string address;  // host:port dialled
  // Set when the handshake completed: the peer's verified Hello.
  std::optional<Hello> hello;
  // Set when it did not: the failure's class ("refused", "timeout",
  // "rejected:genesis_mismatch") and a human detail.
  std::string failure_class;
  std::string failure_detail;
  // The peers it said it is connected to; nullopt when it did not say (a
  // version-1 node, or no answer in time).
  std::optional<std::vector<ConnectionEntry>> connections;
};

struct MapNode {
  crypto::PublicKey id;
  std::string name;  // the genesis masternode name, or ""
  Role role = Role::Regular;
  bool reached = false;                 // the crawler completed a handshake with it
  std::set<std::string> addresses;      // where it was reached, or as peers reported it
  std::optional<std::uint64_t> height;  // its Hello's best height (reached), else what peers reported
  std::optional<crypto::Hash32> tip;    // its Hello's best hash (reached nodes only)
  std::string user_agent;
  std::uint32_t protocol_version = 0;
  bool reported_connections = false;  // it answered GetConnections
  std::size_t component = 0;          // index into NetworkMap::components
  std::uint64_t behind = 0;           // blocks below the best height seen
  std::size_t tip_group = 0;          // index into NetworkMap::tips (reached nodes)
};

struct MapEdge {
  crypto::PublicKey a, b;  // a < b
  bool claimed_by_a = false, claimed_by_b = false;
  bool a_dialled_b = false, b_dialled_a = false;  // direction as each end reported it
  // Both ends reached and both listed the other.
  bool confirmed(const std::map<crypto::PublicKey, MapNode>& nodes) const;
};

// An address dialled that no reached node answers at.
struct Unreachable {
  std::string address;
  std::string failure_class;
  std::string detail;
};

enum class MasternodeState { seen, reported, missing };
std::string_view to_string(MasternodeState s);  // "seen", "reported", "missing"

struct MasternodeStatus {
  std::string name;
  crypto::PublicKey id;
  std::string address;  // from genesis
  // seen: reached by the crawler; reported: not reached, but a reached node
  // is connected to it; missing: neither.
  MasternodeState state = MasternodeState::missing;
  std::string failure_class;  // why its genesis address failed, if dialled
};

// Reached nodes sharing one best block.
struct TipGroup {
  std::uint64_t height = 0;
  crypto::Hash32 tip;
  std::vector<crypto::PublicKey> members;
};

struct NetworkMap {
  std::map<crypto::PublicKey, MapNode> nodes;
  std::vector<MapEdge> edges;
  std::vector<Unreachable> unreachable;
  // Node ids per connected component, largest first (ties: smallest id first).
  std::vector<std::vector<crypto::PublicKey>> components;
  std::vector<MasternodeStatus> masternodes;  // genesis order
  std::vector<TipGroup> tips;                 // highest first
  std::uint64_t best_height = 0;

  std::size_t reached() const;
  std::size_t missing_masternodes() const;
  // More than one tip at the best height: the network disagrees on its
  // chain (nodes merely behind are not a split).
  bool split_tips() const;
  // One component holding every node, and every genesis masternode seen.
  bool healthy() const;
};

// Builds the map from the visits (in any order; an address may appear once)
// and the genesis masternode list (nullptr when the network is unknown).
NetworkMap build_network_map(const std::vector<CrawlVisit>& visits, const std::vector<chain::Masternode>* masternodes);

}  // namespace core::p2p
