// ChainSync: what to ask whom and when (sync.hpp, steps 1, 3 and 4):
// one GetHeaders at a time to the best trusted claim, block requests spread
// over the peers that have them, stalls and adaptive timeouts, the locator,
// and the progress log.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "libcore/node/sync_impl.hpp"
#include "libcore/util/log_event.hpp"
#include "libcore/util/units.hpp"

namespace core::node {

// A timely answer: the peer's timeout shrinks back towards stall_timeout.
void ChainSync::Impl::answered(const PublicKey& id, PeerSync& p, Clock::time_point now) {
  p.timeout = std::max(s.stall_timeout, p.timeout / 2);
  trust(id, p);
  last_progress = now;
}

void ChainSync::Impl::stalled(const PublicKey& id, PeerSync& p, Clock::time_point now, const std::string& what) {
  ++stalls;
  m.sync_stalls.inc();
  const auto waited = p.timeout;
  p.timeout = std::min(s.max_stall_timeout, p.timeout * 2);
  p.resting_until = now + p.timeout;
  p.claim_trusted = false;
  distrust(id, p);
  util::log_event(
      spdlog::level::info, "sync_stalled",
      {{"peer", id.hex()}, {"request", what}, {"waited_ms", waited.count()}, {"timeout_ms", p.timeout.count()}},
      "sync: peer {} did not answer {} within {}; asking other peers (its timeout is now {})", short_id(id), what,
      util::format_duration(waited), util::format_duration(p.timeout));
  if (hooks.penalise) hooks.penalise(id, p2p::ScoreEvent::Stalled, "no answer to " + what);
}

// A claimed tip whose hash is a header we validated (shown by another peer)
// counts as shown: the claimer is asked for bodies like the peer that showed
// them, and stalls like any other peer if it lied.
void ChainSync::Impl::promote_claims() {
  for (auto& [id, p] : peers) {
    if (!p.claim_trusted || p.tip.hash == p.proven.hash || !known_block(p.tip.hash)) continue;
    if (auto h = header_of(p.tip.hash)) prove(id, p, TipRef{h->height, p.tip.hash});
  }
}

void ChainSync::Impl::pump(Clock::time_point now) {
  last_now = std::max(last_now, now);
  check_best();
  promote_claims();
  request_headers(now);
  request_blocks(now);
  log_progress(now);
}

void ChainSync::Impl::request_headers(Clock::time_point now) {
  if (header_batches.size() >= kMaxHeaderBatches) return;
  for (const auto& [id, p] : peers)
    if (p.headers_sent) return;  // one at a time
  // Ask when a whole answer fits (or pending is empty): asking whenever one
  // header fits would fetch and check a full answer per applied block.
  const std::size_t taken = pending.size() + headers_verifying();
  const std::size_t room = s.max_pending_headers - std::min(s.max_pending_headers, taken);
  if (room == 0 || (room < p2p::kMaxHeadersPerMessage && taken > 0)) return;
  TipRef have = tip();
  if (best_header && chain::is_better_tip(*best_header, have)) have = *best_header;
  // While an answer is verified, the next one is asked of the same peer,
  // after that answer's last header (a hint until verified: if it fails,
  // the next answer does not connect and is dropped).
  const HeaderBatch* verifying = header_batches.empty() ? nullptr : header_batches.back().get();
  if (verifying) {
    const auto it = peers.find(verifying->from);
    if (it == peers.end() || verifying->headers.empty()) return;
    const auto& last = verifying->headers.back();
    if (!chain::is_better_tip(it->second.tip, TipRef{last.height, verifying->hashes.back()})) return;
    auto& p = it->second;
    p2p::GetHeaders request;
    request.locator = locator();
    request.locator.insert(request.locator.begin(), verifying->hashes.back());
    if (request.locator.size() > p2p::kMaxLocator) request.locator.pop_back();
    request.limit = static_cast<std::uint32_t>(std::min<std::size_t>(p2p::kMaxHeadersPerMessage, room));
    p.headers_sent = now;
    p.headers_deadline = now + p.timeout;
    if (hooks.send) hooks.send(it->first, request);
    return;
  }
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
  request.limit = static_cast<std::uint32_t>(std::min<std::size_t>(p2p::kMaxHeadersPerMessage, room));
  p.headers_sent = now;
  p.headers_deadline = now + p.timeout;
  spdlog::debug("sync: asking {} for headers after {} (it claims height {})", short_id(*best),
                request.locator.front().short_hex(), p.tip.height);
  if (hooks.send) hooks.send(*best, request);
}

void ChainSync::Impl::request_blocks(Clock::time_point now) {
  if (download.empty() || buffered_bytes >= s.max_buffered_bytes) return;
  // What the peers with room can take now: the window is scanned only that
  // far (twice, for peers that lack some), not all of it on every answer.
  std::size_t room = 0;
  for (const auto& [id, p] : peers)
    if (now >= p.resting_until && p.active_requests() < s.requests_per_peer)
      room += (s.requests_per_peer - p.active_requests()) * s.max_blocks_per_request;
  if (room == 0) return;
  std::vector<std::pair<Hash32, std::uint64_t>> wanted;  // hash, height
  const std::size_t span = std::min(s.window, download.size());
  for (std::size_t i = 0; i < span && wanted.size() < 2 * room; ++i) {
    const auto& h = download[i];
    if (in_flight.count(h) || received.count(h)) continue;
    auto it = pending.find(h);
    if (it == pending.end()) continue;
    wanted.emplace_back(h, it->second.height);
  }
  if (wanted.empty()) return;
  std::vector<const PublicKey*> eligible;
  for (const auto& [id, p] : peers)
    if (p.active_requests() < s.requests_per_peer && now >= p.resting_until && p.proven.height >= wanted.front().second)
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
      if (p.active_requests() >= s.requests_per_peer) continue;
      BlockRequest request;
      for (std::size_t i = 0; i < wanted.size() && request.hashes.size() < share; ++i) {
        if (taken[i] || p.lacks.count(wanted[i].first) || wanted[i].second > p.proven.height) continue;
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

void ChainSync::Impl::tick(Clock::time_point now) {
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
      auto oldest = std::find_if(p.requests.begin(), p.requests.end(), [](const BlockRequest& r) { return r.stalled; });
      if (oldest == p.requests.end()) break;
      p.requests.erase(oldest);
    }
  }
  // The bodies of the best header chain have not advanced for
  // 2 x max_stall_timeout: whoever announced them does not serve them.
  // Drop that chain rather than stay "syncing" (and not producing)
  // forever; a peer that has it will offer it again.
  if (download.empty() || !last_progress) last_progress = now;  // the clock runs only while something is awaited
  if (!download.empty() && best_header && now - *last_progress > kUnservedChainStalls * s.max_stall_timeout) {
    const auto waited = std::chrono::duration_cast<milliseconds>(now - *last_progress);
    util::log_event(spdlog::level::warn, "sync_chain_dropped",
                    {{"height", best_header->height}, {"hash", best_header->hash.hex()}, {"waited_ms", waited.count()}},
                    "sync: no peer served the blocks of header {} at height {} for {}; dropping that chain",
                    best_header->hash.short_hex(), best_header->height, util::format_duration(waited));
    clear_pending();
    last_progress = now;
  }
  pump(now);
}

void ChainSync::Impl::log_progress(Clock::time_point now) {
  std::size_t serving = 0;
  for (const auto& [id, p] : peers) serving += p.requests.empty() ? 0 : 1;
  progress.update(now, tip().height, target().height, syncing(), serving);
}

std::vector<Hash32> ChainSync::Impl::locator() const {
  std::vector<Hash32> out;
  const auto t = tip();
  if (best_header && chain::is_better_tip(*best_header, t)) out.push_back(best_header->hash);
  std::uint64_t step = 1;
  std::uint64_t h = t.height;
  while (out.size() + 1 < p2p::kMaxLocator) {
    if (auto hash = store.hash_at(h)) out.push_back(*hash);
    if (h == 0) break;
    if (out.size() > kLocatorDense) step *= 2;
    h = h > step ? h - step : 0;
  }
  if (h != 0)
    if (auto genesis = store.hash_at(0)) out.push_back(*genesis);
  return out;
}

}  // namespace core::node
