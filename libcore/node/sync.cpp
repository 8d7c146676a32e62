#include "libcore/node/sync.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "libcore/metrics/node_metrics.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"

namespace core::node {

namespace {

using chain::TipRef;
using crypto::Hash32;
using crypto::PublicKey;
using Clock = SyncClock;
using std::chrono::milliseconds;

// Hashes a peer is known to have (it announced them, or we announced them
// to it): bounded, oldest forgotten first.
class KnownHashes {
 public:
  static constexpr std::size_t kCapacity = 4096;
  bool contains(const Hash32& h) const { return set_.count(h) > 0; }
  void insert(const Hash32& h) {
    if (!set_.insert(h).second) return;
    order_.push_back(h);
    if (order_.size() > kCapacity) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }

 private:
  std::set<Hash32> set_;
  std::deque<Hash32> order_;
};

struct BlockRequest {
  std::vector<Hash32> hashes;
  Clock::time_point sent;
  Clock::time_point deadline;
  bool stalled = false;
};

struct PeerSync {
  TipRef tip;
  // False after the peer stalled or could not back its claim with headers;
  // true again when it announces a new block or delivers.
  bool claim_trusted = true;
  // The outstanding GetHeaders (at most one); after a stall it is dropped
  // but a late answer is still taken (late_headers_ok).
  std::optional<Clock::time_point> headers_sent, headers_deadline;
  bool late_headers_ok = false;
  std::deque<BlockRequest> requests;  // outstanding, oldest first; stalled ones kept (bounded) for late answers
  milliseconds timeout{2000};
  Clock::time_point resting_until{};
  std::set<Hash32> lacks;         // hashes it answered without (bounded)
  std::uint32_t unconnected = 0;  // Headers answers in a row that did not connect
  KnownHashes known;
  std::uint64_t blocks_served = 0;
};

std::string short_id(const PublicKey& id) { return id.short_hex(); }

// Requests still within their deadline: what counts against requests_per_peer.
std::size_t active_requests(const PeerSync& p) {
  return static_cast<std::size_t>(
      std::count_if(p.requests.begin(), p.requests.end(), [](const BlockRequest& r) { return !r.stalled; }));
}

// Headers answers in a row that connect to nothing we know before the peer
// is penalised (one can be our fault: a locator naming a dropped header).
constexpr std::uint32_t kMaxUnconnectedHeaders = 3;

// Stalled requests kept per peer for a late answer; older ones are forgotten.
constexpr std::size_t kMaxStalledRequests = 4;

std::string format_eta(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "unknown";
  auto s = static_cast<std::int64_t>(seconds + 0.5);
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s / 60 % 60) + "m";
}

}  // namespace

struct ChainSync::Impl {
  Impl(store::ChainStore& st, metrics::NodeMetrics& me, SyncSettings se, SyncHooks h)
      : store(st), m(me), s(se), hooks(std::move(h)) {}

  store::ChainStore& store;
  metrics::NodeMetrics& m;
  SyncSettings s;
  SyncHooks hooks;

  std::map<PublicKey, PeerSync> peers;
  // Validated headers whose blocks are not stored yet, and the best of them.
  std::map<Hash32, chain::BlockHeader> pending;
  std::optional<TipRef> best_header;
  // The best header's chain from the first missing block, in height order.
  std::deque<Hash32> download;
  std::map<Hash32, PublicKey> in_flight;  // requested, by whom
  struct Received {
    chain::Block block;
    PublicKey source;
    std::size_t bytes;
  };
  std::map<Hash32, Received> received;  // arrived before their parent was applied
  std::size_t buffered_bytes = 0;
  // Blocks whose branch would need a reorganisation deeper than
  // max_reorg_depth, and their descendants: never followed (bounded).
  std::set<Hash32> refused;
  // Peers that stalled, remembered across reconnects until they have rested
  // (so reconnecting does not buy a fresh, trusted claim), with the timeout
  // they had reached. Bounded.
  struct Distrust {
    Clock::time_point until;
    milliseconds timeout;
  };
  std::map<PublicKey, Distrust> distrusted;
  std::size_t rr_cursor = 0;  // round-robin start among peers
  std::uint64_t stalls = 0;
  // The last block applied or request answered; set by the first tick
  // that sees something awaited.
  std::optional<Clock::time_point> last_progress;

  // Progress of a catch-up (a gap of kCatchUpGap blocks or more).
  static constexpr std::uint64_t kCatchUpGap = 10;
  bool catching_up = false;
  Clock::time_point catch_up_started{}, last_log{};
  std::uint64_t catch_up_from = 0, height_at_last_log = 0;

  TipRef tip() const { return store.tip(); }

  chain::ValidationContext context() const {
    return chain::ValidationContext{store.schedule(), util::now_ms(), s.max_clock_drift_ms};
  }

  bool known_block(const Hash32& h) const { return pending.count(h) > 0 || store.has_block(h); }

  std::optional<chain::BlockHeader> header_of(const Hash32& h) const {
    if (auto it = pending.find(h); it != pending.end()) return it->second;
    return store.header(h);
  }

  // The best chain we know of but do not have: best header or trusted claim.
  TipRef target() const {
    TipRef t = tip();
    if (best_header && chain::is_better_tip(*best_header, t)) t = *best_header;
    for (const auto& [id, p] : peers)
      if (p.claim_trusted && !refused.count(p.tip.hash) && chain::is_better_tip(p.tip, t)) t = p.tip;
    return t;
  }

  bool syncing() const {
    if (!download.empty()) return true;
    const auto ours = tip();
    for (const auto& [id, p] : peers)
      if (p.claim_trusted && !refused.count(p.tip.hash) && chain::is_better_tip(p.tip, ours)) return true;
    return false;
  }

  // ------------------------------------------------------------ peers

  PeerSync* peer(const PublicKey& id) {
    auto it = peers.find(id);
    return it == peers.end() ? nullptr : &it->second;
  }

  void learn_tip(const PublicKey& id, PeerSync& p, const TipRef& t) {
    if (chain::is_better_tip(t, p.tip)) {
      p.tip = t;
      m.peer_height.with({id.hex()}).set(static_cast<double>(t.height));
    }
    p.known.insert(t.hash);
  }

  // A timely answer: the peer's timeout shrinks back towards stall_timeout.
  void answered(const PublicKey& id, PeerSync& p, Clock::time_point now) {
    p.timeout = std::max(s.stall_timeout, p.timeout / 2);
    trust(id, p);
    last_progress = now;
  }

  void stalled(const PublicKey& id, PeerSync& p, Clock::time_point now, const std::string& what) {
    ++stalls;
    m.sync_stalls.inc();
    const auto waited = p.timeout;
    p.timeout = std::min(s.max_stall_timeout, p.timeout * 2);
    p.resting_until = now + p.timeout;
    p.claim_trusted = false;
    if (distrusted.size() >= 4096) distrusted.clear();
    distrusted[id] = Distrust{p.resting_until, p.timeout};
    spdlog::info("sync: peer {} did not answer {} within {}; asking other peers (its timeout is now {})", short_id(id),
                 what, util::format_duration(waited), util::format_duration(p.timeout));
    if (hooks.penalise) hooks.penalise(id, p2p::ScoreEvent::Stalled, "no answer to " + what);
  }

  // The peer earned its claim back: also forget that it once stalled.
  void trust(const PublicKey& id, PeerSync& p) {
    p.claim_trusted = true;
    distrusted.erase(id);
  }

  void forget_requests_of(const PublicKey& id) {
    for (auto it = in_flight.begin(); it != in_flight.end();)
      it = it->second == id ? in_flight.erase(it) : std::next(it);
  }

  // ------------------------------------------------------------ headers

  // Keeps a validated header. Returns false when the pending set is full.
  bool add_pending(const chain::BlockHeader& h, const Hash32& hash) {
    if (pending.size() >= s.max_pending_headers) return false;
    pending.emplace(hash, h);
    const TipRef t{h.height, hash};
    if (chain::is_better_tip(t, tip()) && (!best_header || chain::is_better_tip(t, *best_header))) {
      const bool extends = best_header && h.parent == best_header->hash && !download.empty();
      best_header = t;
      if (extends)
        download.push_back(hash);
      else
        rebuild_download();
    }
    return true;
  }

  void rebuild_download() {
    download.clear();
    if (!best_header) return;
    std::vector<Hash32> chain;
    Hash32 cursor = best_header->hash;
    for (;;) {
      auto it = pending.find(cursor);
      if (it == pending.end()) break;
      chain.push_back(cursor);
      cursor = it->second.parent;
    }
    if (!store.has_block(cursor)) {
      // Cannot happen while pending only holds headers with known parents;
      // drop the branch rather than wait for it forever.
      spdlog::warn("sync: best header {} does not connect to the store; dropping it", best_header->hash.short_hex());
      clear_pending();
      return;
    }
    download.assign(chain.rbegin(), chain.rend());
  }

  void clear_pending() {
    pending.clear();
    best_header.reset();
    download.clear();
    in_flight.clear();
    received.clear();
    buffered_bytes = 0;
  }

  // The best header no longer beats our tip (we have it, or something
  // better): every pending header is on a branch that is not better.
  void check_best() {
    if (best_header && !chain::is_better_tip(*best_header, tip())) clear_pending();
  }

  void refuse(const Hash32& h) {
    if (refused.size() > 16384) refused.clear();
    refused.insert(h);
  }

  void on_headers(const PublicKey& from, const p2p::Headers& msg, Clock::time_point now) {
    auto* p = peer(from);
    if (!p) return;
    if (!p->headers_sent && !p->late_headers_ok) {
      spdlog::debug("sync: ignoring unsolicited headers from {}", short_id(from));
      return;
    }
    if (p->headers_sent) answered(from, *p, now);
    p->headers_sent.reset();
    p->headers_deadline.reset();
    p->late_headers_ok = false;
    p->lacks.clear();

    if (msg.headers.empty()) {
      // Nothing after our locator: whatever it claimed, it cannot show us.
      if (chain::is_better_tip(p->tip, tip()) && !known_block(p->tip.hash)) {
        spdlog::debug("sync: {} claims tip {} at {} but has no headers after our locator", short_id(from),
                      p->tip.hash.short_hex(), p->tip.height);
        p->claim_trusted = false;
      }
      pump(now);
      return;
    }
    const auto first_parent = header_of(msg.headers.front().parent);
    if (!first_parent) {
      // Our locator may have named a header we have dropped since we asked
      // (our chain moved on): ask again with a fresh one. Only a peer that
      // keeps answering with headers that connect to nothing misbehaves.
      if (++p->unconnected >= kMaxUnconnectedHeaders) {
        if (hooks.penalise)
          hooks.penalise(from, p2p::ScoreEvent::ProtocolViolation, "headers that do not connect to our locator");
        p->claim_trusted = false;
        p->unconnected = 0;
      }
      pump(now);
      return;
    }
    p->unconnected = 0;
    const auto ctx = context();
    chain::BlockHeader parent = *first_parent;
    Hash32 parent_hash = msg.headers.front().parent;
    bool full = false;
    for (const auto& h : msg.headers) {
      if (h.parent != parent_hash) {
        if (hooks.penalise) hooks.penalise(from, p2p::ScoreEvent::ProtocolViolation, "headers are not a chain");
        p->claim_trusted = false;
        break;
      }
      const auto hash = h.hash();
      if (refused.count(h.parent)) {
        refuse(hash);
      } else if (!known_block(hash)) {
        if (auto ok = chain::check_header(h, parent, ctx); !ok) {
          p->claim_trusted = false;
          if (hooks.invalid_block) hooks.invalid_block(from, ok.error());
          break;
        }
        if (!add_pending(h, hash)) {
          full = true;
          break;
        }
      }
      learn_tip(from, *p, TipRef{h.height, hash});
      parent = h;
      parent_hash = hash;
    }
    if (full) spdlog::debug("sync: {} headers wait for their blocks; asking for more later", pending.size());
    pump(now);
  }

  // ------------------------------------------------------------ blocks

  void on_blocks(const PublicKey& from, const p2p::Blocks& msg, Clock::time_point now) {
    auto* p = peer(from);
    if (!p) return;
    // The request this answers: the one holding its first block (answers
    // come in order, but stalled requests may have been forgotten), or the
    // oldest for an empty answer.
    auto match = p->requests.begin();
    if (!msg.blocks.empty()) {
      const auto first = msg.blocks.front().hash();
      match = std::find_if(p->requests.begin(), p->requests.end(), [&](const BlockRequest& r) {
        return std::find(r.hashes.begin(), r.hashes.end(), first) != r.hashes.end();
      });
    }
    if (match == p->requests.end()) {
      spdlog::debug("sync: ignoring unsolicited blocks from {}", short_id(from));
      return;
    }
    BlockRequest request = std::move(*match);
    p->requests.erase(match);
    if (!request.stalled) answered(from, *p, now);
    std::set<Hash32> asked(request.hashes.begin(), request.hashes.end());
    for (const auto& b : msg.blocks) {
      const auto hash = b.hash();
      if (!asked.erase(hash)) {
        if (hooks.penalise) hooks.penalise(from, p2p::ScoreEvent::ProtocolViolation, "a block it was not asked for");
        continue;
      }
      if (auto it = in_flight.find(hash); it != in_flight.end() && it->second == from) in_flight.erase(it);
      if (!pending.count(hash) || received.count(hash) || store.has_block(hash)) continue;
      if (auto ok = chain::check_body(b); !ok) {
        if (hooks.invalid_block) hooks.invalid_block(from, ok.error());
        continue;
      }
      const std::size_t bytes = chain::kHeaderSize + 128 * b.transactions.size();
      buffered_bytes += bytes;
      received.emplace(hash, Received{b, from, bytes});
      ++p->blocks_served;
    }
    // What it did not send, it does not have (or not on its best chain).
    for (const auto& hash : asked) {
      if (p->lacks.size() > 8192) p->lacks.clear();
      p->lacks.insert(hash);
      if (auto it = in_flight.find(hash); it != in_flight.end() && it->second == from) in_flight.erase(it);
    }
    apply_ready(now);
    pump(now);
  }

  // Applies received blocks in order from the front of the download chain.
  void apply_ready(Clock::time_point now) {
    const auto before = tip();
    std::optional<PublicKey> last_source;
    while (!download.empty()) {
      const Hash32 hash = download.front();
      if (store.has_block(hash)) {
        pending.erase(hash);
        download.pop_front();
        continue;
      }
      auto it = received.find(hash);
      if (it == received.end()) break;
      Received r = std::move(it->second);
      received.erase(it);
      buffered_bytes -= std::min(buffered_bytes, r.bytes);
      auto accepted = accept(r.block, r.source);
      if (!accepted) {
        // Its header was valid; the store refused it on a second look
        // (time moved, or the body): ask someone else.
        if (auto* src = peer(r.source)) src->lacks.insert(hash);
        break;
      }
      download.pop_front();
      pending.erase(hash);
      last_progress = now;
      last_source = r.source;
      if (accepted->status == store::AcceptStatus::ReorgTooDeep) {
        refuse(hash);
        if (auto* src = peer(r.source)) src->claim_trusted = false;
        clear_pending();
        break;
      }
    }
    if (pending.empty()) best_header.reset();
    check_best();
    const auto after = tip();
    if (after != before && download.empty())
      if (auto h = store.header(after.hash)) announce(*h, after.hash, last_source);
  }

  std::optional<store::AcceptResult> accept(const chain::Block& block, const std::optional<PublicKey>& source) {
    store::AcceptOptions options;
    options.max_clock_drift_ms = s.max_clock_drift_ms;
    options.max_reorg_depth = s.max_reorg_depth;
    auto r = store.accept_block(block, options);
    if (!r) {
      if (source && hooks.invalid_block) hooks.invalid_block(*source, r.error());
      return std::nullopt;
    }
    const auto from = source ? short_id(*source) : std::string("this node");
    switch (r->status) {
      case store::AcceptStatus::Extended:
        spdlog::debug("chain: height {} {} from {}", r->tip.height, r->tip.hash.short_hex(), from);
        break;
      case store::AcceptStatus::Reorganized:
        m.reorgs.inc();
        spdlog::warn("chain: reorganisation of depth {}: new tip {} at height {} (block from {})", r->reorg_depth,
                     r->tip.hash.short_hex(), r->tip.height, from);
        break;
      case store::AcceptStatus::SideBranch:
        spdlog::debug("chain: stored side-branch block {} at height {} from {}", block.hash().short_hex(),
                      block.header.height, from);
        break;
      case store::AcceptStatus::ReorgTooDeep:
        spdlog::error(
            "chain: not following block {} at height {} from {}: it needs a reorganisation of {} blocks, over "
            "chain.max_reorg_depth {}",
            block.hash().short_hex(), block.header.height, from, r->reorg_depth, s.max_reorg_depth);
        break;
      case store::AcceptStatus::AlreadyKnown:
        return r.value();
    }
    if (source) m.blocks_received.inc();
    m.chain_height.set(static_cast<double>(r->tip.height));
    return r.value();
  }

  void announce(const chain::BlockHeader& h, const Hash32& hash, const std::optional<PublicKey>& source) {
    for (auto& [id, p] : peers) {
      const bool skip = (source && id == *source) || p.known.contains(hash);
      p.known.insert(hash);
      if (skip || !hooks.send) continue;
      const p2p::Message announcement = p2p::NewBlock{h};
      hooks.send(id, announcement);
    }
  }

  void on_new_block(const PublicKey& from, const chain::BlockHeader& h, Clock::time_point now) {
    auto* p = peer(from);
    if (!p) return;
    const auto hash = h.hash();
    learn_tip(from, *p, TipRef{h.height, hash});
    p->lacks.clear();
    if (!known_block(hash) && !refused.count(h.parent)) {
      if (auto parent = header_of(h.parent)) {
        if (auto ok = chain::check_header(h, *parent, context()); !ok) {
          p->claim_trusted = false;
          if (hooks.invalid_block) hooks.invalid_block(from, ok.error());
          return;
        }
        // A valid header it can be asked for: its claim is good again.
        trust(from, *p);
        add_pending(h, hash);
      }
      // Unknown parent: a trusted peer's better claim makes pump() ask it
      // for headers; a peer that stalled earns trust back only by answering.
    }
    check_best();
    pump(now);
  }

  // ------------------------------------------------------------ requests

  void pump(Clock::time_point now) {
    check_best();
    request_headers(now);
    request_blocks(now);
    log_progress(now);
  }

  void request_headers(Clock::time_point now) {
    for (const auto& [id, p] : peers)
      if (p.headers_sent) return;  // one at a time
    if (pending.size() >= s.max_pending_headers) return;
    TipRef have = tip();
    if (best_header && chain::is_better_tip(*best_header, have)) have = *best_header;
    // The best trusted claim; failing that, the best claim of a peer that
    // stalled before and has rested: it is asked again (its timeout has
    // grown), but its claim counts for syncing() only once it answers.
    const PublicKey* best = nullptr;
    for (const bool trusted_only : {true, false}) {
      TipRef best_claim = have;
      for (const auto& [id, p] : peers) {
        if ((trusted_only && !p.claim_trusted) || p.headers_sent || now < p.resting_until) continue;
        if (refused.count(p.tip.hash) || known_block(p.tip.hash)) continue;
        if (chain::is_better_tip(p.tip, best_claim)) {
          best_claim = p.tip;
          best = &id;
        }
      }
      if (best) break;
    }
    if (!best) return;
    auto& p = peers[*best];
    p2p::GetHeaders request;
    request.locator = locator();
    request.limit = p2p::kMaxHeadersPerMessage;
    p.headers_sent = now;
    p.headers_deadline = now + p.timeout;
    spdlog::debug("sync: asking {} for headers after {} (it claims height {})", short_id(*best),
                  request.locator.front().short_hex(), p.tip.height);
    if (hooks.send) hooks.send(*best, request);
  }

  void request_blocks(Clock::time_point now) {
    if (download.empty() || buffered_bytes >= s.max_buffered_bytes) return;
    std::vector<std::pair<Hash32, std::uint64_t>> wanted;  // hash, height
    const std::size_t span = std::min(s.window, download.size());
    for (std::size_t i = 0; i < span; ++i) {
      const auto& h = download[i];
      if (in_flight.count(h) || received.count(h)) continue;
      auto it = pending.find(h);
      if (it == pending.end()) continue;
      wanted.emplace_back(h, it->second.height);
    }
    if (wanted.empty()) return;
    std::vector<const PublicKey*> eligible;
    for (const auto& [id, p] : peers)
      if (active_requests(p) < s.requests_per_peer && now >= p.resting_until && p.tip.height >= wanted.front().second)
        eligible.push_back(&id);
    if (eligible.empty()) return;
    // Spread: every eligible peer gets a share, none more than a request's worth.
    const std::size_t share =
        std::clamp<std::size_t>((wanted.size() + eligible.size() - 1) / eligible.size(), 1, s.max_blocks_per_request);
    std::vector<bool> taken(wanted.size(), false);
    const std::size_t start = rr_cursor++ % eligible.size();
    // Round by round, one request per peer that still has room, so the work
    // is spread before any peer gets a second request.
    for (bool progress = true; progress;) {
      progress = false;
      for (std::size_t k = 0; k < eligible.size(); ++k) {
        const PublicKey& id = *eligible[(start + k) % eligible.size()];
        auto& p = peers[id];
        if (active_requests(p) >= s.requests_per_peer) continue;
        BlockRequest request;
        for (std::size_t i = 0; i < wanted.size() && request.hashes.size() < share; ++i) {
          if (taken[i] || p.lacks.count(wanted[i].first) || wanted[i].second > p.tip.height) continue;
          taken[i] = true;
          request.hashes.push_back(wanted[i].first);
        }
        if (request.hashes.empty()) continue;
        progress = true;
        request.sent = now;
        request.deadline = now + p.timeout;
        for (const auto& h : request.hashes) in_flight[h] = id;
        p2p::GetBlocks message;
        message.hashes = request.hashes;
        p.requests.push_back(std::move(request));
        if (hooks.send) hooks.send(id, message);
      }
    }
  }

  // ------------------------------------------------------------ ticking

  void tick(Clock::time_point now) {
    for (auto& [id, p] : peers) {
      std::string what;
      if (p.headers_deadline && now >= *p.headers_deadline) {
        p.headers_sent.reset();
        p.headers_deadline.reset();
        p.late_headers_ok = true;
        what = "a headers request";
      }
      std::size_t blocks = 0;
      for (auto& r : p.requests) {
        if (r.stalled || now < r.deadline) continue;
        r.stalled = true;
        blocks += r.hashes.size();
        for (const auto& h : r.hashes)
          if (auto it = in_flight.find(h); it != in_flight.end() && it->second == id) in_flight.erase(it);
      }
      if (blocks > 0)
        what += (what.empty() ? "" : " and ") + std::string("a request for ") + std::to_string(blocks) + " blocks";
      // One silence is one stall, however many requests it left unanswered.
      if (!what.empty()) stalled(id, p, now, what);
      while (p.requests.size() > s.requests_per_peer + kMaxStalledRequests) {
        auto oldest =
            std::find_if(p.requests.begin(), p.requests.end(), [](const BlockRequest& r) { return r.stalled; });
        if (oldest == p.requests.end()) break;
        p.requests.erase(oldest);
      }
    }
    // The bodies of the best header chain have not advanced for
    // 2 x max_stall_timeout: whoever announced them does not serve them.
    // Drop that chain rather than stay "syncing" (and not producing)
    // forever; a peer that has it will offer it again.
    if (download.empty() || !last_progress) last_progress = now;  // the clock runs only while something is awaited
    if (!download.empty() && best_header && now - *last_progress > 2 * s.max_stall_timeout) {
      spdlog::warn("sync: no peer served the blocks of header {} at height {} for {}; dropping that chain",
                   best_header->hash.short_hex(), best_header->height,
                   util::format_duration(std::chrono::duration_cast<milliseconds>(now - *last_progress)));
      clear_pending();
      last_progress = now;
    }
    pump(now);
  }

  void log_progress(Clock::time_point now) {
    const auto height = tip().height;
    const auto goal = target();
    const bool behind = syncing();
    if (!catching_up) {
      if (behind && goal.height >= height + kCatchUpGap) {
        catching_up = true;
        catch_up_started = last_log = now;
        catch_up_from = height_at_last_log = height;
        spdlog::info("sync: catching up from height {} to {} ({} blocks behind)", height, goal.height,
                     goal.height - height);
      }
      return;
    }
    if (!behind) {
      catching_up = false;
      const double secs = std::chrono::duration<double>(now - catch_up_started).count();
      spdlog::info("sync: caught up at height {}: {} blocks in {:.1f}s", height, height - catch_up_from, secs);
      return;
    }
    if (now - last_log < s.progress_log_interval) return;
    const double secs = std::chrono::duration<double>(now - last_log).count();
    const double rate = secs > 0 ? static_cast<double>(height - std::min(height, height_at_last_log)) / secs : 0;
    const auto left = goal.height > height ? goal.height - height : 0;
    std::size_t serving = 0;
    for (const auto& [id, p] : peers) serving += p.requests.empty() ? 0 : 1;
    spdlog::info("sync: height {} of {} ({:.1f}%), {:.0f} blocks/s, ETA {}, {} peers serving", height, goal.height,
                 goal.height ? 100.0 * static_cast<double>(height) / static_cast<double>(goal.height) : 100.0, rate,
                 rate > 0 ? format_eta(static_cast<double>(left) / rate) : std::string("unknown"), serving);
    last_log = now;
    height_at_last_log = height;
  }

  // ------------------------------------------------------------ serving

  std::vector<Hash32> locator() const {
    std::vector<Hash32> out;
    const auto t = tip();
    if (best_header && chain::is_better_tip(*best_header, t)) out.push_back(best_header->hash);
    std::uint64_t step = 1;
    std::uint64_t h = t.height;
    while (out.size() + 1 < p2p::kMaxLocator) {
      if (auto hash = store.hash_at(h)) out.push_back(*hash);
      if (h == 0) break;
      if (out.size() > 8) step *= 2;
      h = h > step ? h - step : 0;
    }
    if (h != 0)
      if (auto genesis = store.hash_at(0)) out.push_back(*genesis);
    return out;
  }

  p2p::Headers headers_for(const p2p::GetHeaders& request) const {
    p2p::Headers reply;
    std::uint64_t from = 1;
    for (const auto& hash : request.locator) {
      auto h = store.header(hash);
      if (!h) continue;
      if (store.hash_at(h->height) == hash) {
        from = h->height + 1;
        break;
      }
    }
    const auto limit = std::min<std::uint32_t>(request.limit, p2p::kMaxHeadersPerMessage);
    const auto top = tip().height;
    std::size_t bytes = 0;
    for (std::uint64_t height = from; height <= top && reply.headers.size() < limit; ++height) {
      auto hash = store.hash_at(height);
      if (!hash) break;
      auto h = store.header(*hash);
      if (!h) break;
      bytes += chain::kHeaderSize;
      if (bytes + 64 > s.max_reply_bytes) break;
      reply.headers.push_back(std::move(*h));
    }
    return reply;
  }

  p2p::Blocks blocks_for(const p2p::GetBlocks& request) const {
    p2p::Blocks reply;
    std::size_t bytes = 64;
    for (const auto& hash : request.hashes) {
      if (reply.blocks.size() >= p2p::kMaxBlocksPerMessage) break;
      auto b = store.block(hash);
      if (!b) continue;
      const auto size = chain::encode(*b).size() + 8;
      if (bytes + size > s.max_reply_bytes) break;
      bytes += size;
      reply.blocks.push_back(std::move(*b));
    }
    return reply;
  }
};

ChainSync::ChainSync(store::ChainStore& store, metrics::NodeMetrics& metrics, SyncSettings settings, SyncHooks hooks)
    : impl_(std::make_unique<Impl>(store, metrics, settings, std::move(hooks))) {
  // A configured stall_timeout above the usual cap raises the cap with it.
  impl_->s.max_stall_timeout = std::max(impl_->s.max_stall_timeout, impl_->s.stall_timeout);
  impl_->m.chain_height.set(static_cast<double>(store.tip().height));
}

ChainSync::~ChainSync() = default;

void ChainSync::add_peer(const crypto::PublicKey& peer, const chain::TipRef& tip, SyncClock::time_point now) {
  auto& p = impl_->peers[peer];
  p = PeerSync{};
  p.tip = tip;
  p.timeout = impl_->s.stall_timeout;
  p.known.insert(tip.hash);
  impl_->m.peer_height.with({peer.hex()}).set(static_cast<double>(tip.height));
  if (auto it = impl_->distrusted.find(peer); it != impl_->distrusted.end()) {
    if (now < it->second.until) {
      p.claim_trusted = false;
      p.resting_until = it->second.until;
      p.timeout = it->second.timeout;
    } else {
      impl_->distrusted.erase(it);
    }
  }
  impl_->pump(now);
}

void ChainSync::remove_peer(const crypto::PublicKey& peer, SyncClock::time_point now) {
  if (impl_->peers.erase(peer) == 0) return;
  impl_->m.peer_height.remove({peer.hex()});
  impl_->forget_requests_of(peer);
  impl_->pump(now);
}

std::optional<chain::TipRef> ChainSync::peer_tip(const crypto::PublicKey& peer) const {
  auto it = impl_->peers.find(peer);
  if (it == impl_->peers.end()) return std::nullopt;
  return it->second.tip;
}

std::optional<SyncPeerView> ChainSync::peer_view(const crypto::PublicKey& peer) const {
  auto it = impl_->peers.find(peer);
  if (it == impl_->peers.end()) return std::nullopt;
  const auto& p = it->second;
  return SyncPeerView{p.tip, p.blocks_served, p.timeout, p.claim_trusted};
}

p2p::Headers ChainSync::headers_for(const p2p::GetHeaders& request) const { return impl_->headers_for(request); }
p2p::Blocks ChainSync::blocks_for(const p2p::GetBlocks& request) const { return impl_->blocks_for(request); }

void ChainSync::note_headers_request(const crypto::PublicKey& peer, const p2p::GetHeaders& request) {
  auto* p = impl_->peer(peer);
  if (!p || request.locator.empty()) return;
  if (auto h = impl_->store.header(request.locator.front()))
    impl_->learn_tip(peer, *p, chain::TipRef{h->height, request.locator.front()});
}

void ChainSync::note_blocks_served(const crypto::PublicKey& peer, const p2p::Blocks& reply) {
  auto* p = impl_->peer(peer);
  if (!p) return;
  for (const auto& b : reply.blocks) impl_->learn_tip(peer, *p, chain::TipRef{b.header.height, b.hash()});
}

void ChainSync::on_headers(const crypto::PublicKey& from, const p2p::Headers& message, SyncClock::time_point now) {
  impl_->on_headers(from, message, now);
}

void ChainSync::on_blocks(const crypto::PublicKey& from, const p2p::Blocks& message, SyncClock::time_point now) {
  impl_->on_blocks(from, message, now);
}

void ChainSync::on_new_block(const crypto::PublicKey& from, const chain::BlockHeader& header,
                             SyncClock::time_point now) {
  impl_->on_new_block(from, header, now);
}

tl::expected<store::AcceptResult, chain::BlockError> ChainSync::add_own_block(const chain::Block& block,
                                                                              SyncClock::time_point now) {
  auto& im = *impl_;
  store::AcceptOptions options;
  options.max_clock_drift_ms = im.s.max_clock_drift_ms;
  options.max_reorg_depth = im.s.max_reorg_depth;
  auto r = im.store.accept_block(block, options);
  if (!r) return r;
  im.m.blocks_produced.inc();
  im.m.chain_height.set(static_cast<double>(r->tip.height));
  if (r->status == store::AcceptStatus::Extended || r->status == store::AcceptStatus::Reorganized)
    im.announce(block.header, block.hash(), std::nullopt);
  im.check_best();
  im.pump(now);
  return r;
}

void ChainSync::tick(SyncClock::time_point now) { impl_->tick(now); }
bool ChainSync::syncing() const { return impl_->syncing(); }

SyncStatus ChainSync::status() const {
  SyncStatus st;
  st.height = impl_->tip().height;
  st.target_height = std::max(st.height, impl_->target().height);
  // Fetching the one block just announced is following, not syncing.
  st.syncing = impl_->syncing() && st.target_height >= st.height + kSyncingGap;
  st.pending_headers = impl_->pending.size();
  st.blocks_in_flight = impl_->in_flight.size();
  st.blocks_buffered = impl_->received.size();
  st.stalls = impl_->stalls;
  return st;
}

std::vector<crypto::Hash32> ChainSync::locator() const { return impl_->locator(); }

}  // namespace core::node
