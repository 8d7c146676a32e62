// libcore/node/peer_scores: misbehaviour costs by node id and by source IP,
// with or without a listen address; fresh keys from one IP get the IP
// refused for a while, then forgiven.

#include <catch2/catch.hpp>

#include "libcore/node/peer_scores.hpp"
#include "test_support.hpp"

using core::node::PeerScores;
using core::node::PeerScoreSettings;
using core::p2p::ScoreEvent;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {
const auto t0 = core::p2p::TimePoint{} + std::chrono::hours(24);
}

TEST_CASE("peer scores: two protocol violations ban the node id", "[unit][node]") {
  PeerScores scores{PeerScoreSettings{}};
  const auto a = test::key(1).public_key();
  auto v = scores.charge(a, "127.0.0.5", ScoreEvent::ProtocolViolation, t0);
  CHECK_FALSE(v.ban_id);
  v = scores.charge(a, "127.0.0.5", ScoreEvent::ProtocolViolation, t0 + seconds(1));
  CHECK(v.ban_id);
  CHECK(scores.score(a, t0 + seconds(1)) == Approx(-50).margin(0.5));  // -49.97: shown as -50
  // Failures are small steps, and not charged to the IP.
  const auto b = test::key(2).public_key();
  for (int i = 0; i < 5; ++i) CHECK_FALSE(scores.charge(b, "127.0.0.6", ScoreEvent::Stalled, t0).ban_id);
  CHECK(scores.ip_score("127.0.0.6", t0) == 0);
}

TEST_CASE("peer scores: fresh keys misbehaving from one IP get the IP refused, for a bounded time", "[unit][node]") {
  PeerScoreSettings s;
  s.ip_ban_duration = minutes(10);
  PeerScores scores{s};
  int refused_at = -1;
  for (int i = 0; i < 10 && refused_at < 0; ++i) {
    const auto fresh = test::key(static_cast<std::uint8_t>(10 + i)).public_key();
    if (scores.charge(fresh, "127.0.0.7", ScoreEvent::ProtocolViolation, t0 + seconds(i)).refuse_ip) refused_at = i;
  }
  CHECK(refused_at == 3);  // -25 each: the fourth reaches -100
  REQUIRE(scores.ip_refused_until("127.0.0.7", t0 + seconds(4)).has_value());
  CHECK_FALSE(scores.ip_refused_until("127.0.0.8", t0 + seconds(4)).has_value());
  CHECK(scores.refused_ips(t0 + seconds(4)) == 1);
  // A NAT of honest nodes recovers: after the refusal the IP starts from zero.
  CHECK_FALSE(scores.ip_refused_until("127.0.0.7", t0 + seconds(3) + minutes(10)).has_value());
  CHECK(scores.ip_score("127.0.0.7", t0 + minutes(11)) == 0);
}

TEST_CASE("peer scores: rewards, decay, forgiveness and the bound", "[unit][node]") {
  PeerScoreSettings s;
  s.max_entries = 8;
  PeerScores scores{s};
  const auto a = test::key(1).public_key();
  scores.reward(a, 5, t0);
  CHECK(scores.score(a, t0) == Approx(5));
  CHECK(scores.score(a, t0 + minutes(10)) == Approx(2.5));
  scores.charge(a, "", ScoreEvent::InvalidBlock, t0);
  CHECK(scores.score(a, t0) == -100);
  scores.forgive(a);
  CHECK(scores.score(a, t0) == 0);
  // Many peers: memory stays bounded, the strongest scores are kept.
  const auto bad = test::key(2).public_key();
  scores.charge(bad, "", ScoreEvent::ProtocolViolation, t0);
  for (int i = 0; i < 50; ++i) scores.reward(test::key(static_cast<std::uint8_t>(100 + i)).public_key(), 0.1, t0);
  CHECK(scores.score(bad, t0) == Approx(-25));
}
