#include "libcore/node/message_router.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "libcore/metrics/node_metrics.hpp"
#include "libcore/util/log_event.hpp"

namespace core::node {

namespace {

// Per peer: when its last invalid block was logged, and how many since.
class InvalidBlockLog {
 public:
  // The line to log for this one ("" to stay quiet).
  std::string note(const NodeId& id, const std::string& who, const chain::BlockError& e, SyncClock::time_point now) {
    if (by_peer_.size() > kMaxLoggedPeers) by_peer_.clear();  // bounded
    auto& entry = by_peer_[id];
    if (entry.last && now - *entry.last < kInvalidBlockLogPeriod) {
      ++entry.suppressed;
      return "";
    }
    std::string line = who + " sent an invalid block: " + e.message();
    if (e.fault == chain::BlockFault::FromTheFuture)
      line = who + " sent a block from the future (" + e.detail + "); is one of our clocks wrong?";
    if (entry.suppressed > 0)
      line += " (and " + std::to_string(entry.suppressed) + " more invalid blocks since the last report)";
    entry.last = now;
    entry.suppressed = 0;
    return line;
  }

 private:
  static constexpr std::size_t kMaxLoggedPeers = 1024;
  struct Entry {
    std::optional<SyncClock::time_point> last;
    std::uint64_t suppressed = 0;
  };
  std::map<NodeId, Entry> by_peer_;
};

}  // namespace

SyncHooks make_sync_hooks(PeerActions& peers, metrics::NodeMetrics& m) {
  SyncHooks h;
  h.send = [&peers](const NodeId& id, const p2p::Message& message) { peers.send(id, message); };
  h.penalise = [&peers](const NodeId& id, p2p::ScoreEvent event, const std::string& detail) {
    peers.penalise(id, event, detail);
  };
  auto log = std::make_shared<InvalidBlockLog>();
  h.invalid_block = [&peers, &m, log](const NodeId& id, const chain::BlockError& e) {
    m.invalid_blocks.with({chain::to_string(e.fault)}).inc();
    if (auto line = log->note(id, peers.describe(id), e, SyncClock::now()); !line.empty())
      util::log_event(spdlog::level::warn, "block_rejected",
                      {{"peer", id.hex()}, {"reason", chain::to_string(e.fault)}, {"detail", e.detail}}, "chain: {}",
                      line);
    switch (e.fault) {
      case chain::BlockFault::FromTheFuture:
        peers.penalise(id, p2p::ScoreEvent::Timeout, "a block from the future");
        return;
      case chain::BlockFault::FarFuture:
        peers.penalise(id, p2p::ScoreEvent::ProtocolViolation, "a block from far in the future");
        return;
      default:
        peers.ban(id, "invalid block: " + e.message());
        peers.penalise(id, p2p::ScoreEvent::InvalidBlock, "invalid block");
    }
  };
  return h;
}

MessageRouter::MessageRouter(PeerActions& peers, ChainSync& sync, AddressBook& book, const chain::GenesisSpec& genesis,
                             Now now)
    : peers_(peers), sync_(sync), book_(book), genesis_(genesis), now_(std::move(now)) {}

void MessageRouter::on_connected(const NodeId& id, const p2p::Hello& hello, bool outbound,
                                 const std::string& source_ip) {
  sync_.add_peer(id, chain::TipRef{hello.best_height, hello.best_hash}, now_(), source_ip);
  if (outbound) peers_.send(id, p2p::GetPeers{});
}

void MessageRouter::on_disconnected(const NodeId& id) { sync_.remove_peer(id, now_()); }

std::uint64_t MessageRouter::blocks_delivered(const NodeId& id) const {
  const auto view = sync_.peer_view(id);
  return view ? view->blocks_received : 0;
}

void MessageRouter::on_message(const NodeId& from, p2p::Message message) {
  std::visit(
      [&](auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, p2p::GetPeers>) {
          peers_.send(from, peers_reply(from));
        } else if constexpr (std::is_same_v<T, p2p::Peers>) {
          on_peers(from, msg);
        } else if constexpr (std::is_same_v<T, p2p::GetConnections>) {
          peers_.send(from, connections_reply(from));
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

// Every other connected peer, with the height it has shown us (headers or
// blocks) where sync knows it, else the one its Hello claimed.
p2p::Connections MessageRouter::connections_reply(const NodeId& asker) const {
  p2p::Connections reply;
  for (auto& p : peers_.connections()) {
    if (p.node_id == asker) continue;
    if (reply.peers.size() >= p2p::kMaxPeersPerMessage) break;
    if (auto view = sync_.peer_view(p.node_id)) p.best_height = std::max(p.best_height, view->tip.height);
    reply.peers.push_back(std::move(p));
  }
  return reply;
}

// Gossip is a hint: every address is learnt as discovered and counted
// against the gossiping peer's IP (address_book.hpp).
void MessageRouter::on_peers(const NodeId& from, const p2p::Peers& message) {
  const auto now = now_();
  const auto source = peers_.source_ip(from);
  for (const auto& p : message.peers) book_.learn(p, source, now);
  peers_.addresses_learned();
}

}  // namespace core::node
