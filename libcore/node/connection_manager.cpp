#include "libcore/node/connection_manager.hpp"

#include <algorithm>

#include <malloc.h>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "libcore/metrics/node_metrics.hpp"
#include "libcore/p2p/duplicates.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/log_event.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"

namespace core::node {

namespace {

using p2p::PeerClass;
using p2p::RejectCode;
using Clock = std::chrono::steady_clock;

// A closed connection whose send queue once held this much triggers a
// malloc_trim.
constexpr std::size_t kTrimAfterQueuedBytes = std::size_t{1} << 20;

}  // namespace

ConnectionManager::ConnectionManager(asio::io_context& io, ConnectionManagerSettings settings, LocalPeer local,
                                     const store::ChainStore& store, AddressBook& book, BanList& bans,
                                     PeerStore& peer_store, metrics::NodeMetrics& metrics)
    : io_(io),
      s_(std::move(settings)),
      local_(std::move(local)),
      own_id_(local_.key.public_key()),
      store_(store),
      book_(book),
      bans_(bans),
      peer_store_(peer_store),
      m_(metrics),
      scores_(PeerScoreSettings{s_.quality.ban_threshold, s_.quality.ip_ban_threshold, s_.quality.ip_ban_duration,
                                s_.quality.score_half_life, kMaxScoredPeers}) {}

p2p::Hello ConnectionManager::our_hello() const {
  p2p::Hello h;
  h.network = local_.network;
  h.genesis_hash = store_.genesis_hash();
  h.node_id = own_id_;
  h.role = local_.role;
  h.listen_port = listen_port_;
  h.address = announced_address_;
  auto tip = store_.tip();
  h.best_height = tip.height;
  h.best_hash = tip.hash;
  h.session_nonce = local_.session;
  h.user_agent = local_.user_agent;
  return h;
}

// ------------------------------------------------------------------ connections

ConnectionPtr ConnectionManager::make_connection(tcp::socket socket, bool outbound) {
  auto c = std::make_shared<Connection>(std::move(socket), local_.magic, s_.max_message_size, outbound, s_.connection,
                                        *this);
  connections_.insert(c);
  return c;
}

std::size_t ConnectionManager::handshaking() const {
  return static_cast<std::size_t>(std::count_if(connections_.begin(), connections_.end(), [](const auto& c) {
    return c->state() == Connection::State::Handshaking || c->state() == Connection::State::Resolving;
  }));
}

std::size_t ConnectionManager::inbound_handshakes_from(const std::string& ip) const {
  return static_cast<std::size_t>(std::count_if(connections_.begin(), connections_.end(), [&ip](const auto& c) {
    return !c->outbound() && c->remote_ip() == ip && c->state() == Connection::State::Handshaking;
  }));
}

std::size_t ConnectionManager::refusing() const {
  return static_cast<std::size_t>(
      std::count_if(connections_.begin(), connections_.end(), [](const auto& c) { return c->refused(); }));
}

void ConnectionManager::count_handshake_failure(const std::string& reason) {
  m_.handshakes.with({std::string(metrics::kHandshakeFailed)}).inc();
  m_.handshake_failures.with({reason}).inc();
}

void ConnectionManager::handshake_failed(const Connection& c, const Failure& f) {
  count_handshake_failure(f.reason());
  util::log_event(spdlog::level::debug, "handshake_failed",
                  {{"addr", c.remote_address()},
                   {"direction", c.direction()},
                   {"reason", f.reason()},
                   {"kind", to_string(f.kind)},
                   {"by_peer", f.by_peer},
                   {"detail", f.detail}},
                  "p2p: handshake with {} failed: {} ({})", c.describe(), f.label(), f.detail);
}

std::optional<p2p::Rejection> ConnectionManager::admit(const Connection& c, const p2p::Hello& h) const {
  if (stopping_) return p2p::Rejection{RejectCode::shutdown, "node is shutting down"};
  if (auto ban = bans_.active(h.node_id, util::now_ms()))
    return p2p::Rejection{RejectCode::banned, "you are banned: " + ban->reason};
  const bool claims_masternode = h.role == p2p::Role::Masternode;
  if (!claims_masternode) {
    if (inbound_peers() >= s_.max_inbound) {
      const auto decision = select_eviction(eviction_candidates(nullptr), EvictionNewcomer{c.remote_ip(), false});
      if (!decision.victim)
        return p2p::Rejection{RejectCode::capacity, "inbound slots full (max_inbound " +
                                                        std::to_string(s_.max_inbound) + "): " + decision.reason};
    }
    std::size_t regular_from_ip = 0;
    for (const auto& [id, p] : peers_)
      if (!p->outbound() && p->remote_ip() == c.remote_ip() && !is_masternode(id)) ++regular_from_ip;
    if (regular_from_ip >= s_.max_per_ip)
      return p2p::Rejection{RejectCode::per_ip_limit, "too many peers from " + c.remote_ip() + " (max_per_ip " +
                                                          std::to_string(s_.max_per_ip) + ")"};
  }
  return std::nullopt;
}

// Masternode by id; else the class of the address dialled, or of the
// announced listen address when it is verified as this very node's.
PeerClass ConnectionManager::class_of(const Connection& c) const {
  if (is_masternode(c.id())) return PeerClass::Masternode;
  const auto* e = book_.entry_of(c.origin());
  if (e && (c.outbound() || e->node_id == c.id())) return e->state.peer_class();
  return PeerClass::Discovered;
}

asio::awaitable<void> ConnectionManager::adopt(const ConnectionPtr& c, SteadyTime handshake_started) {
  m_.handshake_duration.observe(std::chrono::duration<double>(Clock::now() - handshake_started).count());
  m_.handshakes.with({std::string(metrics::kHandshakeOk)}).inc();
  c->peer_class = class_of(*c);
  const bool registered = co_await register_peer(c);
  if (registered) connected(c);
}

// Duplicate resolution (DESIGN.md 5, p2p/duplicates.hpp). Returns whether
// `c` is now the peer's registered connection; if not, it is closing.
asio::awaitable<bool> ConnectionManager::register_peer(const ConnectionPtr& c) {
  c->set_resolving();
  for (;;) {
    auto it = peers_.find(c->id());
    if (it == peers_.end()) break;
    ConnectionPtr existing = it->second;
    const p2p::ConnectionFacts old_facts{existing->outbound() ? own_id_ : existing->id(),
                                         existing->hello().session_nonce};
    const p2p::ConnectionFacts new_facts{c->outbound() ? own_id_ : c->id(), c->hello().session_nonce};
    auto verdict = p2p::resolve_duplicate(own_id_, c->id(), old_facts, new_facts);
    if (verdict == p2p::DuplicateVerdict::ProbeExistingFirst) {
      const bool answered = co_await existing->probe(p2p::kDuplicateProbeTimeout);
      if (c->state() == Connection::State::Closing) co_return false;
      if (stopping_) {
        c->goodbye(RejectCode::shutdown, "node is shutting down");
        co_return false;
      }
      // The table may have changed while we waited: decide again.
      if (auto now_it = peers_.find(c->id()); now_it == peers_.end() || now_it->second != existing) continue;
      verdict = p2p::settle_probe(answered);
    }
    if (verdict == p2p::DuplicateVerdict::KeepExisting) {
      spdlog::debug("p2p: {} duplicates {}; keeping the existing connection", c->describe(), existing->describe());
      m_.disconnects.with({"duplicate"}).inc();
      c->goodbye(RejectCode::duplicate, "already connected to this node (kept the other connection)");
      co_return false;
    }
    const bool stale = old_facts.remote_session != new_facts.remote_session;
    spdlog::debug("p2p: {} replaces {} ({})", c->describe(), existing->describe(),
                  stale ? "the peer restarted" : "tie-break");
    unregister(existing);
    existing->goodbye(
        stale ? RejectCode::stale_session : RejectCode::duplicate,
        stale ? "replaced by a connection from the peer's new session" : "replaced by the preferred connection");
  }
  if (c->state() == Connection::State::Closing) co_return false;
  peers_[c->id()] = c;
  co_return true;
}

// A registered connection starts its connected life.
void ConnectionManager::connected(const ConnectionPtr& c) {
  if (!c->outbound() && !make_room_for(c)) return;
  set_connection_gauge(*c, +1);
  scores_.reward(c->id(), p2p::kHandshakeCompletedStep, Clock::now());
  // The message side knows the peer before its first message is read (the
  // handshake's last read may already hold it): then the reader starts.
  if (handler_) handler_->on_connected(c->id(), c->hello(), c->outbound(), c->remote_ip());
  c->run();
  util::log_event(spdlog::level::info, "peer_connected",
                  {{"peer", c->id().hex()},
                   {"addr", c->remote_address()},
                   {"listen", c->listen_address()},
                   {"direction", c->direction()},
                   {"class", p2p::to_string(c->peer_class)},
                   {"role", p2p::to_string(c->hello().role)},
                   {"height", c->hello().best_height},
                   {"user_agent", c->hello().user_agent}},
                  "p2p: connected {} {} {} at {} (height {}, {})", c->direction(), p2p::to_string(c->peer_class),
                  c->id().short_hex(), c->remote_address(), c->hello().best_height, c->hello().user_agent);
  // Fresh evidence that the network is reachable again: a node that had no
  // peers regained one, or a masternode lost to a dead link (a partition, a
  // cut cable) is back. The other masternodes are likely back too: dial
  // them at once, whatever their backoff.
  const bool link_back = lost_masternodes_.erase(c->id()) > 0;
  if (!had_peers_ || link_back) {
    had_peers_ = true;
    if (link_back)
      util::log_event(spdlog::level::info, "masternode_back", {{"peer", c->id().hex()}, {"addr", c->remote_address()}},
                      "p2p: masternode {} is back after a link failure; retrying the others now", c->id().short_hex());
    book_.reset_masternode_backoff(Clock::now());
    wake_dialler();
  }
}

// Returns whether `c` was the peer's registered connection.
bool ConnectionManager::unregister(const ConnectionPtr& c) {
  auto it = peers_.find(c->id());
  if (it == peers_.end() || it->second != c) return false;
  peers_.erase(it);
  set_connection_gauge(*c, -1);
  if (handler_) handler_->on_disconnected(c->id());
  if (peers_.empty()) had_peers_ = false;
  return true;
}

void ConnectionManager::set_connection_gauge(const Connection& c, double delta) {
  m_.connections.with({c.direction(), p2p::to_string(c.peer_class)}).inc(delta);
}

// ------------------------------------------------------------------ events

void ConnectionManager::on_message(const ConnectionPtr& c, p2p::Message message) {
  if (handler_) handler_->on_message(c->id(), std::move(message));
}

void ConnectionManager::on_protocol_violation(const ConnectionPtr& c, const Failure& fault) {
  util::log_event(
      spdlog::level::debug, "protocol_violation",
      {{"peer", c->id().hex()}, {"addr", c->remote_address()}, {"reason", fault.reason()}, {"detail", fault.detail}},
      "p2p: {} broke the protocol: {} ({})", c->describe(), fault.label(), fault.detail);
  penalise(c, p2p::ScoreEvent::ProtocolViolation);
}

void ConnectionManager::on_keepalive(const ConnectionPtr& c) {
  // Time connected is a step up in the peer's score, once per ping.
  scores_.reward(c->id(),
                 p2p::kUptimeMinuteStep * std::chrono::duration<double>(s_.connection.ping_interval).count() / 60.0,
                 Clock::now());
}

void ConnectionManager::on_traffic(p2p::MessageType type, std::size_t bytes, bool received) {
  std::string_view dir = received ? metrics::kReceived : metrics::kSent;
  m_.messages.with({std::string(p2p::to_string(type)), std::string(dir)}).inc();
  m_.bytes.with({std::string(dir)}).inc(bytes);
}

namespace {
// A close that says the link (not the peer's will) ended the connection.
bool is_link_failure(const std::string& reason) { return reason == "timeout" || reason == "reset"; }
}  // namespace

void ConnectionManager::on_closed(const ConnectionPtr& c) {
  if (c->was_connected()) {
    const bool was_registered = unregister(c);
    m_.disconnects.with({c->close_reason()}).inc();
    if (was_registered || c->close_reason() != "duplicate")
      util::log_event(spdlog::level::info, "peer_disconnected",
                      {{"peer", c->id().hex()},
                       {"addr", c->remote_address()},
                       {"direction", c->direction()},
                       {"class", p2p::to_string(c->peer_class)},
                       {"reason", c->close_reason()},
                       {"detail", c->close_detail()}},
                      "p2p: closed {} {}: {}{}", c->direction(), c->id().short_hex(), c->close_reason(),
                      c->close_detail().empty() ? "" : " (" + c->close_detail() + ")");
    if (c->outbound())
      if (auto* e = book_.find(c->dial_key())) e->last_error = "closed: " + c->close_reason();
    // Bounded by the genesis's masternodes.
    if (was_registered && is_masternode(c->id()) && is_link_failure(c->close_reason()))
      lost_masternodes_.insert(c->id());
  }
  connections_.erase(c);
  // A queue that held a lot of small frames leaves the heap fragmented;
  // hand the freed memory back, so a flood's RSS does not stay.
  if (c->peak_queued_bytes() >= kTrimAfterQueuedBytes) ::malloc_trim(0);
  if (c->was_connected()) wake_dialler();
  maybe_drained();
}

// ------------------------------------------------------------------ peers

bool ConnectionManager::is_banned(const NodeId& id) const { return bans_.is_banned(id, util::now_ms()); }

std::size_t ConnectionManager::outbound_non_masternodes() const {
  return static_cast<std::size_t>(std::count_if(peers_.begin(), peers_.end(), [](const auto& kv) {
    return kv.second->outbound() && kv.second->peer_class != PeerClass::Masternode;
  }));
}

double ConnectionManager::score_of(const Connection& c, SteadyTime now) const { return scores_.score(c.id(), now); }

std::optional<SteadyTime> ConnectionManager::ip_refused_until(const std::string& ip) const {
  return scores_.ip_refused_until(ip, Clock::now());
}

ConnectivityInputs ConnectionManager::connectivity_inputs() const {
  ConnectivityInputs in;
  in.peers = peers_.size();
  for (const auto& [id, c] : peers_)
    if (is_masternode(id)) ++in.masternodes_connected;
  in.other_masternodes = local_.masternodes.size() - (is_masternode(own_id_) ? 1 : 0);
  in.self_is_masternode = local_.role == p2p::Role::Masternode;
  in.peers_expected = in.other_masternodes > 0 || local_.static_peers;
  return in;
}

void ConnectionManager::send(const NodeId& to, const p2p::Message& message) {
  if (auto it = peers_.find(to); it != peers_.end()) it->second->send(message);
}

void ConnectionManager::penalise(const NodeId& peer, p2p::ScoreEvent event, const std::string& detail) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  spdlog::debug("p2p: {} costs {} ({}): {}", it->second->describe(), p2p::score_step(event), p2p::to_string(event),
                detail);
  penalise(it->second, event);
}

// Costs the peer's node id (and, for misbehaviour, its IP) its score for
// `event` -- never an address entry someone else may own. At
// ban_threshold the node id is banned; at ip_ban_threshold new
// connections from the IP are refused for ip_ban_duration (DESIGN.md 11).
void ConnectionManager::penalise(const ConnectionPtr& c, p2p::ScoreEvent event) {
  const auto now = Clock::now();
  if (c->id() == own_id_) return;
  const auto verdict = scores_.charge(c->id(), c->remote_ip(), event, now);
  if (verdict.refuse_ip)
    util::log_event(spdlog::level::warn, "ip_refused",
                    {{"ip", c->remote_ip()},
                     {"peer", c->id().hex()},
                     {"duration_ms", s_.quality.ip_ban_duration.count()},
                     {"threshold", s_.quality.ip_ban_threshold}},
                    "p2p: refusing new connections from {} for {}: misbehaviour from it reached ip_ban_threshold {}",
                    c->remote_ip(), util::format_duration(s_.quality.ip_ban_duration), s_.quality.ip_ban_threshold);
  if (verdict.ban_id && !is_banned(c->id()))
    ban(c->id(), s_.quality.ban_duration,
        "score " + std::to_string(static_cast<int>(scores_.score(c->id(), now))) + " reached ban_threshold " +
            std::to_string(s_.quality.ban_threshold) + " (last: " + p2p::to_string(event) + ")");
}

void ConnectionManager::ban(const NodeId& peer, const std::string& reason) {
  ban(peer, s_.quality.ban_duration, reason);
}

std::string ConnectionManager::describe(const NodeId& peer) const {
  auto it = peers_.find(peer);
  return it != peers_.end() ? it->second->describe() : peer.short_hex();
}

std::string ConnectionManager::source_ip(const NodeId& peer) const {
  auto it = peers_.find(peer);
  return it != peers_.end() ? it->second->remote_ip() : std::string();
}

std::vector<p2p::PeerEntry> ConnectionManager::listening_peers() const {
  std::vector<p2p::PeerEntry> out;
  const auto now_ms = util::now_ms();
  for (const auto& [id, p] : peers_)
    if (!p->listen_address().empty()) out.push_back({id, p->listen_address(), p->hello().role, now_ms});
  return out;
}

std::vector<p2p::ConnectionEntry> ConnectionManager::connections() const {
  std::vector<p2p::ConnectionEntry> out;
  for (const auto& [id, p] : peers_)
    out.push_back({id, p->listen_address(), p->hello().role, p->outbound(), p->hello().best_height});
  return out;
}

// Inbound peers holding a slot: a closing one has given its slot up.
std::size_t ConnectionManager::inbound_peers() const {
  return static_cast<std::size_t>(std::count_if(peers_.begin(), peers_.end(), [](const auto& kv) {
    return !kv.second->outbound() && kv.second->state() != Connection::State::Closing;
  }));
}

std::vector<EvictionCandidate> ConnectionManager::eviction_candidates(const Connection* except) const {
  std::vector<EvictionCandidate> out;
  const auto now = Clock::now();
  for (const auto& [id, c] : peers_) {
    if (c->outbound() || c.get() == except || c->state() == Connection::State::Closing) continue;
    // Masternodes and static peers (ours, by configuration or operator) are
    // never evicted. A static entry vouches for one node id, the last seen
    // at it: however many connections claim its listen address, one at most
    // is exempt.
    const auto* e = book_.entry_of(c->origin());
    const bool exempt = is_masternode(id) || (e && e->state.peer_class() == PeerClass::Static && e->node_id == id);
    out.push_back(EvictionCandidate{id, c->remote_ip(), c->connected_since_ms(), c->min_rtt_ms(),
                                    handler_ ? handler_->blocks_delivered(id) : 0, exempt, score_of(*c, now)});
  }
  return out;
}

// The newcomer, an inbound peer just registered, takes the inbound slots
// over max_inbound: a masternode (never refused for capacity), or a regular
// peer that admit() let in because someone would make room. The eviction
// rule (eviction.hpp) picks who goes. The table may have changed during the
// handshake: when nobody goes, a masternode stays above the limit, and a
// regular newcomer is refused after all (false).
bool ConnectionManager::make_room_for(const ConnectionPtr& newcomer) {
  if (inbound_peers() <= s_.max_inbound) return true;
  const bool masternode = is_masternode(newcomer->id());
  const auto decision =
      select_eviction(eviction_candidates(newcomer.get()), EvictionNewcomer{newcomer->remote_ip(), masternode});
  if (decision.victim) {
    const ConnectionPtr victim = peers_.at(*decision.victim);
    util::log_event(spdlog::level::info, "peer_evicted",
                    {{"peer", victim->id().hex()},
                     {"addr", victim->remote_address()},
                     {"reason", decision.reason},
                     {"newcomer", newcomer->id().hex()}},
                    "p2p: inbound slots full: evicting {} for {} {}: {}", victim->describe(),
                    masternode ? "masternode" : "regular peer", newcomer->describe(), decision.reason);
    victim->goodbye(RejectCode::evicted, "inbound slots full: room made for a newcomer: " + decision.reason);
    return true;
  }
  if (masternode) return true;
  util::log_event(spdlog::level::info, "peer_refused",
                  {{"peer", newcomer->id().hex()}, {"addr", newcomer->remote_address()}, {"reason", decision.reason}},
                  "p2p: inbound slots full: refusing {} after its handshake: {}", newcomer->describe(),
                  decision.reason);
  // Never connected: the message side has not heard of it.
  peers_.erase(newcomer->id());
  if (peers_.empty()) had_peers_ = false;
  m_.disconnects.with({"capacity"}).inc();
  newcomer->goodbye(RejectCode::capacity,
                    "inbound slots full (max_inbound " + std::to_string(s_.max_inbound) + "): " + decision.reason);
  return false;
}

// ------------------------------------------------------------------ operator

std::size_t ConnectionManager::disconnect(const std::string& who) {
  std::size_t n = 0;
  for (const auto& c : std::vector<ConnectionPtr>(connections_.begin(), connections_.end())) {
    if (c->state() != Connection::State::Connected) continue;
    if (c->id().hex() == who || c->remote_address() == who || c->listen_address() == who || c->dial_key() == who) {
      c->goodbye(RejectCode::admin, "disconnected by the operator");
      ++n;
    }
  }
  return n;
}

void ConnectionManager::update_bans_gauge() {
  m_.bans_active.set(static_cast<double>(bans_.active_count(util::now_ms())));
}

void ConnectionManager::ban(const NodeId& id, Millis duration, const std::string& reason) {
  const auto now_ms = util::now_ms();
  bans_.add(id, Ban{now_ms + duration.count(), reason, now_ms});
  update_bans_gauge();
  peer_store_.write_ban(p2p::BanRecord{id, now_ms, now_ms + duration.count(), reason});
  const auto connected = peers_.find(id);
  util::log_event(spdlog::level::warn, "peer_banned",
                  {{"peer", id.hex()},
                   {"addr", connected != peers_.end() ? connected->second->remote_address() : std::string()},
                   {"reason", reason},
                   {"score", scores_.score(id, Clock::now())},
                   {"duration_ms", duration.count()}},
                  "p2p: banned {} for {}: {}", id.hex(), util::format_duration(duration), reason);
  for (const auto& c : std::vector<ConnectionPtr>(connections_.begin(), connections_.end()))
    if (c->state() == Connection::State::Connected && c->id() == id)
      c->goodbye(RejectCode::banned, "banned: " + reason);
}

bool ConnectionManager::unban(const NodeId& id) {
  const bool had = bans_.remove(id);
  update_bans_gauge();
  peer_store_.erase_bans({id});
  if (had) {
    util::log_event(spdlog::level::warn, "peer_unbanned", {{"peer", id.hex()}}, "p2p: unbanned {}", id.hex());
    // It and its addresses get a fresh start: the ban, not the peer, kept them away.
    scores_.forgive(id);
    book_.fresh_start(id, Clock::now());
    wake_dialler();
  }
  return had;
}

void ConnectionManager::expire_bans(std::int64_t now_ms) {
  const auto expired = bans_.expire(now_ms);
  if (expired.empty()) return;
  for (const auto& id : expired)
    util::log_event(spdlog::level::warn, "ban_expired", {{"peer", id.hex()}}, "p2p: ban of {} expired", id.hex());
  peer_store_.erase_bans(expired);
  update_bans_gauge();
}

void ConnectionManager::shutdown(std::function<void()> drained) {
  if (stopping_) return;
  stopping_ = true;
  drained_ = std::move(drained);
  for (const auto& c : std::vector<ConnectionPtr>(connections_.begin(), connections_.end())) {
    if (c->state() == Connection::State::Connected)
      c->goodbye(RejectCode::shutdown, "node is shutting down");
    else if (c->state() == Connection::State::Handshaking)
      c->abort();  // the handshake's own deadline would end it; do not wait for it
  }
  maybe_drained();
}

void ConnectionManager::maybe_drained() {
  if (!stopping_ || !connections_.empty() || !drained_) return;
  auto done = std::move(drained_);
  drained_ = nullptr;
  asio::post(io_, std::move(done));
}

}  // namespace core::node
