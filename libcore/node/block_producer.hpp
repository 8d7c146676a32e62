#pragma once
// Block production in this node's slots (DESIGN.md 3): it wakes at every
// slot start and, when the slot's scheduled producer is this node's key,
// makes one block on the best tip and hands it to ChainSync (validated and
// stored like any other block, then announced).
//
// It skips a slot while ChainSync is downloading a better chain (logged
// once per stretch) and right after start, when genesis lists other
// masternodes, it waits for its first peer -- or at most kAloneGrace block
// times -- so it does not fork off a stale tip.
//
// Internal to node/ (Asio). Threads: the node's strand.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "libcore/crypto/keys.hpp"
#include "libcore/node/sync.hpp"
#include "libcore/util/time.hpp"

namespace boost::asio {
class io_context;
}
namespace core::store {
class ChainStore;
}

namespace core::node {

// A masternode with other masternodes in genesis waits at most this many
// block times for its first peer before producing alone.
inline constexpr std::int64_t kAloneGrace = 2;

class BlockProducer {
 public:
  // `peer_count` tells how many peers are connected; `others` whether
  // genesis lists masternodes other than this node.
  BlockProducer(boost::asio::io_context& io, store::ChainStore& store, ChainSync& sync, const crypto::KeyPair& key,
                std::function<std::size_t()> peer_count, bool others);
  ~BlockProducer();
  BlockProducer(const BlockProducer&) = delete;
  BlockProducer& operator=(const BlockProducer&) = delete;

  void start();
  void stop();

  // Produces in `slot` at wall time `now` if this node should; the loop
  // calls it at every slot start (public for tests).
  void on_slot(std::uint64_t slot, util::UnixMillis now);

 private:
  bool ready_to_produce();
  boost::asio::awaitable<void> run();
  struct Loop;

  store::ChainStore& store_;
  ChainSync& sync_;
  crypto::KeyPair key_;
  std::function<std::size_t()> peer_count_;
  bool others_;
  std::chrono::steady_clock::time_point started_at_;
  bool ready_ = false;           // see ready_to_produce()
  bool skipping_slots_ = false;  // production paused while a better chain downloads (logged once)
  std::unique_ptr<Loop> loop_;
};

}  // namespace core::node
