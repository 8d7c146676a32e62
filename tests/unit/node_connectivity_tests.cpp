// libcore/node/connectivity: the one verdict behind /health "degraded" and
// tnode_partition_events_total, and the transitions that are counted.

#include <catch2/catch.hpp>

#include "libcore/node/connectivity.hpp"

using core::node::connectivity;
using core::node::ConnectivityInputs;
using core::node::masternode_counts;
using core::node::PartitionTracker;
using Transition = PartitionTracker::Transition;
using std::chrono::milliseconds;

namespace {

ConnectivityInputs inputs(std::size_t peers, std::size_t mn_connected, std::size_t other_mn, bool self_mn,
                          bool peers_expected = true) {
  ConnectivityInputs in;
  in.peers = peers;
  in.masternodes_connected = mn_connected;
  in.other_masternodes = other_mn;
  in.self_is_masternode = self_mn;
  in.peers_expected = peers_expected;
  return in;
}

}  // namespace

TEST_CASE("no peers where peers are expected is partitioned; a lone dev node is fine", "[unit][node]") {
  auto v = connectivity(inputs(0, 0, 3, true));
  CHECK(v.partitioned);
  CHECK(v.reason == "no peers");
  // The only masternode of its network, with no static peers: nobody to expect.
  CHECK_FALSE(connectivity(inputs(0, 0, 0, true, false)).partitioned);
}

TEST_CASE("a masternode counts itself: half of the masternodes seen is enough", "[unit][node]") {
  // 4 masternodes, this one among them.
  CHECK_FALSE(connectivity(inputs(2, 2, 3, true)).partitioned);  // 3 of 4
  CHECK_FALSE(connectivity(inputs(1, 1, 3, true)).partitioned);  // 2 of 4: exactly half
  auto v = connectivity(inputs(5, 0, 3, true));                  // 1 of 4
  CHECK(v.partitioned);
  CHECK(v.reason == "sees 1 of 4 masternodes (fewer than half)");
}

TEST_CASE("a regular node counts only the masternodes it is connected to", "[unit][node]") {
  CHECK_FALSE(connectivity(inputs(2, 2, 4, false)).partitioned);  // 2 of 4
  auto v = connectivity(inputs(3, 1, 4, false));
  CHECK(v.partitioned);
  CHECK(v.reason == "sees 1 of 4 masternodes (fewer than half)");
  // One masternode in genesis, connected only to regular peers: partitioned,
  // for /health and the partition counter alike.
  CHECK(connectivity(inputs(3, 0, 1, false)).partitioned);
}

TEST_CASE("a genesis masternode key running as a regular node neither counts itself nor is counted", "[unit][node]") {
  // Genesis lists 4 masternodes; this node holds one of the keys but runs
  // with role = "regular": the network's producing masternodes are the
  // other 3, and it must see at least half of those.
  auto in = inputs(2, 1, 3, false);
  auto v = connectivity(in);
  CHECK(v.partitioned);
  CHECK(v.reason == "sees 1 of 3 masternodes (fewer than half)");
  in.masternodes_connected = 2;
  CHECK_FALSE(connectivity(in).partitioned);
  // Had it run as a masternode, 1 connected + itself = 2 of 4 would be fine.
  CHECK_FALSE(connectivity(inputs(2, 1, 3, true)).partitioned);
}

TEST_CASE("masternode_counts gives the seen and total the rule compares (tnode_masternodes_seen, tnode_masternodes)",
          "[unit][node]") {
  // A masternode of 4 connected to 1 other: sees itself and that one.
  auto c = masternode_counts(inputs(3, 1, 3, true));
  CHECK(c.seen == 2);
  CHECK(c.total == 4);
  // A regular node of a network of 4 masternodes, connected to 1 of them.
  c = masternode_counts(inputs(3, 1, 4, false));
  CHECK(c.seen == 1);
  CHECK(c.total == 4);
  CHECK(connectivity(inputs(3, 1, 4, false)).partitioned);  // 1 * 2 < 4, as an alert on the gauges reads it
  // A dev node alone: nothing to see.
  c = masternode_counts(inputs(0, 0, 0, false, false));
  CHECK(c.seen == 0);
  CHECK(c.total == 0);
}

TEST_CASE("partition transitions: entering counts after it settles, leaving at once, none before first contact",
          "[unit][node]") {
  const auto t0 = PartitionTracker::Clock::time_point{} + std::chrono::hours(1);
  PartitionTracker t(milliseconds(1000));
  // Starting up partitioned is not an event, nor is the first connection.
  CHECK(t.update(true, t0) == Transition::None);
  CHECK(t.update(false, t0 + milliseconds(100)) == Transition::None);
  CHECK_FALSE(t.partitioned());
  // A blip shorter than the settle time is not a partition.
  CHECK(t.update(true, t0 + milliseconds(200)) == Transition::None);
  CHECK(t.update(true, t0 + milliseconds(1100)) == Transition::None);
  CHECK(t.update(false, t0 + milliseconds(1150)) == Transition::None);
  // A real one counts once, after holding 1 s.
  CHECK(t.update(true, t0 + milliseconds(2000)) == Transition::None);
  CHECK(t.update(true, t0 + milliseconds(2999)) == Transition::None);
  CHECK(t.update(true, t0 + milliseconds(3000)) == Transition::Entered);
  CHECK(t.update(true, t0 + milliseconds(9000)) == Transition::None);
  CHECK(t.partitioned());
  // Leaving counts at once.
  CHECK(t.update(false, t0 + milliseconds(9100)) == Transition::Left);
  CHECK(t.update(false, t0 + milliseconds(9200)) == Transition::None);
}
