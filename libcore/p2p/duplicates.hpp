#pragma once
// Duplicate connections (DESIGN.md section 5), as pure functions of node ids
// and session nonces: no sockets, no clocks. Duplicates are keyed by node id,
// never by IP, and resolved only after both identities are proven.
//
// How the caller acts on a verdict of resolve_duplicate (`existing` is the
// live connection already registered for the peer, `incoming` the one whose
// handshake just completed; both carry the same peer node id):
//   ReplaceWithNew      register `incoming` as the peer's connection and close
//                       `existing` with Reject{duplicate} (graceful close).
//   ProbeExistingFirst  hold `incoming` unregistered and Ping on `existing`.
//                       Pong within kDuplicateProbeTimeout: the verdict is
//                       KeepExisting; otherwise ReplaceWithNew (settle_probe
//                       does this mapping). A dead old connection is
//                       replaced, never defended.
//   KeepExisting        close `incoming` with Reject{duplicate}; `existing`
//                       stays. Only a probe produces it.
// A connection closed with Reject{duplicate} is neither a dial failure nor
// misbehaviour: no backoff, no breaker step, no score change.
//
// Why both sides keep the same connection. Between nodes a and b there are at
// most two connections worth keeping apart: the one a dialled and the one b
// dialled. tie_break_key is symmetric in (a, b), so both nodes compute the
// same preferred initiator, and each node ends with the preferred initiator's
// connection whatever order the two handshakes completed in: if it completed
// second it replaces the other (ReplaceWithNew); if it completed first it is
// the `existing` one, it answers the probe, and the other is closed
// (KeepExisting). Simultaneous dialling therefore never leaves the pair with
// none. When one side dialled twice both connections have the same initiator
// and the key cannot separate them: both sides probe the older one and keep it
// while it answers, which is the same connection on both sides. (Only a probe
// that one side sees answered and the other does not can close both; the
// ordinary reconnect then dials again at once, since a duplicate close is not
// a failure.) The key hashes the initiator's id together with the pair, so whether a
// wins depends on the pair, not on a alone: no node is always the one whose
// dial loses. A new session nonce means the peer restarted and every older
// connection of it is stale, so a new session always replaces at once instead
// of waiting for a ping timeout. (Session nonces are random, not ordered; the
// newest handshake wins, and a dead process cannot complete a handshake.)

#include <chrono>
#include <functional>
#include <optional>
#include <set>

#include "libcore/crypto/types.hpp"

namespace core::p2p {

using NodeId = crypto::PublicKey;
using SessionNonce = crypto::FixedBytes<32>;

// How long the existing connection has to answer the liveness Ping
// (DESIGN.md section 5: "a ping answered within 2 s").
inline constexpr std::chrono::milliseconds kDuplicateProbeTimeout{2000};

// What the local node knows about one connection to a peer.
struct ConnectionFacts {
  NodeId initiator;             // who dialled: our id or the peer's id
  SessionNonce remote_session;  // the peer's session_nonce from its Hello
};

enum class DuplicateVerdict { KeepExisting, ReplaceWithNew, ProbeExistingFirst };
// "keep_existing", "replace_with_new", "probe_existing_first": for logs.
const char* to_string(DuplicateVerdict v);

// BLAKE2b-256(min(a,b) || max(a,b) || initiator). Symmetric in a and b.
// Needs crypto::init() to have run. Any thread.
crypto::Hash32 tie_break_key(const NodeId& a, const NodeId& b, const NodeId& initiator);

// Whichever of a and b, as initiator, gives the smaller tie_break_key: the
// initiator whose connection both nodes keep. Symmetric:
// preferred_initiator(a, b) == preferred_initiator(b, a). Returns a when a == b.
NodeId preferred_initiator(const NodeId& a, const NodeId& b);

// The duplicate rule, evaluated by `ours` when a second proven connection to
// `theirs` completes its handshake:
//   1. incoming.remote_session != existing.remote_session -> ReplaceWithNew
//      (the peer restarted; the old connection is stale);
//   2. incoming's initiator is the preferred one and existing's is not
//      -> ReplaceWithNew;
//   3. otherwise (the same side dialled twice, or incoming loses the
//      tie-break) -> ProbeExistingFirst.
// Never returns KeepExisting (see settle_probe). Both initiators must be
// `ours` or `theirs` (asserted: the caller knows who dialled).
DuplicateVerdict resolve_duplicate(const NodeId& ours, const NodeId& theirs, const ConnectionFacts& existing,
                                   const ConnectionFacts& incoming);

// The outcome of ProbeExistingFirst: KeepExisting when the existing
// connection answered the Ping within kDuplicateProbeTimeout, else
// ReplaceWithNew.
constexpr DuplicateVerdict settle_probe(bool existing_answered_in_time) {
  return existing_answered_in_time ? DuplicateVerdict::KeepExisting : DuplicateVerdict::ReplaceWithNew;
}

// Before dialling an address: true (skip it) when the node id last seen at
// that address is already connected. An address never seen with a node id
// (nullopt) is dialled.
bool should_skip_dial(const std::optional<NodeId>& last_seen, const std::function<bool(const NodeId&)>& is_connected);
bool should_skip_dial(const std::optional<NodeId>& last_seen, const std::set<NodeId>& connected);

}  // namespace core::p2p
