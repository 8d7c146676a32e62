// The crawler's network map (p2p/network_map.hpp): components, masternodes
// seen and missing, tips, and what one node's claims can and cannot do.
#include <algorithm>

#include <catch2/catch.hpp>

#include "libcore/p2p/network_map.hpp"
#include "test_support.hpp"

namespace {

namespace p2p = core::p2p;
using core::crypto::Hash32;
using core::crypto::PublicKey;
using p2p::ConnectionEntry;
using p2p::CrawlVisit;
using p2p::Role;

PublicKey id(std::uint8_t n) { return test::key(n).public_key(); }
std::string addr(std::uint8_t n) { return "127.0.0.1:" + std::to_string(24000 + 2 * n); }

Hash32 tip(std::uint8_t n) {
  Hash32 h;
  h.bytes.fill(n);
  return h;
}

// A node reached at addr(n), at `height` on tip(fork), connected to `peers`.
CrawlVisit reached(std::uint8_t n, std::vector<std::uint8_t> peers, std::uint64_t height = 10, std::uint8_t fork = 1,
                   Role role = Role::Regular) {
  CrawlVisit v;
  v.address = addr(n);
  p2p::Hello h;
  h.node_id = id(n);
  h.role = role;
  h.best_height = height;
  h.best_hash = tip(fork);
  v.hello = h;
  std::vector<ConnectionEntry> c;
  for (auto p : peers) c.push_back(ConnectionEntry{id(p), addr(p), Role::Regular, n < p, height});
  v.connections = c;
  return v;
}

CrawlVisit failed(std::uint8_t n, std::string cls) {
  CrawlVisit v;
  v.address = addr(n);
  v.failure_class = std::move(cls);
  return v;
}

std::vector<core::chain::Masternode> masternodes(std::vector<std::uint8_t> ns) {
  std::vector<core::chain::Masternode> out;
  for (auto n : ns) out.push_back({"mn" + std::to_string(n), id(n), addr(n)});
  return out;
}

}  // namespace

TEST_CASE("network map: a connected network is one component with confirmed edges", "[unit][p2p]") {
  auto mns = masternodes({1, 2});
  auto m = p2p::build_network_map(
      {reached(1, {2, 3}, 10, 1, Role::Masternode), reached(2, {1, 3}, 10, 1, Role::Masternode), reached(3, {1, 2})},
      &mns);
  CHECK(m.reached() == 3);
  REQUIRE(m.components.size() == 1);
  CHECK(m.components[0].size() == 3);
  REQUIRE(m.edges.size() == 3);
  for (const auto& e : m.edges) CHECK(e.confirmed(m.nodes));
  CHECK(m.missing_masternodes() == 0);
  CHECK(m.nodes.at(id(1)).name == "mn1");
  CHECK(m.healthy());
  CHECK_FALSE(m.split_tips());
  REQUIRE(m.tips.size() == 1);
  CHECK(m.tips[0].members.size() == 3);
}

TEST_CASE("network map: two sides with no edge between them are two components, largest first", "[unit][p2p]") {
  auto mns = masternodes({1, 4});
  auto m = p2p::build_network_map(
      {reached(1, {2, 3}), reached(2, {1, 3}), reached(3, {1, 2}), reached(4, {5}), reached(5, {4})}, &mns);
  REQUIRE(m.components.size() == 2);
  auto side = std::vector<PublicKey>{id(1), id(2), id(3)};
  std::sort(side.begin(), side.end());
  CHECK(m.components[0] == side);  // ids in order within a component
  CHECK(m.components[1].size() == 2);
  CHECK(m.nodes.at(id(4)).component == 1);
  CHECK(m.nodes.at(id(1)).component == 0);
  CHECK_FALSE(m.healthy());
}

TEST_CASE("network map: a masternode nobody reaches is missing with its failure class; one only reported is not seen",
          "[unit][p2p]") {
  auto mns = masternodes({1, 2, 3});
  auto m = p2p::build_network_map({reached(1, {3}), failed(2, "refused"), failed(3, "timeout")}, &mns);
  REQUIRE(m.masternodes.size() == 3);
  CHECK(m.masternodes[0].state == p2p::MasternodeState::seen);
  CHECK(m.masternodes[1].state == p2p::MasternodeState::missing);
  CHECK(m.masternodes[1].failure_class == "refused");
  CHECK(m.masternodes[2].state == p2p::MasternodeState::reported);  // node 1 says it is connected to it
  CHECK(m.masternodes[2].failure_class == "timeout");
  CHECK(m.missing_masternodes() == 2);
  CHECK_FALSE(m.healthy());
  REQUIRE(m.unreachable.size() == 2);
  CHECK(m.unreachable[0].failure_class == "refused");
  CHECK(m.components.size() == 1);  // 1 and 3 joined by 1's claim; 2 is not in the graph
}

TEST_CASE("network map: one node's claims join but never split; a one-sided edge is not confirmed", "[unit][p2p]") {
  // 4 claims to be connected to 1, 1 does not list it: the claim still
  // joins 4 to the graph (it cannot hide a partition), but is unconfirmed.
  auto m = p2p::build_network_map({reached(1, {2}), reached(2, {1}), reached(4, {1})}, nullptr);
  CHECK(m.components.size() == 1);
  int confirmed = 0;
  for (const auto& e : m.edges) confirmed += e.confirmed(m.nodes) ? 1 : 0;
  CHECK(confirmed == 1);
  CHECK(m.masternodes.empty());
  CHECK(m.healthy());  // no genesis given: only the graph is judged
}

TEST_CASE("network map: tips group reached nodes; nodes behind are measured from the best height", "[unit][p2p]") {
  auto m = p2p::build_network_map({reached(1, {2, 3}, 20, 1), reached(2, {1, 3}, 20, 2), reached(3, {1, 2}, 15, 3)},
                                  nullptr);
  REQUIRE(m.tips.size() == 3);
  CHECK(m.best_height == 20);
  CHECK(m.tips[0].height == 20);
  CHECK(m.tips[2].height == 15);
  CHECK(m.split_tips());  // two tips at height 20
  CHECK(m.nodes.at(id(3)).behind == 5);
  CHECK(m.nodes.at(id(1)).behind == 0);
}

TEST_CASE("network map: a node that does not answer GetConnections is reached, with no edges of its own",
          "[unit][p2p]") {
  auto v = reached(1, {});
  v.connections.reset();
  auto m = p2p::build_network_map({v, reached(2, {1})}, nullptr);
  CHECK_FALSE(m.nodes.at(id(1)).reported_connections);
  REQUIRE(m.edges.size() == 1);
  CHECK_FALSE(m.edges[0].confirmed(m.nodes));
  CHECK(m.components.size() == 1);
}
