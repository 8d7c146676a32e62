// libcore/node/api: the /health verdict (DESIGN.md section 8) over the one
// connectivity verdict (node_connectivity_tests.cpp covers the rule).

#include <catch2/catch.hpp>

#include "libcore/node/api.hpp"

using core::node::ConnectivityVerdict;
using core::node::health_verdict;

TEST_CASE("health is ok, or syncing, when connectivity is fine", "[unit][node]") {
  auto v = health_verdict(ConnectivityVerdict{false, ""}, false);
  CHECK(v.status == "ok");
  CHECK(v.reason.empty());
  CHECK(health_verdict(ConnectivityVerdict{false, ""}, true).status == "syncing");
}

TEST_CASE("health is degraded with the connectivity verdict's reason, over syncing", "[unit][node]") {
  const ConnectivityVerdict partitioned{true, "sees 1 of 4 masternodes (fewer than half)"};
  auto v = health_verdict(partitioned, false);
  CHECK(v.status == "degraded");
  CHECK(v.reason == partitioned.reason);
  CHECK(health_verdict(partitioned, true).status == "degraded");
}
