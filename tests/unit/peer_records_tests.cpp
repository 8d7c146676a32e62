// libcore/p2p/peer_records and AddressState::save/restore: what the node
// keeps of its peers in the store, and that it means the same after a
// restart (another process, another steady clock).

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>

#include "libcore/crypto/hash.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/p2p/peer_records.hpp"

using core::p2p::AddressRecord;
using core::p2p::AddressState;
using core::p2p::BanRecord;
using core::p2p::BreakerState;
using core::p2p::Millis;
using core::p2p::PeerClass;
using core::p2p::ReconnectSettings;
using core::p2p::TimePoint;
using std::chrono::seconds;

namespace {

double zero() { return 0.0; }

AddressRecord sample_record() {
  AddressRecord r;
  r.address = "127.0.0.1:24102";
  r.node_id = core::crypto::blake2b256(std::string_view("node"));
  r.source = "genesis";
  r.wrong_network = true;
  r.total_attempts = 12;
  r.total_failures = 9;
  r.last_attempt_ms = 1'700'000'000'000;
  r.last_error = "refused: connect: connection refused";
  r.score = -12.5;
  r.score_as_of_ms = 1'700'000'000'500;
  r.dial.peer_class = PeerClass::Static;
  r.dial.attempts = 4;
  r.dial.consecutive_failures = 9;
  r.dial.backoff_failures = 3;
  r.dial.parked = true;
  r.dial.not_before_ms = 1'700'000'001'000;
  r.dial.last_attempt_ms = 1'700'000'000'000;
  r.dial.breaker = BreakerState::Open;
  r.dial.opened_at_ms = 1'699'999'999'000;
  r.dial.cooldown = Millis(120'000);
  r.recent_attempts_ms = {1, 2, 3};
  return r;
}

}  // namespace

TEST_CASE("address and ban records round-trip byte for byte", "[unit][p2p][records]") {
  const auto r = sample_record();
  const auto bytes = core::p2p::encode(r);
  auto back = core::p2p::decode_address_record(bytes);
  REQUIRE(back.has_value());
  CHECK(*back == r);
  CHECK(core::p2p::encode(*back) == bytes);

  AddressRecord minimal;
  minimal.address = "[::1]:1";
  auto m = core::p2p::decode_address_record(core::p2p::encode(minimal));
  REQUIRE(m.has_value());
  CHECK(*m == minimal);

  BanRecord b{core::crypto::blake2b256(std::string_view("bad")), 10, 20, "invalid block: bad_signature"};
  auto bb = core::p2p::decode_ban_record(core::p2p::encode(b));
  REQUIRE(bb.has_value());
  CHECK(*bb == b);
}

TEST_CASE("damaged records are refused with the field named", "[unit][p2p][records]") {
  const auto bytes = core::p2p::encode(sample_record());
  SECTION("every truncation") {
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      INFO("length " << n);
      CHECK_FALSE(core::p2p::decode_address_record(std::span(bytes.data(), n)).has_value());
    }
  }
  SECTION("trailing bytes") {
    auto longer = bytes;
    longer.push_back(0);
    auto r = core::p2p::decode_address_record(longer);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message, Catch::Contains("address record"));
  }
  SECTION("another format version") {
    auto other = bytes;
    other[0] = 2;
    auto r = core::p2p::decode_address_record(other);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message, Catch::Contains("version 2"));
  }
  SECTION("a score out of range") {
    auto r = sample_record();
    r.score = std::numeric_limits<double>::infinity();
    auto d = core::p2p::decode_address_record(core::p2p::encode(r));
    REQUIRE_FALSE(d.has_value());
    CHECK_THAT(d.error().message, Catch::Contains("score"));
  }
  SECTION("a ban record cut short") {
    BanRecord b{core::crypto::blake2b256(std::string_view("bad")), 10, 20, "why"};
    auto e = core::p2p::encode(b);
    e.pop_back();
    CHECK_FALSE(core::p2p::decode_ban_record(e).has_value());
  }
}

TEST_CASE("record errors read \"<record>: <field>: <reason>\"", "[unit][p2p][records]") {
  const auto bytes = core::p2p::encode(sample_record());
  auto error_of = [](const auto& r) {
    REQUIRE_FALSE(r.has_value());
    return r.error().message;
  };
  CHECK(error_of(core::p2p::decode_address_record(std::span(bytes.data(), 0))) ==
        "address record: version: truncated input: u8 needs 1 bytes at offset 0, only 0 left");
  auto other = bytes;
  other[0] = 2;
  CHECK(error_of(core::p2p::decode_address_record(other)) == "address record: version 2, this build reads 1");
  // version, then the address "127.0.0.1:24102" (4 + 15 bytes), then the node_id flag.
  auto flag = bytes;
  flag[1 + 4 + 15] = 2;
  CHECK(error_of(core::p2p::decode_address_record(flag)) == "address record: node_id flag: bad boolean 2");
  auto longer = bytes;
  longer.push_back(0);
  CHECK(error_of(core::p2p::decode_address_record(longer)) ==
        "address record: 1 unexpected trailing bytes at offset " + std::to_string(bytes.size()));
  auto r = sample_record();
  r.score = std::numeric_limits<double>::quiet_NaN();
  CHECK(error_of(core::p2p::decode_address_record(core::p2p::encode(r))) == "address record: score: out of range");

  BanRecord b{core::crypto::blake2b256(std::string_view("bad")), 10, 20, "why"};
  auto ban = core::p2p::encode(b);
  ban.pop_back();
  CHECK(error_of(core::p2p::decode_ban_record(ban)) ==
        "ban record: reason: truncated input: byte string needs 3 bytes at offset 53, only 2 left");
  ban = core::p2p::encode(b);
  ban[0] = 0;
  CHECK(error_of(core::p2p::decode_ban_record(ban)) == "ban record: version 0, this build reads 1");
}

TEST_CASE("an address state saved by one process means the same in the next", "[unit][p2p][records]") {
  ReconnectSettings s;
  s.base_delay = Millis(1000);
  s.max_delay = Millis(8000);
  s.breaker_failures = 3;
  s.breaker_cooldown = Millis(10'000);
  // Process 1: three failures open the breaker at t1.
  const TimePoint t0{seconds(1000)};
  AddressState a(PeerClass::Static, s);
  for (int i = 0; i < 3; ++i) {
    a.record_attempt(t0 + seconds(i));
    a.record_failure(t0 + seconds(i), zero);
  }
  const TimePoint t1 = t0 + seconds(2);
  REQUIRE(a.breaker(t1) == BreakerState::Open);
  const std::int64_t wall1 = 1'700'000'000'000;
  const auto saved = a.save(t1, wall1);
  CHECK(saved.breaker == BreakerState::Open);
  CHECK(saved.cooldown == Millis(10'000));
  CHECK(saved.opened_at_ms == wall1);

  // Process 2 starts 4 s later (wall clock) with an unrelated steady clock.
  const TimePoint u0{seconds(50)};
  const std::int64_t wall2 = wall1 + 4000;
  auto b = AddressState::restore(saved, s, u0, wall2);
  CHECK(b.attempts() == a.attempts());
  CHECK(b.consecutive_failures() == 3);
  CHECK(b.cooldown() == Millis(10'000));
  CHECK(b.breaker(u0) == BreakerState::Open);
  // The cool-down counts the downtime: half-open 6 s after the restart, not 10 s.
  CHECK(b.next_dial_at(u0) == u0 + Millis(6000));
  CHECK(b.breaker(u0 + Millis(6000)) == BreakerState::HalfOpen);
  // Saving again at once gives the same record (nothing drifts).
  CHECK(b.save(u0, wall2) == saved);

  SECTION("a cool-down that ran out while down is simply over") {
    auto c = AddressState::restore(saved, s, u0, wall1 + 60'000);
    CHECK(c.breaker(u0) == BreakerState::HalfOpen);
    CHECK(c.may_dial(u0));
  }
  SECTION("a failed trial after the restart doubles the remembered cool-down") {
    auto c = AddressState::restore(saved, s, u0, wall2);
    const TimePoint trial = u0 + Millis(6000);
    c.record_attempt(trial);
    c.record_failure(trial, zero);
    CHECK(c.cooldown() == Millis(20'000));
    CHECK(c.breaker(trial) == BreakerState::Open);
  }
}

TEST_CASE("a restored score has decayed over the downtime", "[unit][p2p][records]") {
  const Millis half_life(600'000);
  const TimePoint t0{seconds(10'000)};
  core::p2p::PeerScore score(half_life);
  score.add(-40, t0);
  // What the node stores: the stored value and its wall time.
  const std::int64_t wall0 = 1'700'000'000'000;
  const double stored = score.stored_value();
  const std::int64_t as_of_ms = wall0 - std::chrono::duration_cast<Millis>(t0 - score.as_of()).count();
  // Next process, one half-life of wall time later.
  const TimePoint u0{seconds(5)};
  const std::int64_t wall1 = wall0 + half_life.count();
  core::p2p::PeerScore restored(half_life, stored, u0 - Millis(wall1 - as_of_ms));
  CHECK(restored.value(u0) == Approx(-20.0).margin(1e-9));
}
