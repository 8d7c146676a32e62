// libcore/node/api: the /health verdict (DESIGN.md section 8) over the one
// connectivity verdict (node_connectivity_tests.cpp covers the rule), and
// the /health answer built from it.

#include <string>
#include <utility>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "libcore/crypto/types.hpp"
#include "libcore/node/api.hpp"
#include "libcore/p2p/messages.hpp"

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

namespace {

core::node::NodeIdentity test_identity() { return {"testnet-x", "9.8.7", std::string(64, 'a'), "masternode"}; }

core::node::HealthFacts test_facts(core::node::HealthVerdict verdict) {
  core::node::HealthFacts f;
  f.verdict = std::move(verdict);
  f.tip.height = 42;
  f.genesis = std::string(64, 'b');
  f.peers.inbound = 1;
  f.peers.outbound = 2;
  f.peers.masternodes = 3;
  f.sync.syncing = false;
  f.sync.target_height = 42;
  f.uptime_s = 7;
  return f;
}

}  // namespace

TEST_CASE("health answers 200 with the node's identity and its state", "[unit][node]") {
  auto r = core::node::health_response(test_identity(), test_facts({"ok", ""}));
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto j = nlohmann::json::parse(r.body);
  CHECK(j["status"] == "ok");
  CHECK_FALSE(j.contains("reason"));
  CHECK(j["network"] == "testnet-x");
  CHECK(j["protocol_version"] == core::p2p::kProtocolVersion);
  CHECK(j["version"] == "9.8.7");
  CHECK(j["node_id"] == std::string(64, 'a'));
  CHECK(j["role"] == "masternode");
  // The fields it carried before stay.
  CHECK(j["height"] == 42);
  CHECK(j["tip"] == core::crypto::Hash32{}.hex());
  CHECK(j["genesis"] == std::string(64, 'b'));
  CHECK(j["peers"] == nlohmann::json{{"inbound", 1}, {"outbound", 2}, {"masternodes", 3}});
  CHECK(j["syncing"] == false);
  CHECK(j["sync"]["target_height"] == 42);
  CHECK(j["uptime_s"] == 7);
  CHECK(core::node::health_response(test_identity(), test_facts({"syncing", ""})).status == 200);
}

TEST_CASE("health answers 503 with the reason when degraded", "[unit][node]") {
  auto r = core::node::health_response(test_identity(), test_facts({"degraded", "no peers"}));
  CHECK(r.status == 503);
  auto j = nlohmann::json::parse(r.body);
  CHECK(j["status"] == "degraded");
  CHECK(j["reason"] == "no peers");
  CHECK(j["network"] == "testnet-x");
  CHECK(j["role"] == "masternode");
}
