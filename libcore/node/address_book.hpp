#pragma once
// The address book (DESIGN.md 6): every address this node knows, what it
// knows of it (class, source, node id last seen there, self, another
// network) and its dial bookkeeping (p2p::AddressState: backoff, parking,
// breaker; p2p::PeerScore; totals and the last attempts), plus the
// persistent form of each entry (p2p::AddressRecord).
//
// Pure: no sockets, no clock reads, no logging. Every call that depends on
// time takes the steady `now` (and, where a wall-clock time is recorded,
// `now_ms`, the same instant in unix ms). Invariants kept here:
//   - at most `max_entries` entries, every class together: a discovered
//     address is refused when the book is full, and a genesis or config one
//     takes the place of the worst discovered entry;
//   - at most `max_per_source` addresses introduced by one source (the IP
//     of a gossiping or inbound peer), so one peer cannot fill the book;
//   - an entry's key is its address ("host:port") and never changes;
//   - a class only ever moves up (discovered -> static -> masternode), and
//     only genesis and the operator's config make masternode or static
//     entries: gossip is a hint and never does;
//   - an entry's node_id is verified: it comes from genesis or from our own
//     dial to that address completing a handshake with that node. What a
//     peer says (gossip, an inbound peer's announced listen port) never
//     sets or overwrites it;
//   - the one rule for which entry belongs to a connection: key_of().
//
// Threads: owned by the node's strand.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "libcore/config/defaults.hpp"
#include "libcore/crypto/types.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/p2p/messages.hpp"
#include "libcore/p2p/peer_records.hpp"
#include "libcore/util/address.hpp"

namespace core::node {

using NodeId = crypto::PublicKey;
using SteadyPoint = p2p::TimePoint;

// Dial start times kept per address (/addrbook recent_attempts_ms).
inline constexpr std::size_t kRecentAttempts = 16;

struct AddressEntry {
  AddressEntry(util::HostPort a, p2p::PeerClass c, std::string src, const p2p::ReconnectSettings& reconnect,
               p2p::Millis score_half_life)
      : address(std::move(a)), state(c, reconnect), score(score_half_life), source(std::move(src)) {}

  util::HostPort address;
  p2p::AddressState state;
  p2p::PeerScore score;
  std::string source;             // "genesis" | "config" | "gossip" | "inbound" | "admin"
  std::optional<NodeId> node_id;  // the node verified at this address (genesis, or our dial)
  // The inbound peer that last announced this address as its listen
  // address: not an identity, only a reason not to dial it, while it is
  // unverified and discovered and that peer is connected (the dial would
  // find it again). Not stored.
  std::optional<NodeId> announced_by;
  std::string introduced_by;   // the source that added it ("" for genesis, config, admin, a restart)
  bool self = false;           // it is this node: never dialled
  bool wrong_network = false;  // it answered as another network: never dialled again
  std::uint64_t total_attempts = 0, total_failures = 0;
  std::optional<std::int64_t> last_attempt_ms, last_success_ms;  // unix ms
  std::string last_error;
  std::deque<std::int64_t> recent_attempts_ms;  // oldest first, at most kRecentAttempts
  // The dialler's summarised failure logging (dialler.cpp).
  std::uint64_t unlogged_failures = 0;
  std::optional<SteadyPoint> last_failure_log;
  // The record as last written to the store ("" if never).
  std::string persisted;
};

// How a connection came to be, for the connection-to-entry rule.
struct ConnectionOrigin {
  bool outbound = false;
  std::string dial_key;        // outbound: the address dialled
  std::string listen_address;  // inbound: Connection::listen_address(), as the peer announced it ("" if none)
};

struct AddressBookSettings {
  p2p::ReconnectSettings reconnect;
  p2p::PeerQualitySettings quality;
  std::size_t max_entries = config::defaults::kMaxAddressBook;
  std::size_t max_per_source = config::defaults::kMaxAddressesPerSource;
};

class AddressBook {
 public:
  AddressBook(AddressBookSettings settings, const NodeId& own_id);

  AddressEntry* find(const std::string& key);
  const AddressEntry* find(const std::string& key) const;
  const std::map<std::string, AddressEntry>& entries() const { return book_; }
  std::size_t size() const { return book_.size(); }

  // Adds an address, or upgrades its class (masternode > static >
  // discovered, taking the new source with it). Sets the node id when given
  // (a verified one: genesis, or the caller's own dial) and marks the entry
  // self when it is ours. `introduced_by` names the source a discovered
  // address counts against. Returns nullptr when a new discovered address
  // does not fit (book full, or its source at max_per_source).
  AddressEntry* add(const util::HostPort& address, p2p::PeerClass c, const std::string& source,
                    std::optional<NodeId> id = std::nullopt, const std::string& introduced_by = "");
  // Addresses introduced by `source` now.
  std::size_t introduced_by(const std::string& source) const;

  // The start-up seeding: genesis masternodes (with their ids), static peers
  // (a "config" entry no longer among them is removed: its key is
  // returned, for the store), and this node's own addresses marked self.
  std::vector<std::string> seed(const std::vector<std::pair<util::HostPort, NodeId>>& masternodes,
                                const std::vector<util::HostPort>& static_peers,
                                const std::vector<std::string>& own_addresses);

  // The entry a connection's outcome is charged to: the address dialled
  // (outbound) or the announced listen address (inbound); nullopt for an
  // inbound peer that does not listen.
  static std::optional<std::string> key_of(const ConnectionOrigin& origin);
  AddressEntry* entry_of(const ConnectionOrigin& origin);
  const AddressEntry* entry_of(const ConnectionOrigin& origin) const;

  // ---- dialling (the caller's protocol is p2p::AddressState's)
  struct Due {
    std::vector<p2p::DialCandidate> candidates;  // may be dialled now
    std::optional<SteadyPoint> next;             // the earliest later time one becomes due
  };
  // Every address that may be dialled at `now`: not self, not another
  // network, not in flight, not `skip`ped (banned, or its node connected);
  // static and discovered ones only while `free_slots` > 0.
  Due due(SteadyPoint now, std::size_t free_slots, const std::function<bool(const NodeId&)>& skip) const;
  // Dials in flight to non-masternode addresses (they hold outbound slots).
  std::size_t dialing_non_masternodes() const;
  void record_attempt(AddressEntry& e, SteadyPoint now, std::int64_t now_ms);
  // A dial failed: backoff/breaker/parking step, totals, score `event`.
  void record_failure(AddressEntry& e, p2p::ScoreEvent event, std::string error, SteadyPoint now,
                      const p2p::Uniform01& uniform01);
  // A dial was refused for `capacity`: AddressState::record_busy; no score
  // step, counted in total_busy.
  void record_busy(AddressEntry& e, std::string error, SteadyPoint now, const p2p::Uniform01& uniform01);
  // A dial's handshake completed with node `id`.
  void record_success(AddressEntry& e, const NodeId& id, SteadyPoint now, std::int64_t now_ms);
  // An inbound peer `id` from `source_ip` completed its handshake announcing
  // `listen` (its Hello's address, or its IP with its listen port), which
  // is unverified: an
  // unknown address is added as discovered (counted against source_ip),
  // without a node id; an entry verified for `id` gets fresh evidence; an
  // entry verified for another node is left untouched.
  void record_inbound(const util::HostPort& listen, const NodeId& id, const std::string& source_ip, SteadyPoint now,
                      std::int64_t now_ms);
  // A Peers entry gossiped by a peer from `source_ip`: a hint. It is added
  // as discovered (whatever role or id it claims), counted against
  // source_ip; a known address a peer saw alive after our last attempt
  // gets fresh evidence.
  void learn(const p2p::PeerEntry& p, const std::string& source_ip, SteadyPoint now);
  // A node that had no peers regained one: masternodes may be dialled at once.
  void reset_masternode_backoff(SteadyPoint now);
  // `id` was unbanned: its addresses get a fresh start (evidence, and a
  // score at or below ban_threshold back to zero).
  void fresh_start(const NodeId& id, SteadyPoint now);
  std::size_t breakers_open(SteadyPoint now) const;

  // ---- persistence
  // One entry from its stored record (a restart): score decayed and
  // cool-downs counted across the downtime; `raw` is the stored bytes (so an
  // unchanged entry is not rewritten). Invalid when the key is not the
  // record's address or the address does not parse; Full when the book is.
  enum class Restored { Ok, Invalid, Full };
  Restored restore(const std::string& key, const p2p::AddressRecord& record, std::string raw, SteadyPoint now,
                   std::int64_t now_ms);
  p2p::AddressRecord record_of(const std::string& key, const AddressEntry& e, SteadyPoint now,
                               std::int64_t now_ms) const;
  // The encoded records that changed since they were last returned (each
  // then counts as persisted).
  std::vector<std::pair<std::string, std::string>> take_changed(SteadyPoint now, std::int64_t now_ms);

 private:
  bool evict_discovered();
  void erase(std::map<std::string, AddressEntry>::iterator it);  // keeps introduced_ in step

  AddressBookSettings s_;
  NodeId own_id_;
  std::map<std::string, AddressEntry> book_;
  std::map<std::string, std::size_t> introduced_;  // introduced_by -> entries, so the cap check is O(log n)
};

}  // namespace core::node
