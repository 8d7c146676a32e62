#pragma once
// The seam between the connection side of the node (connection_manager:
// sockets, handshakes, duplicates, scores and bans) and its message side
// (message_router: chain sync and gossip), after Bitcoin Core's
// NetEventsInterface. Asio-free, so the router and its tests never see a
// socket.
//
// Threads: both sides live on the node's strand; every call is made there.

#include <cstdint>
#include <string>
#include <vector>

#include "libcore/crypto/types.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/p2p/messages.hpp"

namespace core::node {

// What the message side hears about peers, and what it can tell of their
// service (implemented by MessageRouter).
class PeerHandler {
 public:
  // A peer finished its handshake and duplicate resolution: it is
  // connected, from `source_ip`.
  virtual void on_connected(const crypto::PublicKey& id, const p2p::Hello& hello, bool outbound,
                            const std::string& source_ip) = 0;
  // A chain or gossip message from a connected peer.
  virtual void on_message(const crypto::PublicKey& from, p2p::Message message) = 0;
  // The peer's last connection closed.
  virtual void on_disconnected(const crypto::PublicKey& id) = 0;
  // Blocks the connected peer delivered to us (in answer to our requests)
  // since it connected; 0 for a peer it does not know. Inbound eviction
  // protects the peers that serve the chain.
  virtual std::uint64_t blocks_delivered(const crypto::PublicKey& id) const = 0;

 protected:
  ~PeerHandler() = default;
};

// What the message side may do to peers (implemented by ConnectionManager).
// Calls naming a peer that is not connected do nothing.
class PeerActions {
 public:
  // Queue a message to a connected peer.
  virtual void send(const crypto::PublicKey& to, const p2p::Message& message) = 0;
  // The peer misbehaved or failed us; `event` says how much it costs. At
  // peer_quality.ban_threshold it is banned.
  virtual void penalise(const crypto::PublicKey& peer, p2p::ScoreEvent event, const std::string& detail) = 0;
  // Ban the peer for peer_quality.ban_duration (closing its connections).
  virtual void ban(const crypto::PublicKey& peer, const std::string& reason) = 0;
  // "abc123@1.2.3.4:24100 (inbound)" for a connected peer, else its short id.
  virtual std::string describe(const crypto::PublicKey& peer) const = 0;
  // The IP a connected peer connects from ("" if it is not connected).
  virtual std::string source_ip(const crypto::PublicKey& peer) const = 0;
  // Connected peers that accept connections (their listen address), as
  // gossip entries seen now.
  virtual std::vector<p2p::PeerEntry> listening_peers() const = 0;
  // Every connected peer, listening or not: id, listen address ("" when
  // none), role, direction, and the best height of its Hello (the message
  // side knows better and overwrites it).
  virtual std::vector<p2p::ConnectionEntry> connections() const = 0;
  // The address book learnt something: the dialler may have work.
  virtual void addresses_learned() = 0;

 protected:
  ~PeerActions() = default;
};

}  // namespace core::node
