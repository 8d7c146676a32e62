#include "libcore/node/sync.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "libcore/metrics/node_metrics.hpp"
#include "libcore/node/chain_server.hpp"
#include "libcore/node/sync_impl.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/log_event.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"

namespace core::node {

chain::ValidationContext ChainSync::Impl::context() const {
  return chain::ValidationContext{store.schedule(), util::now_ms(), s.max_clock_drift_ms};
}

std::optional<chain::BlockHeader> ChainSync::Impl::header_of(const Hash32& h) const {
  if (auto it = pending.find(h); it != pending.end()) return it->second;
  return store.header(h);
}

// The best chain we know of: our tip, or the best validated header beyond
// it. Claims are hints: they never make a target.
TipRef ChainSync::Impl::target() const {
  TipRef t = tip();
  if (best_header && chain::is_better_tip(*best_header, t)) t = *best_header;
  return t;
}

// Validated headers of a better chain wait for bodies, and a peer that has
// shown them (and is not resting after a stall) can serve the next one.
bool ChainSync::Impl::syncing() const {
  if (download.empty()) return false;
  const auto next = pending.find(download.front());
  if (next == pending.end()) return false;
  return std::any_of(peers.begin(), peers.end(), [&](const auto& kv) {
    const auto& p = kv.second;
    return p.proven.height >= next->second.height && last_now >= p.resting_until;
  });
}

PeerSync* ChainSync::Impl::peer(const PublicKey& id) {
  auto it = peers.find(id);
  return it == peers.end() ? nullptr : &it->second;
}

// A claim (or better: a tip it has shown).
void ChainSync::Impl::learn_tip(const PublicKey& id, PeerSync& p, const TipRef& t) {
  (void)id;
  if (chain::is_better_tip(t, p.tip)) p.tip = t;
  p.known.insert(t.hash);
}

// A tip the peer has shown (what tnode_peer_height and /peers report).
void ChainSync::Impl::prove(const PublicKey& id, PeerSync& p, const TipRef& t) {
  learn_tip(id, p, t);
  if (!chain::is_better_tip(t, p.proven)) return;
  p.proven = t;
  m.peer_height.with({id.hex()}).set(static_cast<double>(t.height));
}

// The peer earned its claim back: also forget that it (or its IP) stalled.
void ChainSync::Impl::trust(const PublicKey& id, PeerSync& p) {
  p.claim_trusted = true;
  distrusted.erase(id);
  if (!p.source.empty()) distrusted_ips.erase(p.source);
}

void ChainSync::Impl::distrust(const PublicKey& id, const PeerSync& p) {
  if (distrusted.size() >= kMaxDistrusted) distrusted.clear();
  distrusted[id] = Distrust{p.resting_until, p.timeout};
  if (p.source.empty()) return;
  if (distrusted_ips.size() >= kMaxDistrusted) distrusted_ips.clear();
  distrusted_ips[p.source] = Distrust{p.resting_until, p.timeout};
}

void ChainSync::Impl::forget_requests_of(const PublicKey& id) {
  for (auto it = in_flight.begin(); it != in_flight.end();) it = it->second == id ? in_flight.erase(it) : std::next(it);
}

// Keeps a validated header. Returns false when the pending set is full.
bool ChainSync::Impl::add_pending(const chain::BlockHeader& h, const Hash32& hash) {
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

void ChainSync::Impl::rebuild_download() {
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

void ChainSync::Impl::clear_pending() {
  pending.clear();
  best_header.reset();
  download.clear();
  in_flight.clear();
  received.clear();
  buffered_bytes = 0;
}

// The best header no longer beats our tip (we have it, or something
// better): every pending header is on a branch that is not better.
void ChainSync::Impl::check_best() {
  if (best_header && !chain::is_better_tip(*best_header, tip())) clear_pending();
}

void ChainSync::Impl::refuse(const Hash32& h) {
  if (refused.size() >= kMaxRefused) refused.clear();
  refused.insert(h);
}

// A Headers answer that connects to nothing we know. Our locator may have
// named a header we have dropped since we asked (our chain moved on): it is
// asked again with a fresh one. Only a peer that keeps answering with
// headers that connect to nothing misbehaves.
void ChainSync::Impl::unconnected_headers(const PublicKey& from, PeerSync& p) {
  if (++p.unconnected < kMaxUnconnectedHeaders) return;
  if (hooks.penalise)
    hooks.penalise(from, p2p::ScoreEvent::ProtocolViolation, "headers that do not connect to our locator");
  p.claim_trusted = false;
  p.unconnected = 0;
}

void ChainSync::Impl::on_headers(const PublicKey& from, const p2p::Headers& msg, Clock::time_point now) {
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
  // It connects to what we know, or follows the answer being verified.
  const bool follows = !header_batches.empty() && !header_batches.back()->hashes.empty() &&
                       header_batches.back()->from == from &&
                       msg.headers.front().parent == header_batches.back()->hashes.back();
  if (!follows && !header_of(msg.headers.front().parent)) {
    unconnected_headers(from, *p);
    pump(now);
    return;
  }
  p->unconnected = 0;
  // Hashes, and the signatures of the headers we do not know yet, verified
  // together on the pool; the rules run in order in take_headers. Only as
  // many as pending has room for: the rest would be dropped.
  auto batch = std::make_shared<HeaderBatch>();
  batch->from = from;
  batch->headers = msg.headers;
  batch->hashes.reserve(msg.headers.size());
  batch->unknown_at.assign(msg.headers.size(), SIZE_MAX);
  const std::size_t taken = pending.size() + headers_verifying();
  const std::size_t room = s.max_pending_headers - std::min(s.max_pending_headers, taken);
  for (std::size_t i = 0; i < msg.headers.size(); ++i) {
    batch->hashes.push_back(msg.headers[i].hash());
    if (batch->unknown.size() >= room || known_block(batch->hashes.back())) continue;
    batch->unknown_at[i] = batch->unknown.size();
    batch->unknown.push_back(msg.headers[i]);
  }
  if (!pool || !hooks.post) {
    batch->signature_ok = chain::verify_signatures(batch->unknown, pool);
    take_headers(*batch, now);
    return;
  }
  batch->signature_ok.assign(batch->unknown.size(), 0);
  header_batches.push_back(batch);
  std::weak_ptr<int> token = alive;
  chain::start_verify_signatures(batch->unknown, batch->signature_ok, *pool, [this, token, batch, post = hooks.post] {
    post([this, token, batch](Clock::time_point later) {
      if (token.expired()) return;
      batch->verified = true;
      take_verified_headers(later);
    });
  });
  pump(now);  // the next GetHeaders can go out meanwhile
}

void ChainSync::Impl::take_verified_headers(Clock::time_point now) {
  while (!header_batches.empty() && header_batches.front()->verified) {
    const auto batch = header_batches.front();
    header_batches.pop_front();
    take_headers(*batch, now);
  }
}

// A Headers answer whose signatures are verified: the rules, in order.
void ChainSync::Impl::take_headers(const HeaderBatch& batch, Clock::time_point now) {
  const auto& from = batch.from;
  auto* p = peer(from);
  const auto first_parent = header_of(batch.headers.front().parent);
  if (!p || !first_parent) {
    // It left, or our chain moved on while they were checked, or the batch
    // before it was invalid: what it holds is asked for again.
    if (p) unconnected_headers(from, *p);
    pump(now);
    return;
  }
  const auto ctx = context();
  chain::BlockHeader parent = *first_parent;
  Hash32 parent_hash = batch.headers.front().parent;
  bool full = false;
  for (std::size_t i = 0; i < batch.headers.size(); ++i) {
    const auto& h = batch.headers[i];
    if (h.parent != parent_hash) {
      if (hooks.penalise) hooks.penalise(from, p2p::ScoreEvent::ProtocolViolation, "headers are not a chain");
      p->claim_trusted = false;
      break;
    }
    const auto& hash = batch.hashes[i];
    if (refused.count(h.parent)) {
      refuse(hash);
    } else if (!known_block(hash)) {
      auto ok = chain::check_header_rules(h, parent, parent_hash, ctx);
      const auto at = batch.unknown_at[i];
      if (ok && (at == SIZE_MAX || !batch.signature_ok[at])) ok = chain::check_signature(h);
      if (!ok) {
        p->claim_trusted = false;
        if (hooks.invalid_block) hooks.invalid_block(from, ok.error());
        break;
      }
      if (!add_pending(h, hash)) {
        full = true;
        break;
      }
    }
    parent = h;
    parent_hash = hash;
  }
  // The last header that was a valid chain (or the known one it connects to): it has it.
  prove(from, *p, TipRef{parent.height, parent_hash});
  if (full) spdlog::debug("sync: {} headers wait for their blocks; asking for more later", pending.size());
  pump(now);
}

void ChainSync::Impl::on_blocks(const PublicKey& from, const p2p::Blocks& msg, Clock::time_point now) {
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
  TipRef best_served;
  for (const auto& b : msg.blocks) {
    const auto hash = b.hash();
    if (!asked.erase(hash)) {
      if (hooks.penalise) hooks.penalise(from, p2p::ScoreEvent::ProtocolViolation, "a block it was not asked for");
      continue;
    }
    if (auto it = in_flight.find(hash); it != in_flight.end() && it->second == from) in_flight.erase(it);
    // We asked for it by a validated header: it has it.
    if (chain::is_better_tip(TipRef{b.header.height, hash}, best_served)) best_served = TipRef{b.header.height, hash};
    if (!pending.count(hash) || received.count(hash) || store.has_block(hash)) continue;
    if (auto ok = chain::check_body(b); !ok) {
      if (hooks.invalid_block) hooks.invalid_block(from, ok.error());
      continue;
    }
    const std::size_t bytes = chain::kHeaderSize + kBufferedBytesPerTx * b.transactions.size();
    buffered_bytes += bytes;
    received.emplace(hash, Received{b, from, bytes});
    ++p->blocks_served;
  }
  if (best_served.height > 0) prove(from, *p, best_served);
  // What it did not send, it does not have (or not on its best chain).
  for (const auto& hash : asked) {
    p->note_lacks(hash);
    if (auto it = in_flight.find(hash); it != in_flight.end() && it->second == from) in_flight.erase(it);
  }
  apply_ready(now);
  pump(now);
}

// Applies received blocks in order from the front of the download chain,
// a run of them per store batch. Their headers were validated (signature
// included) and their bodies checked on arrival: the store checks only the
// rules against each parent.
void ChainSync::Impl::apply_ready(Clock::time_point now) {
  const auto before = tip();
  std::optional<PublicKey> last_source;
  for (bool more = true; more;) {
    while (!download.empty() && store.has_block(download.front())) {
      pending.erase(download.front());
      download.pop_front();
    }
    std::vector<chain::Block> run;
    std::vector<Received> taken;  // source and bytes of each block of the run
    for (std::size_t i = 0; i < download.size() && run.size() < store::kMaxBlocksPerBatch; ++i) {
      auto it = received.find(download[i]);
      if (it == received.end()) break;
      buffered_bytes -= std::min(buffered_bytes, it->second.bytes);
      run.push_back(std::move(it->second.block));
      taken.push_back(Received{{}, it->second.source, it->second.bytes});
      received.erase(it);
    }
    if (run.empty()) break;
    const std::vector<char> prechecked(run.size(), 1);
    auto tip_before = tip();  // of each block: the tip the previous one left
    const auto r = store.accept_blocks(run, accept_options(), prechecked);
    std::size_t applied = 0;
    for (; applied < r.results.size() && more; ++applied) {
      const auto& result = r.results[applied];
      const auto& source = taken[applied].source;
      log_accepted(run[applied], result, source, tip_before);
      tip_before = result.tip;
      const Hash32 hash = download.front();
      download.pop_front();
      pending.erase(hash);
      last_progress = now;
      last_source = source;
      if (result.status == store::AcceptStatus::ReorgTooDeep) {
        // It and what the store took after it (its descendants) are never followed.
        refuse(hash);
        for (std::size_t i = applied + 1; i < r.results.size(); ++i) refuse(run[i].hash());
        if (auto* src = peer(source)) src->claim_trusted = false;
        clear_pending();
        return apply_ready_done(before, last_source);
      }
    }
    if (r.error) {
      // Its header was valid; the store refused it on a second look (time
      // moved): ask someone else for it.
      const auto& source = taken[applied].source;
      if (hooks.invalid_block) hooks.invalid_block(source, *r.error);
      if (auto* src = peer(source)) src->note_lacks(download.front());
      ++applied;
      more = false;
    }
    // What the store did not look at waits for the next call.
    for (std::size_t i = applied; i < run.size(); ++i) {
      buffered_bytes += taken[i].bytes;
      const auto hash = run[i].hash();
      received.emplace(hash, Received{std::move(run[i]), taken[i].source, taken[i].bytes});
    }
  }
  apply_ready_done(before, last_source);
}

void ChainSync::Impl::apply_ready_done(const TipRef& before, const std::optional<PublicKey>& last_source) {
  if (pending.empty()) best_header.reset();
  check_best();
  const auto after = tip();
  if (after != before && download.empty())
    if (auto h = store.header(after.hash)) announce(*h, after.hash, last_source);
}

store::AcceptOptions ChainSync::Impl::accept_options() const {
  store::AcceptOptions options;
  options.max_clock_drift_ms = s.max_clock_drift_ms;
  options.max_reorg_depth = s.max_reorg_depth;
  return options;
}

void ChainSync::Impl::log_accepted(const chain::Block& block, const store::AcceptResult& r,
                                   const std::optional<PublicKey>& source, const TipRef& tip_before) {
  const auto from = source ? short_id(*source) : std::string("this node");
  const auto peer = source ? source->hex() : std::string();
  const auto hash = block.hash();
  switch (r.status) {
    case store::AcceptStatus::Extended:
      util::log_event(spdlog::level::debug, "block_accepted",
                      {{"height", r.tip.height},
                       {"hash", r.tip.hash.hex()},
                       {"producer", block.header.producer.hex()},
                       {"peer", peer}},
                      "chain: height {} {} from {}", r.tip.height, r.tip.hash.short_hex(), from);
      break;
    case store::AcceptStatus::Reorganized:
      m.reorgs.inc();
      util::log_event(spdlog::level::warn, "reorg",
                      {{"depth", r.reorg_depth},
                       {"height", r.tip.height},
                       {"hash", r.tip.hash.hex()},
                       {"old_height", tip_before.height},
                       {"old_hash", tip_before.hash.hex()},
                       {"producer", block.header.producer.hex()},
                       {"peer", peer}},
                      "chain: reorganisation of depth {}: new tip {} at height {} (block from {})", r.reorg_depth,
                      r.tip.hash.short_hex(), r.tip.height, from);
      break;
    case store::AcceptStatus::SideBranch:
      util::log_event(spdlog::level::debug, "block_side_branch",
                      {{"height", block.header.height},
                       {"hash", hash.hex()},
                       {"producer", block.header.producer.hex()},
                       {"peer", peer}},
                      "chain: stored side-branch block {} at height {} from {}", hash.short_hex(), block.header.height,
                      from);
      break;
    case store::AcceptStatus::ReorgTooDeep:
      util::log_event(spdlog::level::err, "block_rejected",
                      {{"height", block.header.height},
                       {"hash", hash.hex()},
                       {"producer", block.header.producer.hex()},
                       {"peer", peer},
                       {"reason", "reorg_too_deep"},
                       {"depth", r.reorg_depth}},
                      "chain: not following block {} at height {} from {}: it needs a reorganisation of {} blocks, "
                      "over chain.max_reorg_depth {}",
                      hash.short_hex(), block.header.height, from, r.reorg_depth, s.max_reorg_depth);
      break;
    case store::AcceptStatus::AlreadyKnown:
      return;
  }
  if (source) m.blocks_received.inc();
  m.chain_height.set(static_cast<double>(r.tip.height));
}

void ChainSync::Impl::announce(const chain::BlockHeader& h, const Hash32& hash,
                               const std::optional<PublicKey>& source) {
  for (auto& [id, p] : peers) {
    const bool skip = (source && id == *source) || p.known.contains(hash);
    p.known.insert(hash);
    if (skip || !hooks.send) continue;
    const p2p::Message announcement = p2p::NewBlock{h};
    hooks.send(id, announcement);
  }
}

void ChainSync::Impl::on_new_block(const PublicKey& from, const chain::BlockHeader& h, Clock::time_point now) {
  auto* p = peer(from);
  if (!p) return;
  const auto hash = h.hash();
  learn_tip(from, *p, TipRef{h.height, hash});
  p->lacks.clear();
  if (known_block(hash)) prove(from, *p, TipRef{h.height, hash});
  if (!known_block(hash) && !refused.count(h.parent)) {
    if (auto parent = header_of(h.parent)) {
      if (auto ok = chain::check_header(h, *parent, context()); !ok) {
        p->claim_trusted = false;
        if (hooks.invalid_block) hooks.invalid_block(from, ok.error());
        return;
      }
      // A valid header it can be asked for: its claim is good again.
      trust(from, *p);
      prove(from, *p, TipRef{h.height, hash});
      add_pending(h, hash);
    }
    // Unknown parent: a trusted peer's better claim makes pump() ask it
    // for headers; a peer that stalled earns trust back only by answering.
  }
  check_best();
  pump(now);
}

ChainSync::ChainSync(store::ChainStore& store, metrics::NodeMetrics& metrics, SyncSettings settings, SyncHooks hooks,
                     util::WorkerPool* pool)
    : impl_(std::make_unique<Impl>(store, metrics, settings, std::move(hooks), pool)) {
  // A configured stall_timeout above the usual cap raises the cap with it.
  impl_->s.max_stall_timeout = std::max(impl_->s.max_stall_timeout, impl_->s.stall_timeout);
  impl_->m.chain_height.set(static_cast<double>(store.tip().height));
}

ChainSync::~ChainSync() = default;

void ChainSync::add_peer(const crypto::PublicKey& peer, const chain::TipRef& tip, SyncClock::time_point now,
                         const std::string& source) {
  auto& im = *impl_;
  auto& p = im.peers[peer];
  p = PeerSync{};
  p.source = source;
  p.timeout = im.s.stall_timeout;
  p.proven = TipRef{0, im.store.genesis_hash()};
  im.m.peer_height.with({peer.hex()}).set(0);
  // Its Hello's tip is a claim; proven only when we know that block.
  if (im.store.has_block(tip.hash)) im.prove(peer, p, tip);
  im.learn_tip(peer, p, tip);
  // A peer that stalled, or a new key from an IP whose peer stalled, starts
  // distrusted and resting until that runs out.
  for (const auto* d : {im.distrusted.count(peer) ? &im.distrusted[peer] : nullptr,
                        !source.empty() && im.distrusted_ips.count(source) ? &im.distrusted_ips[source] : nullptr}) {
    if (!d || now >= d->until) continue;
    p.claim_trusted = false;
    p.resting_until = std::max(p.resting_until, d->until);
    p.timeout = std::max(p.timeout, d->timeout);
  }
  if (auto it = im.distrusted.find(peer); it != im.distrusted.end() && now >= it->second.until) im.distrusted.erase(it);
  if (auto it = im.distrusted_ips.find(source); it != im.distrusted_ips.end() && now >= it->second.until)
    im.distrusted_ips.erase(it);
  im.pump(now);
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
  return SyncPeerView{p.proven, p.tip, p.blocks_served, p.timeout, p.claim_trusted};
}

p2p::Headers ChainSync::headers_for(const p2p::GetHeaders& request) const {
  return node::headers_for(impl_->store, request, impl_->s.max_reply_bytes);
}
p2p::Blocks ChainSync::blocks_for(const p2p::GetBlocks& request) const {
  return node::blocks_for(impl_->store, request, impl_->s.max_reply_bytes);
}

void ChainSync::note_headers_request(const crypto::PublicKey& peer, const p2p::GetHeaders& request) {
  auto* p = impl_->peer(peer);
  if (!p || request.locator.empty()) return;
  if (auto h = impl_->store.header(request.locator.front()))
    impl_->prove(peer, *p, chain::TipRef{h->height, request.locator.front()});
}

void ChainSync::note_blocks_served(const crypto::PublicKey& peer, const p2p::Blocks& reply) {
  auto* p = impl_->peer(peer);
  if (!p) return;
  for (const auto& b : reply.blocks) impl_->prove(peer, *p, chain::TipRef{b.header.height, b.hash()});
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
  auto r = im.store.accept_block(block, im.accept_options());
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
