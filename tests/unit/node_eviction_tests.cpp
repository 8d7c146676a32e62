// libcore/node/eviction: who makes room for a newcomer when the inbound
// slots are full. One test per rule of eviction.hpp, then the issue's
// attack (63 peers from 10 addresses) played for many rounds.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "libcore/node/eviction.hpp"

using core::node::EvictionCandidate;
using core::node::EvictionDecision;
using core::node::EvictionNewcomer;
using core::node::EvictionOutcome;
using core::node::NodeId;
using core::node::select_eviction;
using core::node::source_group;

namespace {

NodeId id_of(int n) {
  NodeId id;
  id.bytes[0] = static_cast<std::uint8_t>(n >> 8);
  id.bytes[1] = static_cast<std::uint8_t>(n);
  return id;
}

// Peer `n`, connected at time `since` (ms), from `ip`: no round-trip
// measured, no blocks delivered, regular, score 0.
EvictionCandidate peer(int n, const std::string& ip, std::int64_t since) {
  EvictionCandidate c;
  c.id = id_of(n);
  c.ip = ip;
  c.connected_since_ms = since;
  return c;
}

// `count` peers connected before everything else (times 1..count), each
// from its own /16 (11.n.0.1): the longest-connected half protects exactly
// them when the others number `count` too, so a test sees the other rules alone.
std::vector<EvictionCandidate> elders(int count) {
  std::vector<EvictionCandidate> out;
  for (int i = 0; i < count; ++i) out.push_back(peer(1000 + i, "11." + std::to_string(i) + ".0.1", 1 + i));
  return out;
}

// `count` more peers from `ip`, numbered on from the young ones already in
// `cands` (1, 2, ...) and connected in that order at 100 + their number.
void add_young(std::vector<EvictionCandidate>& cands, const std::string& ip, int count) {
  int n = static_cast<int>(std::count_if(cands.begin(), cands.end(), [](const auto& c) { return c.id.bytes[0] == 0; }));
  for (int i = 0; i < count; ++i, ++n) cands.push_back(peer(n + 1, ip, 100 + n + 1));
}

const EvictionNewcomer kStranger{"192.168.5.5", false};  // a regular newcomer from a /16 of its own

std::optional<int> victim_number(const EvictionDecision& d) {
  if (!d.victim) return std::nullopt;
  return (d.victim->bytes[0] << 8) | d.victim->bytes[1];
}

}  // namespace

TEST_CASE("source groups: /16 for IPv4 (also IPv4-mapped), /32 for IPv6, the text itself otherwise", "[unit][node]") {
  CHECK(source_group("127.0.0.12") == "127.0.0.0/16");
  CHECK(source_group("203.0.113.77") == "203.0.0.0/16");
  CHECK(source_group("::ffff:203.0.113.77") == "203.0.0.0/16");
  CHECK(source_group("2001:db8:abcd:12::1") == "2001:db8::/32");
  CHECK(source_group("2001:0db8:ffff::") == "2001:db8::/32");
  CHECK(source_group("::1") == "::/32");
  CHECK(source_group("?") == "?");
  CHECK(source_group("") == "");
  CHECK(source_group("not.an.ip") == "not.an.ip");
}

TEST_CASE("nobody to evict: no candidates, or only exempt peers", "[unit][node]") {
  auto d = select_eviction({}, kStranger);
  CHECK(d.outcome == EvictionOutcome::AllProtected);
  CHECK_FALSE(d.victim);
  std::vector<EvictionCandidate> mns;
  for (int i = 0; i < 30; ++i) {
    mns.push_back(peer(i, "10.0.0.1", 100 + i));
    mns.back().exempt = true;
  }
  d = select_eviction(mns, kStranger);
  CHECK(d.outcome == EvictionOutcome::AllProtected);
  CHECK_FALSE(d.victim);
  CHECK(d.reason == "no regular inbound peer to evict");
  // Not for a masternode newcomer either: masternodes are never evicted.
  CHECK_FALSE(select_eviction(mns, {"192.168.5.5", true}).victim);
}

TEST_CASE("exempt peers (masternodes, static peers) are never evicted and do not make their source crowded",
          "[unit][node]") {
  auto cands = elders(16);
  // 10 young masternodes behind one address, 6 young regular peers spread
  // over two addresses of another /16.
  for (int i = 0; i < 10; ++i) {
    cands.push_back(peer(i, "10.0.0.1", 100 + i));
    cands.back().exempt = true;
  }
  for (int i = 0; i < 4; ++i) cands.push_back(peer(20 + i, "172.16.0.1", 200 + i));
  for (int i = 0; i < 2; ++i) cands.push_back(peer(30 + i, "172.16.0.2", 300 + i));
  // 22 regular: the 11 oldest (elders) are protected; left are 5 elders
  // (distinct /16s) and the 6 in 172.16/16, whose busiest address is .1.
  const auto d = select_eviction(cands, kStranger);
  REQUIRE(d.outcome == EvictionOutcome::CrowdedSource);
  CHECK(victim_number(d) == 23);  // the youngest of 172.16.0.1
}

TEST_CASE("the kProtectFastest peers with the lowest measured round-trip are protected", "[unit][node]") {
  // 20 peers behind one address, connected at 1..20: without protections
  // the youngest (20) would go.
  std::vector<EvictionCandidate> cands;
  for (int i = 1; i <= 20; ++i) cands.push_back(peer(i, "10.0.0.1", i));

  SECTION("the 8 fastest are kept, whatever their age") {
    // 12..20 measured; 12 is the slowest of them, so 13..20 are protected.
    for (int i = 12; i <= 20; ++i) cands[i - 1].min_rtt_ms = (i == 12) ? 9.0 : 0.1 * i;
    // Left: 1..12; the older half (1..6) is protected; 12 is the youngest of 7..12.
    const auto d = select_eviction(cands, kStranger);
    REQUIRE(d.outcome == EvictionOutcome::CrowdedSource);
    CHECK(victim_number(d) == 12);
  }
  SECTION("a peer without a measured round-trip is not protected by it") {
    for (int i = 18; i <= 20; ++i) cands[i - 1].min_rtt_ms = 0.5;
    // 18..20 protected; left 1..17, the older half 1..8 protected; 17 goes.
    const auto d = select_eviction(cands, kStranger);
    CHECK(victim_number(d) == 17);
  }
  SECTION("equal round-trips: the longer connected is protected") {
    for (int i = 11; i <= 20; ++i) cands[i - 1].min_rtt_ms = 1.0;
    // 10 tie for 8 places: 11..18 are protected, 19 and 20 are not.
    const auto d = select_eviction(cands, kStranger);
    CHECK(victim_number(d) == 20);
  }
}

TEST_CASE("the kProtectBlockSuppliers that delivered the most blocks are protected", "[unit][node]") {
  std::vector<EvictionCandidate> cands;
  for (int i = 1; i <= 20; ++i) cands.push_back(peer(i, "10.0.0.1", i));
  cands[20 - 1].blocks_delivered = 50;
  cands[19 - 1].blocks_delivered = 40;
  cands[18 - 1].blocks_delivered = 30;
  cands[17 - 1].blocks_delivered = 10;
  cands[16 - 1].blocks_delivered = 10;  // ties with 17 and is older: it takes the fourth place
  // Protected: 20, 19, 18, 16. Left: 1..15 and 17, the older half (1..8)
  // protected; the youngest of the rest is 17: five suppliers, four places.
  const auto d = select_eviction(cands, kStranger);
  REQUIRE(d.outcome == EvictionOutcome::CrowdedSource);
  CHECK(victim_number(d) == 17);

  SECTION("delivering nothing protects nobody") {
    for (auto& c : cands) c.blocks_delivered = 0;
    CHECK(victim_number(select_eviction(cands, kStranger)) == 20);
  }
}

TEST_CASE("the longest-connected half of the rest is protected: a later crowd cannot displace it", "[unit][node]") {
  // Four old peers share one address; six young ones come from six /16s.
  std::vector<EvictionCandidate> cands;
  for (int i = 1; i <= 4; ++i) cands.push_back(peer(i, "10.1.0.1", i));
  for (int i = 5; i <= 10; ++i) cands.push_back(peer(i, "10." + std::to_string(10 + i) + ".0.1", i));
  // 10 candidates: 1..5 protected. The old crowd (1..4) is untouchable; the
  // rest are one per source and the tie goes to the youngest.
  const auto d = select_eviction(cands, kStranger);
  REQUIRE(d.outcome == EvictionOutcome::CrowdedSource);
  CHECK(victim_number(d) == 10);
}

TEST_CASE("the most crowded source: the /16 with the most peers first, then its busiest address", "[unit][node]") {
  auto cands = elders(14);
  // 10.0/16: 3 + 4 + 1 peers on three addresses; 172.16/16: 6 on one address.
  add_young(cands, "10.0.0.1", 3);  // peers 1-3
  add_young(cands, "10.0.0.2", 4);  // peers 4-7
  add_young(cands, "10.0.0.3", 1);  // peer 8
  add_young(cands, "172.16.0.1", 6);
  // The elders are protected; 10.0/16 (8) beats 172.16/16 (6) though
  // 172.16.0.1 is the busiest single address: addresses are cheap within a
  // /16. In 10.0/16, 10.0.0.2 (4) is busiest; its youngest is peer 7.
  const auto d = select_eviction(cands, kStranger);
  REQUIRE(d.outcome == EvictionOutcome::CrowdedSource);
  CHECK(victim_number(d) == 7);
  CHECK(d.reason ==
        "the youngest peer of the most crowded source 10.0.0.2 (4 of 14 unprotected inbound peers; "
        "8 in 10.0.0.0/16)");
}

TEST_CASE("ties between sources go to the one whose youngest peer is youngest", "[unit][node]") {
  auto cands = elders(6);
  cands.push_back(peer(1, "10.0.0.1", 100));
  cands.push_back(peer(2, "10.0.0.1", 105));
  cands.push_back(peer(3, "172.16.0.1", 101));
  cands.push_back(peer(4, "172.16.0.1", 110));
  cands.push_back(peer(5, "10.0.0.2", 102));
  cands.push_back(peer(6, "172.16.0.2", 103));
  // Groups of 3 each; 172.16/16 holds the youngest (4). In it, .1 (2 peers) beats .2.
  CHECK(victim_number(select_eviction(cands, kStranger)) == 4);
  cands[6 + 1].connected_since_ms = 120;  // now 10.0/16 holds the youngest
  CHECK(victim_number(select_eviction(cands, kStranger)) == 2);
}

TEST_CASE("a newcomer from the most crowded address is refused; from elsewhere it evicts there", "[unit][node]") {
  auto cands = elders(8);
  add_young(cands, "10.0.0.1", 4);  // peers 1-4
  add_young(cands, "10.0.0.2", 2);
  add_young(cands, "10.0.0.3", 2);

  auto d = select_eviction(cands, {"10.0.0.1", false});  // it would make 10.0.0.1 five
  CHECK(d.outcome == EvictionOutcome::NewcomerCrowded);
  CHECK_FALSE(d.victim);
  CHECK(d.reason ==
        "the newcomer's address is the most crowded source: 10.0.0.1 (4 of 8 unprotected inbound peers; 8 in "
        "10.0.0.0/16)");

  d = select_eviction(cands, {"10.0.0.2", false});  // 3 there with it: 10.0.0.1 is still busiest
  CHECK(d.outcome == EvictionOutcome::CrowdedSource);
  CHECK(victim_number(d) == 4);
  // Same /16, fresh address: the churn stays inside the crowd.
  CHECK(victim_number(select_eviction(cands, {"10.0.0.99", false})) == 4);
  CHECK(victim_number(select_eviction(cands, kStranger)) == 4);
}

TEST_CASE("a newcomer's own source loses ties", "[unit][node]") {
  // Every unprotected peer has a source of its own; so has the newcomer.
  // It counts as one more peer, yet does not win the tie as "youngest":
  // the youngest existing peer goes.
  auto cands = elders(4);
  for (int i = 1; i <= 4; ++i) cands.push_back(peer(i, "10." + std::to_string(i) + ".0.1", 100 + i));
  auto d = select_eviction(cands, kStranger);
  REQUIRE(d.outcome == EvictionOutcome::CrowdedSource);
  CHECK(victim_number(d) == 4);
  // With one peer at its address already it is a crowd of two: refused.
  cands.push_back(peer(5, "192.168.5.5", 90));
  cands.push_back(peer(1005, "11.99.0.1", 0));  // keeps the protected half at the elders
  d = select_eviction(cands, kStranger);
  CHECK(d.outcome == EvictionOutcome::NewcomerCrowded);
}

TEST_CASE("all protected: a regular newcomer is refused, a masternode takes the lowest-scored slot", "[unit][node]") {
  // Five regular peers with measured round-trips: all protected by kProtectFastest.
  std::vector<EvictionCandidate> cands;
  for (int i = 1; i <= 5; ++i) {
    cands.push_back(peer(i, "10.0.0.1", i));
    cands.back().min_rtt_ms = 1.0;
  }
  cands[1].score = -4;
  cands[3].score = -4;  // ties with peer 2 and is younger
  cands.push_back(peer(9, "10.0.0.9", 9));
  cands.back().exempt = true;
  cands.back().score = -90;  // a masternode never goes, whatever its score

  auto d = select_eviction(cands, kStranger);
  CHECK(d.outcome == EvictionOutcome::AllProtected);
  CHECK_FALSE(d.victim);
  CHECK(d.reason == "all 5 regular inbound peers are protected (fastest, block suppliers, longest connected)");

  d = select_eviction(cands, {"10.0.0.1", true});
  CHECK(d.outcome == EvictionOutcome::LowestScore);
  CHECK(victim_number(d) == 4);
  CHECK(d.reason ==
        "all 5 regular inbound peers are protected (fastest, block suppliers, longest connected); "
        "the lowest-scored one (score -4.0)");
}

TEST_CASE("a masternode newcomer is never refused for its source and is not counted in it", "[unit][node]") {
  auto cands = elders(6);
  add_young(cands, "10.0.0.1", 4);  // peers 1-4
  add_young(cands, "172.16.0.1", 2);
  // A regular newcomer from 10.0.0.1 is refused; a masternode from there
  // evicts the youngest of that address.
  CHECK(select_eviction(cands, {"10.0.0.1", false}).outcome == EvictionOutcome::NewcomerCrowded);
  const auto d = select_eviction(cands, {"10.0.0.1", true});
  CHECK(d.outcome == EvictionOutcome::CrowdedSource);
  CHECK(victim_number(d) == 4);
  // Not counted: from 172.16.0.1 it does not make that source the busiest.
  CHECK(victim_number(select_eviction(cands, {"172.16.0.1", true})) == 4);
}

TEST_CASE("the decision does not depend on the order of the candidates", "[unit][node]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> rtt(0.05, 3.0);
  std::vector<EvictionCandidate> cands;
  for (int i = 0; i < 64; ++i) {
    cands.push_back(peer(i, "10.0." + std::to_string(i % 5) + "." + std::to_string(i % 3), 1000 + (i * 37) % 50));
    if (i % 4) cands.back().min_rtt_ms = rtt(rng);
    cands.back().blocks_delivered = static_cast<std::uint64_t>(i % 7 == 0 ? i : 0);
  }
  const auto first = select_eviction(cands, kStranger);
  REQUIRE(first.victim);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(cands.begin(), cands.end(), rng);
    const auto again = select_eviction(cands, kStranger);
    CHECK(again.victim == first.victim);
    CHECK(again.reason == first.reason);
  }
}

TEST_CASE("issue 11: 63 attackers from 10 addresses hold the slots; honest peers get in and stay", "[unit][node]") {
  // Slots: 64. One honest peer (127.0.0.1) connected first; 63 attackers
  // from 127.0.0.10..19 (the loopback scenario's addresses): 55 round-robin
  // over .11-.19, then 8 from .10. Every peer answers pings in 0.1-1 ms.
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> rtt(0.1, 1.0);
  std::int64_t now = 1;
  int next = 0;
  std::map<int, bool> honest;  // number -> honest
  std::vector<EvictionCandidate> slots;
  auto connect = [&](const std::string& ip, bool is_honest) {
    slots.push_back(peer(++next, ip, now++));
    slots.back().min_rtt_ms = rtt(rng);
    honest[next] = is_honest;
    return next;
  };
  connect("127.0.0.1", true);
  for (int i = 0; i < 55; ++i) connect("127.0.0." + std::to_string(11 + i % 9), false);
  for (int i = 0; i < 8; ++i) connect("127.0.0.10", false);
  REQUIRE(slots.size() == 64);

  // An honest newcomer: an attacker of the busiest address (.10) makes room.
  auto d = select_eviction(slots, {"127.0.0.1", false});
  REQUIRE(d.outcome == EvictionOutcome::CrowdedSource);
  const auto victim = std::find_if(slots.begin(), slots.end(), [&](const auto& c) { return c.id == d.victim; });
  REQUIRE(victim != slots.end());
  CHECK(victim->ip == "127.0.0.10");
  CHECK_FALSE(honest[victim_number(d).value()]);
  slots.erase(victim);
  connect("127.0.0.1", true);

  // Then the attackers churn for 2000 rounds from their ten addresses and
  // from fresh ones of the same /16: they only ever evict each other, or
  // are refused.
  std::uniform_int_distribution<int> pick(0, 19);
  int evicted = 0, refused = 0;
  for (int round = 0; round < 2000; ++round) {
    const int k = pick(rng);
    const std::string ip = k < 10 ? "127.0.0." + std::to_string(10 + k) : "127.0.1." + std::to_string(round % 250);
    d = select_eviction(slots, {ip, false});
    if (!d.victim) {
      ++refused;
      continue;
    }
    const auto v = std::find_if(slots.begin(), slots.end(), [&](const auto& c) { return c.id == d.victim; });
    REQUIRE(v != slots.end());
    REQUIRE_FALSE(honest[victim_number(d).value()]);
    slots.erase(v);
    connect(ip, false);
    ++evicted;
  }
  CHECK(std::count_if(slots.begin(), slots.end(),
                      [&](const auto& c) { return honest[(c.id.bytes[0] << 8) | c.id.bytes[1]]; }) == 2);
  CHECK(evicted > 0);
  CHECK(refused > 0);
}
