#pragma once
// Inbound eviction (DESIGN.md 6 and 11, "no eclipse of inbound slots"),
// pure: no sockets, no clock reads. When the inbound slots are full, it
// decides which inbound peer makes room for a newcomer, or that nobody
// does. After the idea of Bitcoin Core's inbound eviction (SelectNodeToEvict):
// peers an attacker cannot cheaply imitate are protected, and the victim
// comes from the source that holds the most of the rest.
//
// The rule, select_eviction(candidates, newcomer):
//   0. Exempt peers (genesis masternodes, static peers) are never evicted:
//      they are not candidates and do not count in any source.
//   1. Protected, in this order, each step choosing among the candidates
//      not protected yet:
//        - the kProtectFastest with the lowest minimum round-trip time
//          (only peers with a measured one: an attacker cannot fake being
//          close to us);
//        - the kProtectBlockSuppliers that delivered the most blocks to us
//          on this connection (only peers that delivered any; ties: the
//          longest connected): serving the chain is work;
//        - of the rest, one in kProtectLongestConnectedDivisor (half,
//          rounded down), the longest connected: an attack that starts now
//          cannot displace peers that were here before it.
//   2. The unprotected candidates are grouped by source: first by network
//      group (source_group: the /16 of an IPv4 address, the /32 of an IPv6
//      one; addresses are cheap within such a block, blocks are not), then
//      by IP address within the group. The most crowded source is the
//      group with the most peers and, in it, the IP address with the most
//      peers. A regular newcomer counts as one more peer of its own group
//      and address. Ties go to the source whose youngest existing peer
//      connected last; a source holding only the newcomer loses every tie.
//   3. If the most crowded source is the regular newcomer's own address,
//      nobody is evicted: it would only take the slot of a peer of its own
//      source, and an attacker could churn forever. Otherwise the youngest
//      peer (latest connected_since; ties: the greater id) of that address
//      is evicted.
//   4. A masternode newcomer is not counted in step 2 and never refused:
//      if every regular candidate is protected, the one with the lowest
//      score (ties: the youngest) is evicted instead (DESIGN.md 6), so a
//      masternode always gets a slot while a regular peer holds one.
// With few inbound peers (kProtectFastest or fewer, all with a measured
// round-trip) every regular peer is protected and a regular newcomer is
// refused: eviction is for a node under pressure, not a rotation.
//
// Threads: any (pure functions).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libcore/crypto/types.hpp"

namespace core::node {

using NodeId = crypto::PublicKey;

// Step 1's protections.
inline constexpr std::size_t kProtectFastest = 8;
inline constexpr std::size_t kProtectBlockSuppliers = 4;
inline constexpr std::size_t kProtectLongestConnectedDivisor = 2;
// Step 2's network groups: the leading bits of an address that make one group.
inline constexpr unsigned kIpv4GroupBits = 16;
inline constexpr unsigned kIpv6GroupBits = 32;

// One connected inbound peer, as the connection manager sees it.
struct EvictionCandidate {
  NodeId id;
  std::string ip;                       // remote IP address of its connection ("1.2.3.4", "2001:db8::1")
  std::int64_t connected_since_ms = 0;  // when it connected; any clock, the same for every candidate
  std::optional<double> min_rtt_ms;     // lowest round-trip time measured; nullopt before the first Pong
  std::uint64_t blocks_delivered = 0;   // blocks it delivered to us on this connection
  bool exempt = false;                  // a genesis masternode (its key proven) or a static peer of ours: never evicted
  double score = 0;                     // its quality score: only step 4 uses it
};

// Who wants a slot.
struct EvictionNewcomer {
  std::string ip;
  bool masternode = false;
};

enum class EvictionOutcome {
  CrowdedSource,    // evict: the youngest peer of the most crowded source (steps 2-3)
  LowestScore,      // evict for a masternode: every regular peer was protected (step 4)
  AllProtected,     // nobody: no unprotected regular candidate (or none at all)
  NewcomerCrowded,  // nobody: the newcomer's own address is the most crowded source (step 3)
};
// "crowded_source", "lowest_score", "all_protected", "newcomer_crowded".
const char* to_string(EvictionOutcome o);

struct EvictionDecision {
  EvictionOutcome outcome = EvictionOutcome::AllProtected;
  std::optional<NodeId> victim;  // set exactly for CrowdedSource and LowestScore
  // Why, for the log and for a refused newcomer's Reject: "most crowded
  // source 127.0.0.12 (5 of 28 unprotected inbound peers; 28 in
  // 127.0.0.0/16), its youngest peer".
  std::string reason;
};

// The rule above. `candidates` are the connected inbound peers (the
// newcomer not among them), in any order; the result does not depend on
// their order. Never fails: an empty list gives AllProtected.
EvictionDecision select_eviction(const std::vector<EvictionCandidate>& candidates, const EvictionNewcomer& newcomer);

// The network group of an IP address: "a.b.0.0/16" for IPv4 (also when
// written IPv4-mapped, "::ffff:a.b.c.d"), "xxxx:yyyy::/32" for IPv6, and
// the text itself for anything that does not parse as an address.
std::string source_group(std::string_view ip);

}  // namespace core::node
