#include "libcore/node/message_router.hpp"

#include <spdlog/spdlog.h>

#include "libcore/metrics/node_metrics.hpp"

namespace core::node {

SyncHooks make_sync_hooks(PeerActions& peers, metrics::NodeMetrics& m) {
  SyncHooks h;
  h.send = [&peers](const NodeId& id, const p2p::Message& message) { peers.send(id, message); };
  h.penalise = [&peers](const NodeId& id, p2p::ScoreEvent event, const std::string& detail) {
    peers.penalise(id, event, detail);
  };
  h.invalid_block = [&peers, &m](const NodeId& id, const chain::BlockError& e) {
    m.invalid_blocks.with({chain::to_string(e.fault)}).inc();
    const std::string who = peers.describe(id);
    if (e.fault == chain::BlockFault::FromTheFuture) {
      spdlog::warn("chain: {} sent a block from the future ({}); is one of our clocks wrong?", who, e.detail);
      peers.penalise(id, p2p::ScoreEvent::Timeout, "a block from the future");
      return;
    }
    spdlog::warn("chain: {} sent an invalid block: {}", who, e.message());
    peers.ban(id, "invalid block: " + e.message());
    peers.penalise(id, p2p::ScoreEvent::InvalidBlock, "invalid block");
  };
  return h;
}

MessageRouter::MessageRouter(PeerActions& peers, ChainSync& sync, AddressBook& book, const chain::GenesisSpec& genesis,
                             std::set<NodeId> masternodes, Now now)
    : peers_(peers),
      sync_(sync),
      book_(book),
      genesis_(genesis),
      masternodes_(std::move(masternodes)),
      now_(std::move(now)) {}

void MessageRouter::on_connected(const NodeId& id, const p2p::Hello& hello, bool outbound) {
  sync_.add_peer(id, chain::TipRef{hello.best_height, hello.best_hash}, now_());
  if (outbound) peers_.send(id, p2p::GetPeers{});
}

void MessageRouter::on_disconnected(const NodeId& id) { sync_.remove_peer(id, now_()); }

void MessageRouter::on_message(const NodeId& from, p2p::Message message) {
  std::visit(
      [&](auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, p2p::GetPeers>) {
          peers_.send(from, peers_reply(from));
        } else if constexpr (std::is_same_v<T, p2p::Peers>) {
          on_peers(msg);
        } else if constexpr (std::is_same_v<T, p2p::GetGenesis>) {
          peers_.send(from, p2p::Genesis{genesis_});
        } else if constexpr (std::is_same_v<T, p2p::GetHeaders>) {
          sync_.note_headers_request(from, msg);
          peers_.send(from, sync_.headers_for(msg));
        } else if constexpr (std::is_same_v<T, p2p::Headers>) {
          sync_.on_headers(from, msg, now_());
        } else if constexpr (std::is_same_v<T, p2p::GetBlocks>) {
          auto reply = sync_.blocks_for(msg);
          sync_.note_blocks_served(from, reply);
          peers_.send(from, reply);
        } else if constexpr (std::is_same_v<T, p2p::Blocks>) {
          sync_.on_blocks(from, msg, now_());
        } else if constexpr (std::is_same_v<T, p2p::NewBlock>) {
          sync_.on_new_block(from, msg.header, now_());
        } else {
          // Genesis outside a genesis request: nothing asked for it. Ping,
          // Pong, Reject and the handshake never get here (connection.cpp).
        }
      },
      message);
}

p2p::Peers MessageRouter::peers_reply(const NodeId& asker) const {
  p2p::Peers reply;
  for (auto& p : peers_.listening_peers()) {
    if (p.node_id == asker) continue;
    if (reply.peers.size() >= kPeersPerReply) break;
    reply.peers.push_back(std::move(p));
  }
  return reply;
}

void MessageRouter::on_peers(const p2p::Peers& message) {
  const auto now = now_();
  for (const auto& p : message.peers) book_.learn(p, masternodes_.count(p.node_id) > 0, now);
  peers_.addresses_learned();
}

}  // namespace core::node
