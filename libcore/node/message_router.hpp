#pragma once
// The message side of the node (DESIGN.md 5 and 7; Bitcoin Core's
// net_processing role): chain messages of connected peers go to ChainSync,
// gossip to the address book, GetGenesis and GetConnections are answered; what sync needs from
// the network (send, penalise, invalid block) comes back through
// make_sync_hooks, where the policy for invalid blocks lives. Asio-free: it
// sees peers only as node ids through PeerActions, and is unit-tested with
// a fake.
//
// Threads: the node's strand.

#include <chrono>
#include <functional>
#include <set>

#include "libcore/chain/genesis.hpp"
#include "libcore/node/address_book.hpp"
#include "libcore/node/peer_interfaces.hpp"
#include "libcore/node/sync.hpp"

namespace core::metrics {
struct NodeMetrics;
}

namespace core::node {

// Entries in one Peers reply.
inline constexpr std::size_t kPeersPerReply = 256;

// Invalid blocks from one peer are logged once, then summarised at most
// once per this period (a flood of bad headers is one line, not one each).
inline constexpr std::chrono::milliseconds kInvalidBlockLogPeriod{60'000};

// The hooks ChainSync calls, over `peers`:
//   send      -> peers.send
//   penalise  -> peers.penalise
//   invalid_block -> counted in tnode_invalid_blocks_total{reason}, and:
//     from_the_future (within kFarFutureMs of the drift bound: maybe our
//       own clock): a Timeout step;
//     far_future (no clock is that wrong): a ProtocolViolation step each,
//       so a few are a ban;
//     any other fault: the peer is banned (DESIGN.md 6) and charged
//       InvalidBlock.
//   Logged once per peer, then summarised per kInvalidBlockLogPeriod.
SyncHooks make_sync_hooks(PeerActions& peers, metrics::NodeMetrics& metrics);

class MessageRouter final : public PeerHandler {
 public:
  using Now = std::function<SyncClock::time_point()>;

  // `now` is the steady clock (replaceable in tests).
  MessageRouter(PeerActions& peers, ChainSync& sync, AddressBook& book, const chain::GenesisSpec& genesis,
                Now now = &SyncClock::now);

  void on_connected(const NodeId& id, const p2p::Hello& hello, bool outbound, const std::string& source_ip) override;
  void on_message(const NodeId& from, p2p::Message message) override;
  void on_disconnected(const NodeId& id) override;
  // What ChainSync counted (SyncPeerView::blocks_received).
  std::uint64_t blocks_delivered(const NodeId& id) const override;

 private:
  p2p::Peers peers_reply(const NodeId& asker) const;
  p2p::Connections connections_reply(const NodeId& asker) const;
  void on_peers(const NodeId& from, const p2p::Peers& message);

  PeerActions& peers_;
  ChainSync& sync_;
  AddressBook& book_;
  const chain::GenesisSpec& genesis_;
  Now now_;
};

}  // namespace core::node
