#pragma once
// The connected peers (DESIGN.md 5 and 6): adopting a connection whose
// handshake completed (duplicate resolution by node id, then running it),
// admission of an inbound Hello (banned, capacity, per-IP), inbound eviction
// when the slots are full (the rule is eviction.hpp's), penalties and bans, sending by node
// id, disconnecting, and the shutdown drain. It is the owner every
// Connection reports to (ConnectionEvents) and the PeerActions the message
// side uses. Every connection, in any state, is tracked here from the
// moment the listener or dialler makes it until it is closed.
//
// It does not accept or dial (listener, dialler), does not interpret chain
// or gossip messages (message_router) and keeps no address or ban policy of
// its own (address_book, ban_list): it charges them.
//
// Internal to node/ (Asio). Threads: the node's strand.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "libcore/node/address_book.hpp"
#include "libcore/node/ban_list.hpp"
#include "libcore/node/connection.hpp"
#include "libcore/node/connectivity.hpp"
#include "libcore/node/eviction.hpp"
#include "libcore/node/peer_interfaces.hpp"
#include "libcore/node/peer_scores.hpp"
#include "libcore/node/peer_store.hpp"
#include "libcore/p2p/handshake.hpp"

namespace core::store {
class ChainStore;
}
namespace core::metrics {
struct NodeMetrics;
}

namespace core::node {

// Repeated failures (of one dialled address, or of inbound handshakes from
// one IP) are logged once per this period, summarised.
inline constexpr Millis kFailureLogPeriod{60'000};

// Who this node is in handshakes.
struct LocalPeer {
  crypto::KeyPair key;
  p2p::LocalIdentity identity;
  p2p::Nonce session;
  p2p::Role role = p2p::Role::Regular;
  std::string user_agent;
  std::string network;
  std::uint32_t magic = 0;
  std::set<NodeId> masternodes;  // the genesis masternodes' ids
  bool static_peers = false;     // network.peers is not empty
};

struct ConnectionManagerSettings {
  std::uint32_t max_inbound = config::defaults::kMaxInbound;
  std::uint32_t max_per_ip = config::defaults::kMaxPerIp;
  std::size_t max_message_size = config::defaults::kMaxMessageSize;
  ConnectionSettings connection;
  p2p::PeerQualitySettings quality;
};

class ConnectionManager final : public ConnectionEvents, public PeerActions {
 public:
  ConnectionManager(asio::io_context& io, ConnectionManagerSettings settings, LocalPeer local,
                    const store::ChainStore& store, AddressBook& book, BanList& bans, PeerStore& peer_store,
                    metrics::NodeMetrics& metrics);

  // Wiring, before the first connection: where messages go, and who is told
  // that the dialler may have work (a peer left, addresses were learnt).
  void set_handler(PeerHandler& handler) { handler_ = &handler; }
  void set_wake_dialler(std::function<void()> wake) { wake_dialler_ = std::move(wake); }
  void set_listen_port(std::uint16_t port) { listen_port_ = port; }
  // What our Hello announces as our address ("" for nothing).
  void set_announced_address(std::string address) { announced_address_ = std::move(address); }

  // ---- who we are
  const LocalPeer& local() const { return local_; }
  const NodeId& own_id() const { return own_id_; }
  bool is_masternode(const NodeId& id) const { return local_.masternodes.count(id) > 0; }
  p2p::Hello our_hello() const;

  // ---- connections
  // A new connection on `socket`, tracked until it closes.
  ConnectionPtr make_connection(tcp::socket socket, bool outbound);
  std::size_t handshaking() const;  // in Handshaking or Resolving
  std::size_t inbound_handshakes_from(const std::string& ip) const;
  std::size_t refusing() const;  // refused at accept, still saying why
  bool stopping() const { return stopping_; }
  void count_handshake_failure(const std::string& reason);
  // A handshake on `c` failed (either direction): counted, and logged at
  // debug as the handshake_failed event.
  void handshake_failed(const Connection& c, const Failure& f);

  // The responder's node-state checks of a Hello (DESIGN.md 5, step 2):
  // shutting down, banned, and for non-masternodes inbound capacity and
  // max_per_ip. With the inbound slots full a regular peer is admitted only
  // when the eviction rule (eviction.hpp) would make room for it; the
  // eviction itself waits until its handshake completes. A Rejection
  // refuses it.
  std::optional<p2p::Rejection> admit(const Connection& c, const p2p::Hello& hello) const;
  // A connection whose handshake completed (and passed the caller's
  // checks): counted, classified, resolved against duplicates, then run.
  // Returns when it is connected or has been closed as a duplicate.
  asio::awaitable<void> adopt(const ConnectionPtr& c, SteadyTime handshake_started);

  // ---- peers
  bool is_connected(const NodeId& id) const { return peers_.count(id) > 0; }
  bool is_banned(const NodeId& id) const;
  const std::map<NodeId, ConnectionPtr>& peers() const { return peers_; }
  // Outbound connections to non-masternodes (they hold max_outbound slots).
  std::size_t outbound_non_masternodes() const;
  // The peer's score (by node id; peer_scores.hpp).
  double score_of(const Connection& c, SteadyTime now) const;
  // Until when connections from `ip` are refused (misbehaviour from it), if they are.
  std::optional<SteadyTime> ip_refused_until(const std::string& ip) const;
  ConnectivityInputs connectivity_inputs() const;

  // ---- operator
  // Closes connected peers matching a node id (hex), remote address or
  // listen/dialled address with Reject{admin}; returns how many.
  std::size_t disconnect(const std::string& who);
  void ban(const NodeId& id, Millis duration, const std::string& reason);
  bool unban(const NodeId& id);
  // Removes the bans that ran out (logged, erased from the store).
  void expire_bans(std::int64_t now_ms);

  // Says goodbye (Reject{shutdown}) to every peer, ends handshakes, and
  // calls `drained` once every connection is closed.
  void shutdown(std::function<void()> drained);

  // ---- ConnectionEvents
  void on_message(const ConnectionPtr& c, p2p::Message message) override;
  void on_protocol_violation(const ConnectionPtr& c, const Failure& fault) override;
  void on_keepalive(const ConnectionPtr& c) override;
  void on_traffic(p2p::MessageType type, std::size_t bytes, bool received) override;
  void on_closed(const ConnectionPtr& c) override;

  // ---- PeerActions
  void send(const NodeId& to, const p2p::Message& message) override;
  void penalise(const NodeId& peer, p2p::ScoreEvent event, const std::string& detail) override;
  void ban(const NodeId& peer, const std::string& reason) override;
  std::string describe(const NodeId& peer) const override;
  std::string source_ip(const NodeId& peer) const override;
  std::vector<p2p::PeerEntry> listening_peers() const override;
  std::vector<p2p::ConnectionEntry> connections() const override;
  void addresses_learned() override { wake_dialler(); }

 private:
  p2p::PeerClass class_of(const Connection& c) const;
  void penalise(const ConnectionPtr& c, p2p::ScoreEvent event);
  asio::awaitable<bool> register_peer(const ConnectionPtr& c);
  void connected(const ConnectionPtr& c);
  bool unregister(const ConnectionPtr& c);
  std::size_t inbound_peers() const;
  std::vector<EvictionCandidate> eviction_candidates(const Connection* except) const;
  bool make_room_for(const ConnectionPtr& newcomer);
  void set_connection_gauge(const Connection& c, double delta);
  void update_bans_gauge();
  void maybe_drained();
  void wake_dialler() {
    if (wake_dialler_ && !stopping_) wake_dialler_();
  }

  asio::io_context& io_;
  ConnectionManagerSettings s_;
  LocalPeer local_;
  NodeId own_id_;
  const store::ChainStore& store_;
  AddressBook& book_;
  BanList& bans_;
  PeerStore& peer_store_;
  metrics::NodeMetrics& m_;
  PeerHandler* handler_ = nullptr;
  std::function<void()> wake_dialler_;
  std::uint16_t listen_port_ = 0;
  std::string announced_address_;

  PeerScores scores_;
  std::set<ConnectionPtr> connections_;    // every open connection, any state
  std::map<NodeId, ConnectionPtr> peers_;  // registered (connected) peers
  bool had_peers_ = false;
  // Masternodes whose connection a dead link ended (timeout, reset): their
  // return is evidence the link works again (connected()).
  std::set<NodeId> lost_masternodes_;
  bool stopping_ = false;
  std::function<void()> drained_;
};

}  // namespace core::node
