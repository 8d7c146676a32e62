#pragma once
// ChainSync's state and steps (sync.hpp), shared by its two source files:
// sync.cpp (what peers send: headers, blocks, announcements; validation,
// application, relay) and sync_requests.cpp (what to ask whom and when:
// headers and block requests, stalls, the locator, progress). Internal to
// those files.
//
// Threads: the owner of the ChainSync.

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libcore/metrics/node_metrics.hpp"
#include "libcore/node/sync.hpp"
#include "libcore/node/sync_peer.hpp"
#include "libcore/node/sync_progress.hpp"
#include "libcore/store/chain_store.hpp"

namespace core::node {

// The names sync.cpp and sync_requests.cpp use (this header is theirs only).
using chain::TipRef;
using crypto::Hash32;
using crypto::PublicKey;
using Clock = SyncClock;
using std::chrono::milliseconds;

// Peers that stalled, remembered across reconnects: at most this many.
inline constexpr std::size_t kMaxDistrusted = 4096;
// Block hashes refused (their branch needs too deep a reorganisation): at most this many.
inline constexpr std::size_t kMaxRefused = 16384;
// A received block waiting for its parent is counted as its header plus
// this many bytes per transaction (against max_buffered_bytes).
inline constexpr std::size_t kBufferedBytesPerTx = 128;
// A chain whose bodies no peer serves for this many max_stall_timeouts is dropped.
inline constexpr int kUnservedChainStalls = 2;
// Headers answers verified at once on the pool: the next GetHeaders goes
// out (after the last header of the newest one) while one is verified.
inline constexpr std::size_t kMaxHeaderBatches = 2;
// The locator lists this many most recent heights one by one before its
// steps start doubling.
inline constexpr std::size_t kLocatorDense = 8;

inline std::string short_id(const crypto::PublicKey& id) { return id.short_hex(); }

struct ChainSync::Impl {
  Impl(store::ChainStore& st, metrics::NodeMetrics& me, SyncSettings se, SyncHooks h, util::WorkerPool* p)
      : store(st), m(me), s(se), hooks(std::move(h)), pool(p), progress(se.progress_log_interval) {}

  store::ChainStore& store;
  metrics::NodeMetrics& m;
  SyncSettings s;
  SyncHooks hooks;
  util::WorkerPool* pool;  // verifies signatures; may be null

  std::map<crypto::PublicKey, PeerSync> peers;
  // Validated headers whose blocks are not stored yet, and the best of them.
  std::map<crypto::Hash32, chain::BlockHeader> pending;
  std::optional<chain::TipRef> best_header;
  // The best header's chain from the first missing block, in height order.
  std::deque<crypto::Hash32> download;
  std::map<crypto::Hash32, crypto::PublicKey> in_flight;  // requested, by whom
  struct Received {
    chain::Block block;
    crypto::PublicKey source;
    std::size_t bytes;
  };
  std::map<crypto::Hash32, Received> received;  // arrived before their parent was applied
  std::size_t buffered_bytes = 0;
  // Blocks whose branch would need a reorganisation deeper than
  // max_reorg_depth, and their descendants: never followed (bounded).
  std::set<crypto::Hash32> refused;
  // Peers that stalled, remembered across reconnects until they have rested
  // (so reconnecting does not buy a fresh, trusted claim), with the timeout
  // they had reached. Bounded.
  struct Distrust {
    SyncClock::time_point until;
    std::chrono::milliseconds timeout;
  };
  std::map<crypto::PublicKey, Distrust> distrusted;
  // The same by source IP: a new key from an IP that stalled starts
  // distrusted too, until a peer from it serves. Bounded.
  std::map<std::string, Distrust> distrusted_ips;
  // The time of the last step (pump), for the const queries.
  SyncClock::time_point last_now{};
  std::size_t rr_cursor = 0;  // round-robin start among peers
  std::uint64_t stalls = 0;
  // The last block applied or request answered; set by the first tick
  // that sees something awaited.
  std::optional<SyncClock::time_point> last_progress;

  // Headers answers whose signatures are being verified on the pool, in
  // the order they came (at most kMaxHeaderBatches); each is taken, in
  // that order, once it and those before it are verified. A token the
  // posted results check: they are dropped if this ChainSync is gone.
  struct HeaderBatch {
    crypto::PublicKey from;
    std::vector<chain::BlockHeader> headers;
    std::vector<crypto::Hash32> hashes;
    std::vector<chain::BlockHeader> unknown;  // the ones to verify
    std::vector<std::size_t> unknown_at;      // headers[i] is unknown[unknown_at[i]], or SIZE_MAX
    std::vector<char> signature_ok;           // per unknown
    bool verified = false;
  };
  std::deque<std::shared_ptr<HeaderBatch>> header_batches;
  std::shared_ptr<int> alive = std::make_shared<int>(0);
  // Headers not yet taken but being verified (they count against max_pending_headers).
  std::size_t headers_verifying() const {
    std::size_t n = 0;
    for (const auto& b : header_batches) n += b->unknown.size();
    return n;
  }
  void take_verified_headers(SyncClock::time_point now);

  SyncProgress progress;
  chain::TipRef tip() const { return store.tip(); }

  chain::ValidationContext context() const;
  bool known_block(const crypto::Hash32& h) const { return pending.count(h) > 0 || store.has_block(h); }

  std::optional<chain::BlockHeader> header_of(const crypto::Hash32& h) const;
  chain::TipRef target() const;
  bool syncing() const;

  // ------------------------------------------------------------ peers

  PeerSync* peer(const crypto::PublicKey& id);
  void learn_tip(const crypto::PublicKey& id, PeerSync& p, const chain::TipRef& t);
  void prove(const crypto::PublicKey& id, PeerSync& p, const chain::TipRef& t);
  void promote_claims();
  void distrust(const crypto::PublicKey& id, const PeerSync& p);
  void answered(const crypto::PublicKey& id, PeerSync& p, SyncClock::time_point now);
  void stalled(const crypto::PublicKey& id, PeerSync& p, SyncClock::time_point now, const std::string& what);
  void trust(const crypto::PublicKey& id, PeerSync& p);
  void forget_requests_of(const crypto::PublicKey& id);

  // ------------------------------------------------------------ headers

  bool add_pending(const chain::BlockHeader& h, const crypto::Hash32& hash);
  void rebuild_download();
  void clear_pending();
  void check_best();
  void refuse(const crypto::Hash32& h);
  void on_headers(const crypto::PublicKey& from, const p2p::Headers& msg, SyncClock::time_point now);
  void take_headers(const HeaderBatch& batch, SyncClock::time_point now);
  void unconnected_headers(const crypto::PublicKey& from, PeerSync& p);

  // ------------------------------------------------------------ blocks

  void on_blocks(const crypto::PublicKey& from, const p2p::Blocks& msg, SyncClock::time_point now);
  void apply_ready(SyncClock::time_point now);
  void apply_ready_done(const chain::TipRef& before, const std::optional<crypto::PublicKey>& last_source);
  store::AcceptOptions accept_options() const;
  // `tip_before`: the tip before `block` was accepted.
  void log_accepted(const chain::Block& block, const store::AcceptResult& r,
                    const std::optional<crypto::PublicKey>& source, const chain::TipRef& tip_before);
  void announce(const chain::BlockHeader& h, const crypto::Hash32& hash,
                const std::optional<crypto::PublicKey>& source);
  void on_new_block(const crypto::PublicKey& from, const chain::BlockHeader& h, SyncClock::time_point now);

  // ------------------------------------------------------------ requests

  void pump(SyncClock::time_point now);
  void request_headers(SyncClock::time_point now);
  void request_blocks(SyncClock::time_point now);

  // ------------------------------------------------------------ ticking

  void tick(SyncClock::time_point now);
  void log_progress(SyncClock::time_point now);

  // ------------------------------------------------------------ locator

  std::vector<crypto::Hash32> locator() const;
};

}  // namespace core::node
