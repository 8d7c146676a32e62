#pragma once
// The message side of the node (DESIGN.md 5 and 7; Bitcoin Core's
// net_processing role): chain messages of connected peers go to ChainSync,
// gossip to the address book, GetGenesis is answered; what sync needs from
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

// The hooks ChainSync calls, over `peers`:
//   send      -> peers.send
//   penalise  -> peers.penalise
//   invalid_block -> counted in tnode_invalid_blocks_total{reason}; the
//                peer is banned (DESIGN.md 6) and charged InvalidBlock --
//                except a block from the future, which may be our own
//                clock's fault: that only costs a Timeout step.
SyncHooks make_sync_hooks(PeerActions& peers, metrics::NodeMetrics& metrics);

class MessageRouter final : public PeerHandler {
 public:
  using Now = std::function<SyncClock::time_point()>;

  // `masternodes`: the genesis masternodes' ids (gossip about them is
  // classed masternode). `now` is the steady clock (replaceable in tests).
  MessageRouter(PeerActions& peers, ChainSync& sync, AddressBook& book, const chain::GenesisSpec& genesis,
                std::set<NodeId> masternodes, Now now = &SyncClock::now);

  void on_connected(const NodeId& id, const p2p::Hello& hello, bool outbound) override;
  void on_message(const NodeId& from, p2p::Message message) override;
  void on_disconnected(const NodeId& id) override;

 private:
  p2p::Peers peers_reply(const NodeId& asker) const;
  void on_peers(const p2p::Peers& message);

  PeerActions& peers_;
  ChainSync& sync_;
  AddressBook& book_;
  const chain::GenesisSpec& genesis_;
  std::set<NodeId> masternodes_;
  Now now_;
};

}  // namespace core::node
