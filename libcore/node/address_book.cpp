#include "libcore/node/address_book.hpp"

#include <algorithm>

namespace core::node {

using p2p::PeerClass;

AddressBook::AddressBook(AddressBookSettings settings, const NodeId& own_id)
    : s_(std::move(settings)), own_id_(own_id) {}

AddressEntry* AddressBook::find(const std::string& key) {
  auto it = book_.find(key);
  return it == book_.end() ? nullptr : &it->second;
}

const AddressEntry* AddressBook::find(const std::string& key) const {
  auto it = book_.find(key);
  return it == book_.end() ? nullptr : &it->second;
}

AddressEntry* AddressBook::add(const util::HostPort& a, PeerClass c, const std::string& source,
                               std::optional<NodeId> id, const std::string& introduced_by) {
  const auto k = a.to_string();
  auto it = book_.find(k);
  if (it == book_.end()) {
    if (book_.size() >= s_.max_entries) {
      // Every class together is bounded: a genesis or config address takes
      // the place of the worst discovered one; a discovered one waits.
      if (c == PeerClass::Discovered) return nullptr;
      evict_discovered();
    }
    if (!introduced_by.empty() && this->introduced_by(introduced_by) >= s_.max_per_source) return nullptr;
    it = book_.emplace(k, AddressEntry(a, c, source, s_.reconnect, s_.quality.score_half_life)).first;
    it->second.introduced_by = introduced_by;
    if (!introduced_by.empty()) ++introduced_[introduced_by];
  } else if (static_cast<int>(c) < static_cast<int>(it->second.state.peer_class())) {
    it->second.state.reclassify(c);
    it->second.source = source;
  }
  if (id) it->second.node_id = id;
  if (id && *id == own_id_) it->second.self = true;
  return &it->second;
}

std::size_t AddressBook::introduced_by(const std::string& source) const {
  auto it = introduced_.find(source);
  return it == introduced_.end() ? 0 : it->second;
}

void AddressBook::erase(std::map<std::string, AddressEntry>::iterator it) {
  const auto& by = it->second.introduced_by;
  if (auto c = introduced_.find(by); c != introduced_.end() && --c->second == 0) introduced_.erase(c);
  book_.erase(it);
}

// Makes room for a genesis or config address in a full book: the worst
// discovered entry not being dialled goes (unverified before verified,
// then the lowest score). False when there is none.
bool AddressBook::evict_discovered() {
  auto worst = book_.end();
  for (auto it = book_.begin(); it != book_.end(); ++it) {
    const auto& e = it->second;
    if (e.state.peer_class() != PeerClass::Discovered || e.state.dialing()) continue;
    if (worst != book_.end()) {
      const auto& w = worst->second;
      const bool better_victim = e.node_id.has_value() != w.node_id.has_value()
                                     ? !e.node_id.has_value()
                                     : e.score.stored_value() < w.score.stored_value();
      if (!better_victim) continue;
    }
    worst = it;
  }
  if (worst == book_.end()) return false;
  erase(worst);
  return true;
}

std::vector<std::string> AddressBook::seed(const std::vector<std::pair<util::HostPort, NodeId>>& masternodes,
                                           const std::vector<util::HostPort>& static_peers,
                                           const std::vector<std::string>& own_addresses) {
  for (const auto& [address, id] : masternodes) add(address, PeerClass::Masternode, "genesis", id);
  // A static peer the operator removed from network.peers since the last
  // run is forgotten, not dialled on from memory.
  std::vector<std::string> removed;
  for (const auto& [k, e] : book_)
    if (e.source == "config" && std::none_of(static_peers.begin(), static_peers.end(),
                                             [&key = k](const util::HostPort& p) { return p.to_string() == key; }))
      removed.push_back(k);
  for (const auto& k : removed) erase(book_.find(k));
  for (const auto& p : static_peers) add(p, PeerClass::Static, "config");
  // Our own listen/external address is never dialled.
  for (const auto& own : own_addresses)
    if (auto* e = find(own)) e->self = true;
  return removed;
}

std::optional<std::string> AddressBook::key_of(const ConnectionOrigin& o) {
  if (o.outbound) return o.dial_key;
  if (o.listen_address.empty()) return std::nullopt;
  return o.listen_address;
}

AddressEntry* AddressBook::entry_of(const ConnectionOrigin& o) {
  auto k = key_of(o);
  return k ? find(*k) : nullptr;
}

const AddressEntry* AddressBook::entry_of(const ConnectionOrigin& o) const {
  auto k = key_of(o);
  return k ? find(*k) : nullptr;
}

// ------------------------------------------------------------------ dialling

AddressBook::Due AddressBook::due(SteadyPoint now, std::size_t free_slots,
                                  const std::function<bool(const NodeId&)>& skip) const {
  Due out;
  for (const auto& [k, e] : book_) {
    if (e.self || e.wrong_network || e.state.dialing()) continue;
    if (e.node_id && skip(*e.node_id)) continue;
    // A discovered address whose announcer is connected: the dial would
    // only find it again. (A configured one is dialled: that verifies it.)
    if (!e.node_id && e.announced_by && e.state.peer_class() == PeerClass::Discovered && skip(*e.announced_by))
      continue;
    const bool is_mn = e.state.peer_class() == PeerClass::Masternode;
    if (!is_mn && free_slots == 0) continue;  // re-checked when a slot frees
    auto at = e.state.next_dial_at(now);
    if (!at) continue;
    if (*at <= now)
      out.candidates.push_back({e.address, e.state.peer_class(), e.score.value(now)});
    else if (!out.next || *at < *out.next)
      out.next = *at;
  }
  return out;
}

std::size_t AddressBook::dialing_non_masternodes() const {
  return static_cast<std::size_t>(std::count_if(book_.begin(), book_.end(), [](const auto& kv) {
    return kv.second.state.dialing() && kv.second.state.peer_class() != PeerClass::Masternode;
  }));
}

void AddressBook::record_attempt(AddressEntry& e, SteadyPoint now, std::int64_t now_ms) {
  e.state.record_attempt(now);
  ++e.total_attempts;
  e.last_attempt_ms = now_ms;
  e.recent_attempts_ms.push_back(now_ms);
  while (e.recent_attempts_ms.size() > kRecentAttempts) e.recent_attempts_ms.pop_front();
}

void AddressBook::record_failure(AddressEntry& e, p2p::ScoreEvent event, std::string error, SteadyPoint now,
                                 const p2p::Uniform01& uniform01) {
  e.state.record_failure(now, uniform01);
  ++e.total_failures;
  e.last_error = std::move(error);
  e.score.apply(event, now);
}

void AddressBook::record_busy(AddressEntry& e, std::string error, SteadyPoint now, const p2p::Uniform01& uniform01) {
  e.state.record_busy(now, uniform01);
  e.last_error = std::move(error);
}

void AddressBook::record_success(AddressEntry& e, const NodeId& id, SteadyPoint now, std::int64_t now_ms) {
  e.state.record_success(now);
  e.score.apply(p2p::ScoreEvent::HandshakeCompleted, now);
  e.node_id = id;
  e.last_success_ms = now_ms;
  e.unlogged_failures = 0;
  e.last_failure_log.reset();
  e.last_error.clear();
}

void AddressBook::record_inbound(const util::HostPort& listen, const NodeId& id, const std::string& source_ip,
                                 SteadyPoint now, std::int64_t now_ms) {
  auto* e = find(listen.to_string());
  if (e && e->node_id && *e->node_id != id) return;  // verified as someone else's: not this peer's to touch
  if (!e) e = add(listen, PeerClass::Discovered, "inbound", std::nullopt, source_ip);
  if (!e || e->self) return;
  e->announced_by = id;
  if (e->state.dialing()) return;
  e->state.record_fresh_evidence(now);
  if (e->node_id == id) e->last_success_ms = now_ms;
}

void AddressBook::learn(const p2p::PeerEntry& p, const std::string& source_ip, SteadyPoint now) {
  if (p.node_id == own_id_) return;
  auto a = util::parse_host_port(p.address);
  if (!a) return;
  const bool known = book_.count(a->to_string()) > 0;
  auto* e = add(*a, PeerClass::Discovered, "gossip", std::nullopt, source_ip);
  if (!e) return;
  // A peer saw it alive after our last attempt: fresh evidence.
  if (known && e->last_attempt_ms && p.last_seen_ms > *e->last_attempt_ms && !e->state.dialing())
    e->state.record_fresh_evidence(now);
}

void AddressBook::reset_masternode_backoff(SteadyPoint now) {
  for (auto& [k, e] : book_)
    if (e.state.peer_class() == PeerClass::Masternode) e.state.reset_backoff(now);
}

void AddressBook::fresh_start(const NodeId& id, SteadyPoint now) {
  for (auto& [k, e] : book_)
    if (e.node_id == id) {
      e.state.record_fresh_evidence(now);
      if (e.score.value(now) <= s_.quality.ban_threshold) e.score = p2p::PeerScore(s_.quality.score_half_life);
    }
}

std::size_t AddressBook::breakers_open(SteadyPoint now) const {
  return static_cast<std::size_t>(std::count_if(book_.begin(), book_.end(), [now](const auto& kv) {
    return kv.second.state.breaker(now) == p2p::BreakerState::Open;
  }));
}

// ------------------------------------------------------------------ persistence

AddressBook::Restored AddressBook::restore(const std::string& key, const p2p::AddressRecord& r, std::string raw,
                                           SteadyPoint now, std::int64_t now_ms) {
  auto a = util::parse_host_port(r.address);
  if (!a || r.address != key) return Restored::Invalid;
  if (book_.size() >= s_.max_entries) return Restored::Full;
  AddressEntry e(*a, r.dial.peer_class, r.source, s_.reconnect, s_.quality.score_half_life);
  e.state = p2p::AddressState::restore(r.dial, s_.reconnect, now, now_ms);
  e.score = p2p::PeerScore(s_.quality.score_half_life, r.score, now - p2p::Millis(now_ms - r.score_as_of_ms));
  // Only a verified node id is kept: genesis, config, or one our dial found
  // there (older records could hold ids that gossip or an inbound peer claimed).
  const bool dialled_ok = r.total_attempts > r.total_failures;
  if (r.source == "genesis" || r.source == "config" || r.source == "admin" || dialled_ok) e.node_id = r.node_id;
  e.self = r.self;
  e.wrong_network = r.wrong_network;
  e.total_attempts = r.total_attempts;
  e.total_failures = r.total_failures;
  e.last_attempt_ms = r.last_attempt_ms;
  e.last_success_ms = r.last_success_ms;
  e.last_error = r.last_error;
  e.recent_attempts_ms.assign(r.recent_attempts_ms.begin(), r.recent_attempts_ms.end());
  e.persisted = std::move(raw);
  book_.insert_or_assign(key, std::move(e));
  return Restored::Ok;
}

p2p::AddressRecord AddressBook::record_of(const std::string& k, const AddressEntry& e, SteadyPoint now,
                                          std::int64_t now_ms) const {
  p2p::AddressRecord r;
  r.address = k;
  r.node_id = e.node_id;
  r.source = e.source;
  r.self = e.self;
  r.wrong_network = e.wrong_network;
  r.total_attempts = e.total_attempts;
  r.total_failures = e.total_failures;
  r.last_attempt_ms = e.last_attempt_ms;
  r.last_success_ms = e.last_success_ms;
  r.last_error = e.last_error;
  r.score = e.score.stored_value();
  r.score_as_of_ms = now_ms - std::chrono::duration_cast<p2p::Millis>(now - e.score.as_of()).count();
  r.dial = e.state.save(now, now_ms);
  r.recent_attempts_ms.assign(e.recent_attempts_ms.begin(), e.recent_attempts_ms.end());
  return r;
}

std::vector<std::pair<std::string, std::string>> AddressBook::take_changed(SteadyPoint now, std::int64_t now_ms) {
  std::vector<std::pair<std::string, std::string>> puts;
  for (auto& [k, e] : book_) {
    const auto bytes = p2p::encode(record_of(k, e, now, now_ms));
    std::string value(bytes.begin(), bytes.end());
    if (value == e.persisted) continue;
    e.persisted = value;
    puts.emplace_back(k, std::move(value));
  }
  return puts;
}

}  // namespace core::node
