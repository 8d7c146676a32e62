#include "libcore/node/eviction.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <map>

namespace core::node {

namespace {

using Peer = const EvictionCandidate*;

// Connected later; equal times are ordered by id so that every choice is
// deterministic.
bool younger(const EvictionCandidate& a, const EvictionCandidate& b) {
  if (a.connected_since_ms != b.connected_since_ms) return a.connected_since_ms > b.connected_since_ms;
  return a.id > b.id;
}
bool older(const EvictionCandidate& a, const EvictionCandidate& b) { return younger(b, a); }

// Protects (removes from `rest`) at most `k` of the peers for which
// `eligible` holds, those that come first in `before`'s order.
void protect(std::vector<Peer>& rest, std::size_t k, const std::function<bool(const EvictionCandidate&)>& eligible,
             const std::function<bool(const EvictionCandidate&, const EvictionCandidate&)>& before) {
  std::vector<Peer> ranked;
  for (Peer p : rest)
    if (eligible(*p)) ranked.push_back(p);
  std::sort(ranked.begin(), ranked.end(), [&](Peer a, Peer b) { return before(*a, *b); });
  ranked.resize(std::min(k, ranked.size()));
  std::erase_if(rest, [&](Peer p) { return std::find(ranked.begin(), ranked.end(), p) != ranked.end(); });
}

// Step 1 of the rule: what is left unprotected.
std::vector<Peer> unprotected(const std::vector<EvictionCandidate>& candidates) {
  std::vector<Peer> rest;
  for (const auto& c : candidates)
    if (!c.exempt) rest.push_back(&c);
  protect(
      rest, kProtectFastest, [](const EvictionCandidate& c) { return c.min_rtt_ms.has_value(); },
      [](const EvictionCandidate& a, const EvictionCandidate& b) {
        if (*a.min_rtt_ms != *b.min_rtt_ms) return *a.min_rtt_ms < *b.min_rtt_ms;
        return older(a, b);
      });
  protect(
      rest, kProtectBlockSuppliers, [](const EvictionCandidate& c) { return c.blocks_delivered > 0; },
      [](const EvictionCandidate& a, const EvictionCandidate& b) {
        if (a.blocks_delivered != b.blocks_delivered) return a.blocks_delivered > b.blocks_delivered;
        return older(a, b);
      });
  protect(
      rest, rest.size() / kProtectLongestConnectedDivisor, [](const EvictionCandidate&) { return true; }, older);
  return rest;
}

// The peers of one source (a network group, or an address in it).
struct Source {
  std::size_t existing = 0;  // unprotected candidates
  bool newcomer = false;     // the regular newcomer counts here too
  Peer youngest = nullptr;   // its youngest existing peer

  std::size_t count() const { return existing + (newcomer ? 1 : 0); }
  void add(Peer p) {
    ++existing;
    if (!youngest || younger(*p, *youngest)) youngest = p;
  }
};

// More crowded: more peers; on a tie, the youngest existing peer is younger
// (a source holding only the newcomer loses every tie).
bool more_crowded(const Source& a, const Source& b) {
  if (a.count() != b.count()) return a.count() > b.count();
  if (a.youngest && b.youngest) return younger(*a.youngest, *b.youngest);
  return a.youngest != nullptr;
}

template <typename Map>
typename Map::const_iterator most_crowded(const Map& sources) {
  auto best = sources.begin();
  for (auto it = sources.begin(); it != sources.end(); ++it)
    if (more_crowded(it->second, best->second)) best = it;
  return best;
}

// An address in network byte order (IPv4 in the first 4 bytes).
using Address = std::array<unsigned char, 16>;

// "a.b.0.0/16", "2001:db8::/32": the address with every bit from `bits` on cleared.
std::string group_of(int family, Address a, unsigned bits) {
  const unsigned size_bits = family == AF_INET ? 32 : 128;
  for (unsigned bit = bits; bit < size_bits; ++bit) a[bit / 8] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
  std::array<char, INET6_ADDRSTRLEN> out{};
  inet_ntop(family, a.data(), out.data(), out.size());
  return std::string(out.data()) + "/" + std::to_string(bits);
}

std::string format_score(double score) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.1f", score);
  return buf.data();
}

}  // namespace

const char* to_string(EvictionOutcome o) {
  switch (o) {
    case EvictionOutcome::CrowdedSource:
      return "crowded_source";
    case EvictionOutcome::LowestScore:
      return "lowest_score";
    case EvictionOutcome::AllProtected:
      return "all_protected";
    case EvictionOutcome::NewcomerCrowded:
      return "newcomer_crowded";
  }
  return "unknown";
}

EvictionDecision select_eviction(const std::vector<EvictionCandidate>& candidates, const EvictionNewcomer& newcomer) {
  const auto regular = static_cast<std::size_t>(
      std::count_if(candidates.begin(), candidates.end(), [](const auto& c) { return !c.exempt; }));
  const std::vector<Peer> rest = unprotected(candidates);

  if (rest.empty()) {
    EvictionDecision d;
    d.reason = regular == 0 ? "no regular inbound peer to evict"
                            : "all " + std::to_string(regular) +
                                  " regular inbound peers are protected (fastest, block suppliers, longest connected)";
    if (!newcomer.masternode || regular == 0) return d;
    // Step 4: a masternode always gets a slot while a regular peer holds one.
    Peer worst = nullptr;
    for (const auto& c : candidates) {
      if (c.exempt) continue;
      if (!worst || c.score < worst->score || (c.score == worst->score && younger(c, *worst))) worst = &c;
    }
    d.outcome = EvictionOutcome::LowestScore;
    d.victim = worst->id;
    d.reason += "; the lowest-scored one (score " + format_score(worst->score) + ")";
    return d;
  }

  // Step 2: the most crowded network group, then the most crowded address in it.
  const bool count_newcomer = !newcomer.masternode;
  const std::string newcomer_group = source_group(newcomer.ip);
  std::map<std::string, Source> groups;
  for (Peer p : rest) groups[source_group(p->ip)].add(p);
  if (count_newcomer) groups[newcomer_group].newcomer = true;
  const auto group = most_crowded(groups);

  std::map<std::string, Source> addresses;
  for (Peer p : rest)
    if (source_group(p->ip) == group->first) addresses[p->ip].add(p);
  if (count_newcomer && newcomer_group == group->first) addresses[newcomer.ip].newcomer = true;
  const auto address = most_crowded(addresses);

  const std::string where = address->first + " (" + std::to_string(address->second.existing) + " of " +
                            std::to_string(rest.size()) + " unprotected inbound peers; " +
                            std::to_string(group->second.existing) + " in " + group->first + ")";
  EvictionDecision d;
  if (count_newcomer && address->first == newcomer.ip) {
    // Step 3: it would only take the slot of a peer of its own source.
    d.outcome = EvictionOutcome::NewcomerCrowded;
    d.reason = "the newcomer's address is the most crowded source: " + where;
    return d;
  }
  d.outcome = EvictionOutcome::CrowdedSource;
  d.victim = address->second.youngest->id;
  d.reason = "the youngest peer of the most crowded source " + where;
  return d;
}

std::string source_group(std::string_view ip) {
  const std::string text(ip);
  Address a{};
  if (inet_pton(AF_INET, text.c_str(), a.data()) == 1) return group_of(AF_INET, a, kIpv4GroupBits);
  if (inet_pton(AF_INET6, text.c_str(), a.data()) != 1) return text;
  constexpr std::array<unsigned char, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), a.begin())) return group_of(AF_INET6, a, kIpv6GroupBits);
  std::copy_n(a.begin() + kMappedPrefix.size(), 4, a.begin());  // "::ffff:a.b.c.d" is a.b.c.d
  return group_of(AF_INET, a, kIpv4GroupBits);
}

}  // namespace core::node
