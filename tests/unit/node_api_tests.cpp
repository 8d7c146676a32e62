// libcore/node/api: the /health verdict (DESIGN.md section 8).

#include <catch2/catch.hpp>

#include "libcore/node/api.hpp"

using core::node::health_verdict;

TEST_CASE("health is ok with peers and most masternodes in sight", "[unit][node]") {
  // 4 masternodes (this one included), sees 3 of them.
  auto v = health_verdict(2, true, 3, 4, false);
  CHECK(v.status == "ok");
  CHECK(v.reason.empty());
  CHECK(health_verdict(2, true, 3, 4, true).status == "syncing");
}

TEST_CASE("health is degraded with no peers when peers are expected", "[unit][node]") {
  auto v = health_verdict(0, true, 0, 0, false);
  CHECK(v.status == "degraded");
  CHECK(v.reason == "no peers");
  // A lone node of a one-masternode network expects nobody: it is fine.
  CHECK(health_verdict(0, false, 1, 1, false).status == "ok");
}

TEST_CASE("health is degraded when fewer than half of the masternodes are seen", "[unit][node]") {
  // Exactly half is not "fewer than half".
  CHECK(health_verdict(1, true, 2, 4, false).status == "ok");
  auto v = health_verdict(3, true, 1, 4, false);
  CHECK(v.status == "degraded");
  CHECK(v.reason == "sees 1 of 4 masternodes (fewer than half)");
  // Degraded wins over syncing.
  CHECK(health_verdict(3, true, 1, 4, true).status == "degraded");
}
