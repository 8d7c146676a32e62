#pragma once
// Headers-first chain sync, block relay and fork choice in the running node
// (DESIGN.md sections 3 and 7), with no sockets and no timers: the network
// layer tells it which peers are connected, hands it their chain messages
// and the time, and it answers through SyncHooks. Unit tests drive it the
// same way.
//
// How a better chain is fetched:
//   1. A peer claims a tip that beats ours (its Hello, a NewBlock, a Headers
//      reply). One GetHeaders at a time goes to the peer with the best claim,
//      carrying a locator (our best header, then our main chain at
//      exponentially growing distances back to genesis).
//   2. Every header is validated against its parent (linkage, schedule,
//      timestamp window, clock drift, signature) before it is kept; an
//      invalid one costs the sender (SyncHooks::invalid_block). The
//      signatures of a Headers message are verified together on the
//      worker pool (every core) while the owner goes on applying blocks
//      (SyncHooks::post brings the result back); the rules then run in
//      order on the owner. No other GetHeaders is sent meanwhile.
//   3. Bodies of the best header chain are fetched in a sliding window
//      (`window` blocks ahead of the tip), split into GetBlocks requests
//      spread over every peer that has shown a tip high enough (claims are
//      hints: only headers, blocks, a locator, or a claimed hash we have
//      validated from another peer show a tip), at most
//      `requests_per_peer` outstanding per peer. A body is checked against
//      its validated header (transactions root, coinbase) when it arrives;
//      its signature is not verified again (the hash commits to it).
//      Blocks are applied in order, a run of them (up to
//      store::kMaxBlocksPerBatch) or a whole reorganisation per store
//      batch, the tip always a whole block.
//   4. A request not answered within the peer's stall timeout is re-issued
//      to another peer; the slow peer's score drops, it rests, its claim is
//      no longer trusted, and its timeout doubles (up to
//      max_stall_timeout). Each timely answer halves it again (down to
//      stall_timeout). The timeout is kept per peer, so one staller never
//      slows the requests to honest peers. The distrust outlives the
//      connection and covers new keys from the same IP, until one serves.
//   5. A block that becomes our tip is announced (NewBlock) to every peer
//      that does not know it yet: not to its source, never twice to a
//      peer. During a long catch-up only the final tip is announced.
//
// Memory is bounded: at most max_pending_headers validated headers without
// bodies, `window` blocks requested or buffered, a bounded set of hashes
// known per peer.
//
// Threads: one owner (the node's strand), like the store it uses.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libcore/chain/block.hpp"
#include "libcore/chain/fork_choice.hpp"
#include "libcore/chain/validation.hpp"
#include "libcore/config/defaults.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/p2p/messages.hpp"

namespace core::store {
class ChainStore;
struct AcceptResult;
}  // namespace core::store
namespace core::metrics {
struct NodeMetrics;
}
namespace core::util {
class WorkerPool;
}

namespace core::node {

using SyncClock = std::chrono::steady_clock;

struct SyncSettings {
  std::chrono::milliseconds stall_timeout = config::defaults::kStallTimeout;         // initial per-peer request timeout
  std::chrono::milliseconds max_stall_timeout = config::defaults::kMaxStallTimeout;  // its cap
  std::int64_t max_clock_drift_ms = config::defaults::kMaxClockDrift.count();
  std::uint64_t max_reorg_depth = config::defaults::kMaxReorgDepth;
  std::size_t window = 1024;                                        // blocks requested or buffered ahead of the tip
  std::size_t max_blocks_per_request = 64;                          // hashes in one GetBlocks
  std::size_t requests_per_peer = 2;                                // GetBlocks outstanding per peer
  std::size_t max_pending_headers = 32768;                          // validated headers whose bodies are not stored yet
  std::size_t max_buffered_bytes = std::size_t{64} << 20;           // received blocks waiting for their parent
  std::size_t max_reply_bytes = config::defaults::kMaxMessageSize;  // a Headers/Blocks reply stays below this
  std::chrono::milliseconds progress_log_interval{5000};

  friend bool operator==(const SyncSettings&, const SyncSettings&) = default;
};

// What the sync layer needs from the network.
struct SyncHooks {
  // Queue a message to a connected peer.
  std::function<void(const crypto::PublicKey& peer, const p2p::Message& message)> send;
  // The peer stalled or broke the protocol; `event` says how much it costs.
  std::function<void(const crypto::PublicKey& peer, p2p::ScoreEvent event, const std::string& detail)> penalise;
  // The peer sent an invalid header or block (never stored).
  std::function<void(const crypto::PublicKey& peer, const chain::BlockError& error)> invalid_block;
  // Runs `fn` later on the owner's thread with the time then. With it (and
  // a pool), a Headers answer's signatures are verified on the pool while
  // the owner goes on applying blocks; the answer is taken when they are
  // done. Without it, the owner waits for them.
  std::function<void(std::function<void(SyncClock::time_point)> fn)> post;
};

// How often the node calls ChainSync::tick.
inline constexpr std::chrono::milliseconds kSyncTick{250};

// /health says "syncing" when the best chain known is at least this many
// blocks ahead of ours (fetching a just-announced block is not syncing).
inline constexpr std::uint64_t kSyncingGap = 2;

struct SyncStatus {
  bool syncing = false;             // behind by kSyncingGap blocks or more
  std::uint64_t height = 0;         // our tip
  std::uint64_t target_height = 0;  // the best validated header we know of (>= height); claims do not count
  std::size_t pending_headers = 0;  // validated, body not stored yet
  std::size_t blocks_in_flight = 0;
  std::size_t blocks_buffered = 0;
  std::uint64_t stalls = 0;
};

// What the sync layer knows of one peer, for GET /peers.
struct SyncPeerView {
  chain::TipRef tip;                           // the best tip it has shown us (headers, blocks)
  chain::TipRef claimed;                       // the best tip it claims (a hint until shown)
  std::uint64_t blocks_received = 0;           // blocks it delivered in answer to our requests
  std::chrono::milliseconds stall_timeout{0};  // its current request timeout
  bool claim_trusted = true;                   // false after it stalled or could not show its claimed chain
};

class ChainSync {
 public:
  // `pool` (optional, outliving this) verifies header signatures on every
  // core; without it they are verified on the owner thread.
  ChainSync(store::ChainStore& store, metrics::NodeMetrics& metrics, SyncSettings settings, SyncHooks hooks,
            util::WorkerPool* pool = nullptr);
  ~ChainSync();
  ChainSync(const ChainSync&) = delete;
  ChainSync& operator=(const ChainSync&) = delete;

  // A peer finished its handshake claiming `tip` (a hint: it counts as
  // shown only if we know that block), connected from `source` (its IP:
  // a new key from an IP whose peer stalled starts distrusted too). It
  // leaves with remove_peer (its outstanding requests go to other peers).
  void add_peer(const crypto::PublicKey& peer, const chain::TipRef& tip, SyncClock::time_point now,
                const std::string& source = "");
  void remove_peer(const crypto::PublicKey& peer, SyncClock::time_point now);
  // The best tip the peer has claimed (Hello, NewBlock) or shown.
  std::optional<chain::TipRef> peer_tip(const crypto::PublicKey& peer) const;
  std::optional<SyncPeerView> peer_view(const crypto::PublicKey& peer) const;

  // Answers to a peer's requests, from our main chain and block store.
  p2p::Headers headers_for(const p2p::GetHeaders& request) const;
  p2p::Blocks blocks_for(const p2p::GetBlocks& request) const;
  // What a peer's requests tell about its chain, so /peers shows its height
  // even when it has nothing to announce to us: the first hash of its
  // locator that we know is its best header; blocks we served it, it has.
  void note_headers_request(const crypto::PublicKey& peer, const p2p::GetHeaders& request);
  void note_blocks_served(const crypto::PublicKey& peer, const p2p::Blocks& reply);

  // Chain messages from a peer.
  void on_headers(const crypto::PublicKey& from, const p2p::Headers& message, SyncClock::time_point now);
  void on_blocks(const crypto::PublicKey& from, const p2p::Blocks& message, SyncClock::time_point now);
  void on_new_block(const crypto::PublicKey& from, const chain::BlockHeader& header, SyncClock::time_point now);

  // A block this node produced: validated and stored like any other, then
  // announced to every peer.
  tl::expected<store::AcceptResult, chain::BlockError> add_own_block(const chain::Block& block,
                                                                     SyncClock::time_point now);

  // Stall checks, new requests, progress logs. Call every few hundred ms.
  void tick(SyncClock::time_point now);

  // True while validated headers of a better chain wait for their bodies
  // and a peer that has shown them (and is not resting after a stall) can
  // serve the next one: a masternode does not produce then. A claim alone
  // (Hello, NewBlock with an unknown parent) never makes it true, and a
  // chain nobody serves is dropped after 2 x max_stall_timeout.
  bool syncing() const;
  SyncStatus status() const;
  // Newest first: our best header (if beyond the tip), then the main chain
  // at tip, tip-1, tip-2, tip-4, ... and genesis. At most kMaxLocator hashes.
  std::vector<crypto::Hash32> locator() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace core::node
