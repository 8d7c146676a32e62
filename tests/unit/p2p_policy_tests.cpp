// libcore/p2p policy: the duplicate-connection rule, backoff, parking, circuit
// breaker, peer score and dial order. Pure functions of ids, time and an
// injected random source: exact values, no sockets, no sleeps.

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "libcore/config/node_config.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/p2p/duplicates.hpp"
#include "libcore/p2p/settings_from_config.hpp"

using core::p2p::AddressState;
using core::p2p::BreakerState;
using core::p2p::ConnectionFacts;
using core::p2p::DialCandidate;
using core::p2p::DuplicateVerdict;
using core::p2p::Millis;
using core::p2p::NodeId;
using core::p2p::PeerClass;
using core::p2p::PeerScore;
using core::p2p::ReconnectSettings;
using core::p2p::ScoreEvent;
using core::p2p::SessionNonce;
using core::p2p::TimePoint;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

// A fixed-seed generator: the "random" pairs are the same on every run and
// every machine, so the fairness bounds below cannot flake.
template <typename Bytes>
Bytes random_bytes(std::mt19937_64& rng) {
  Bytes out;
  for (auto& b : out.bytes) b = static_cast<std::uint8_t>(rng() & 0xff);
  return out;
}

NodeId id_of(std::uint8_t fill) {
  NodeId id;
  id.bytes.fill(fill);
  return id;
}

SessionNonce session_of(std::uint8_t fill) {
  SessionNonce s;
  s.bytes.fill(fill);
  return s;
}

// Which connection a node keeps after applying a verdict, assuming the probe
// (if any) is answered: the existing one or the incoming one.
enum class Kept { Existing, Incoming };
Kept kept_after(DuplicateVerdict v, bool probe_answered = true) {
  if (v == DuplicateVerdict::ProbeExistingFirst) v = core::p2p::settle_probe(probe_answered);
  return v == DuplicateVerdict::KeepExisting ? Kept::Existing : Kept::Incoming;
}

const TimePoint t0 = TimePoint{} + hours(1000);
const core::p2p::Uniform01 kZero = [] { return 0.0; };
const double kAlmostOne = std::nextafter(1.0, 0.0);
const core::p2p::Uniform01 kTop = [] { return kAlmostOne; };

// How long from `now` until the address may be dialled (it must not be in flight).
Millis wait_at(const AddressState& s, TimePoint now) {
  const auto at = s.next_dial_at(now);
  REQUIRE(at.has_value());
  return std::chrono::duration_cast<Millis>(*at - now);
}

// One failed dial at `now`; returns the time the next dial is allowed.
TimePoint fail_once(AddressState& s, TimePoint now, const core::p2p::Uniform01& u) {
  REQUIRE(s.may_dial(now));
  s.record_attempt(now);
  s.record_failure(now, u);
  return *s.next_dial_at(now);
}

ReconnectSettings without_breaker() {
  ReconnectSettings s;
  s.breaker_failures = 1000;
  return s;
}

}  // namespace

// ------------------------------------------------------------ duplicates

TEST_CASE("tie_break_key hashes min || max || initiator and is symmetric in the pair", "[unit][p2p]") {
  const NodeId a = id_of(0x11), b = id_of(0x22);
  std::vector<std::uint8_t> concat;
  for (const NodeId* part : {&a, &b, &b}) concat.insert(concat.end(), part->bytes.begin(), part->bytes.end());
  CHECK(core::p2p::tie_break_key(a, b, b) == core::crypto::blake2b256(concat));
  CHECK(core::p2p::tie_break_key(b, a, b) == core::crypto::blake2b256(concat));
  CHECK(core::p2p::tie_break_key(a, b, a) != core::p2p::tie_break_key(a, b, b));

  const NodeId p = core::p2p::preferred_initiator(a, b);
  CHECK((p == a || p == b));
  CHECK(core::p2p::preferred_initiator(b, a) == p);
  const NodeId other = p == a ? b : a;
  CHECK(core::p2p::tie_break_key(a, b, p) < core::p2p::tie_break_key(a, b, other));
  CHECK(core::p2p::preferred_initiator(a, a) == a);
}

TEST_CASE("resolve_duplicate over every combination of initiators, sessions and sides", "[unit][p2p]") {
  const NodeId a = id_of(0x01), b = id_of(0xfe);
  const NodeId P = core::p2p::preferred_initiator(a, b);
  const NodeId Q = P == a ? b : a;
  const SessionNonce s1 = session_of(1), s2 = session_of(2);

  for (const NodeId& ours : {a, b}) {
    const NodeId theirs = ours == a ? b : a;
    for (const NodeId& ex_init : {P, Q}) {
      for (const NodeId& in_init : {P, Q}) {
        INFO("ours=" << ours.short_hex() << " existing initiator preferred=" << (ex_init == P)
                     << " incoming initiator preferred=" << (in_init == P));
        // A new session: the peer restarted, the old connection is stale.
        CHECK(core::p2p::resolve_duplicate(ours, theirs, ConnectionFacts{ex_init, s1}, ConnectionFacts{in_init, s2}) ==
              DuplicateVerdict::ReplaceWithNew);
        // Same session: the tie-break decides, and ties are probed.
        const auto same =
            core::p2p::resolve_duplicate(ours, theirs, ConnectionFacts{ex_init, s1}, ConnectionFacts{in_init, s1});
        if (in_init == P && ex_init == Q)
          CHECK(same == DuplicateVerdict::ReplaceWithNew);
        else
          CHECK(same == DuplicateVerdict::ProbeExistingFirst);  // loses the tie-break, or same side dialled twice
      }
    }
  }
  CHECK(core::p2p::settle_probe(true) == DuplicateVerdict::KeepExisting);
  CHECK(core::p2p::settle_probe(false) == DuplicateVerdict::ReplaceWithNew);
  CHECK(core::p2p::kDuplicateProbeTimeout == seconds(2));
  CHECK(std::string(to_string(DuplicateVerdict::KeepExisting)) == "keep_existing");
  CHECK(std::string(to_string(DuplicateVerdict::ReplaceWithNew)) == "replace_with_new");
  CHECK(std::string(to_string(DuplicateVerdict::ProbeExistingFirst)) == "probe_existing_first");
}

TEST_CASE("simultaneous dial: both sides keep the same connection, in any arrival order", "[unit][p2p]") {
  std::mt19937_64 rng(20240611);
  const SessionNonce sa = session_of(0xa0), sb = session_of(0xb0);
  for (int i = 0; i < 1000; ++i) {
    const NodeId a = random_bytes<NodeId>(rng), b = random_bytes<NodeId>(rng);
    // Connection 0 was dialled by a, connection 1 by b. On a's side the
    // remote session is b's and vice versa.
    const ConnectionFacts on_a[2] = {{a, sb}, {b, sb}};
    const ConnectionFacts on_b[2] = {{a, sa}, {b, sa}};
    const int preferred = core::p2p::preferred_initiator(a, b) == a ? 0 : 1;
    for (int first_on_a = 0; first_on_a < 2; ++first_on_a) {
      for (int first_on_b = 0; first_on_b < 2; ++first_on_b) {
        const int second_on_a = 1 - first_on_a, second_on_b = 1 - first_on_b;
        const Kept ka = kept_after(core::p2p::resolve_duplicate(a, b, on_a[first_on_a], on_a[second_on_a]));
        const Kept kb = kept_after(core::p2p::resolve_duplicate(b, a, on_b[first_on_b], on_b[second_on_b]));
        const int kept_by_a = ka == Kept::Existing ? first_on_a : second_on_a;
        const int kept_by_b = kb == Kept::Existing ? first_on_b : second_on_b;
        INFO("pair " << i << " first on a: " << first_on_a << " first on b: " << first_on_b);
        REQUIRE(kept_by_a == kept_by_b);  // the same connection, so the pair is never left with none
        REQUIRE(kept_by_a == preferred);
      }
    }
    // A restarted peer's new connection replaces the stale one whoever dialled.
    for (const auto& ex : on_a)
      for (const NodeId& init : {a, b})
        REQUIRE(core::p2p::resolve_duplicate(a, b, ex, ConnectionFacts{init, session_of(0xb1)}) ==
                DuplicateVerdict::ReplaceWithNew);
  }
}

TEST_CASE("no node id always wins the tie-break", "[unit][p2p]") {
  std::mt19937_64 rng(7);
  // Over random pairs the smaller id is preferred about half the time
  // (binomial n=2000, p=1/2: the bounds are 4.5 standard deviations wide).
  int smaller_wins = 0;
  for (int i = 0; i < 2000; ++i) {
    const NodeId a = random_bytes<NodeId>(rng), b = random_bytes<NodeId>(rng);
    if (core::p2p::preferred_initiator(a, b) == std::min(a, b)) ++smaller_wins;
  }
  CHECK(smaller_wins > 900);
  CHECK(smaller_wins < 1100);

  // And one fixed node, even the smallest possible id, wins against some
  // partners and loses against others.
  for (const NodeId& fixed : {id_of(0x00), id_of(0xff), random_bytes<NodeId>(rng)}) {
    int wins = 0;
    for (int i = 0; i < 1000; ++i)
      if (core::p2p::preferred_initiator(fixed, random_bytes<NodeId>(rng)) == fixed) ++wins;
    INFO("fixed id " << fixed.short_hex());
    CHECK(wins > 400);
    CHECK(wins < 600);
  }
}

TEST_CASE("should_skip_dial skips an address whose last-seen node id is connected", "[unit][p2p]") {
  const NodeId a = id_of(1), b = id_of(2);
  const std::set<NodeId> connected{a};
  CHECK(core::p2p::should_skip_dial(a, connected));
  CHECK_FALSE(core::p2p::should_skip_dial(b, connected));
  CHECK_FALSE(core::p2p::should_skip_dial(std::nullopt, connected));
  CHECK_FALSE(core::p2p::should_skip_dial(a, std::set<NodeId>{}));

  int calls = 0;
  auto is_connected = [&](const NodeId& id) {
    ++calls;
    return id == b;
  };
  CHECK(core::p2p::should_skip_dial(b, is_connected));
  CHECK_FALSE(core::p2p::should_skip_dial(a, is_connected));
  CHECK_FALSE(core::p2p::should_skip_dial(std::nullopt, is_connected));
  CHECK(calls == 2);  // never asked without an id
}

// ------------------------------------------------------------ backoff

TEST_CASE("backoff ceiling: 5 s doubling to the 10 min cap, overflow-free", "[unit][p2p]") {
  const ReconnectSettings s;
  const std::vector<Millis> expected = {seconds(5),   seconds(10),  seconds(20),  seconds(40),  seconds(80),
                                        seconds(160), seconds(320), seconds(600), seconds(600), seconds(600)};
  for (std::uint32_t n = 0; n < expected.size(); ++n) {
    INFO("attempt " << n);
    CHECK(core::p2p::backoff_ceiling(n, s.base_delay, s.max_delay) == expected[n]);
  }
  for (std::uint32_t n : {62u, 63u, 64u, 1000u, std::numeric_limits<std::uint32_t>::max()})
    CHECK(core::p2p::backoff_ceiling(n, s.base_delay, s.max_delay) == minutes(10));

  const Millis huge = Millis::max();
  CHECK(core::p2p::backoff_ceiling(62, milliseconds(1), huge) == milliseconds(std::int64_t{1} << 62));
  CHECK(core::p2p::backoff_ceiling(63, milliseconds(1), huge) == huge);
  CHECK(core::p2p::backoff_ceiling(40, milliseconds(3), huge) == milliseconds(std::int64_t{3} << 40));
  CHECK(core::p2p::backoff_ceiling(61, milliseconds(3), huge) == milliseconds(std::int64_t{3} << 61));
  CHECK(core::p2p::backoff_ceiling(62, milliseconds(3), huge) == huge);  // 3 * 2^62 > 2^63 - 1
  CHECK(core::p2p::backoff_ceiling(5, Millis{0}, huge) == Millis{0});
  CHECK(core::p2p::backoff_ceiling(0, seconds(20), seconds(10)) == seconds(10));
}

TEST_CASE("backoff delay: full jitter within [0, ceiling]", "[unit][p2p]") {
  const ReconnectSettings s;
  for (std::uint32_t n = 0; n < 12; ++n) {
    const Millis ceiling = core::p2p::backoff_ceiling(n, s.base_delay, s.max_delay);
    INFO("attempt " << n);
    CHECK(core::p2p::backoff_delay(n, s.base_delay, s.max_delay, kZero) == Millis{0});
    CHECK(core::p2p::backoff_delay(n, s.base_delay, s.max_delay, kTop) == ceiling);
  }
  // floor(u * (ceiling + 1 ms)).
  CHECK(core::p2p::backoff_delay(0, s.base_delay, s.max_delay, [] { return 0.5; }) == milliseconds(2500));
  CHECK(core::p2p::backoff_delay(3, s.base_delay, s.max_delay, [] { return 0.25; }) == milliseconds(10000));
  // A source outside [0, 1) is clamped, never a negative or longer wait.
  CHECK(core::p2p::backoff_delay(0, s.base_delay, s.max_delay, [] { return -3.0; }) == Millis{0});
  CHECK(core::p2p::backoff_delay(0, s.base_delay, s.max_delay, [] { return 1.0; }) == seconds(5));
  CHECK(core::p2p::backoff_delay(0, s.base_delay, s.max_delay, [] { return 7.0; }) == seconds(5));
  CHECK(core::p2p::backoff_delay(0, s.base_delay, s.max_delay, [] { return std::nan(""); }) == Millis{0});
}

// ------------------------------------------------------------ address state

TEST_CASE("a fresh address may be dialled at once, one dial at a time", "[unit][p2p]") {
  AddressState s(PeerClass::Static, ReconnectSettings{});
  CHECK(s.may_dial(t0));
  CHECK(s.next_dial_at(t0) == t0);
  s.record_attempt(t0);
  CHECK(s.dialing());
  CHECK(s.attempts() == 1);
  CHECK_FALSE(s.next_dial_at(t0).has_value());
  CHECK_FALSE(s.may_dial(t0 + hours(5)));
  s.record_success(t0 + seconds(1));
  CHECK_FALSE(s.dialing());
  CHECK(s.attempts() == 0);
  CHECK(s.may_dial(t0 + seconds(1)));
}

TEST_CASE("failed dials wait out the backoff schedule; success resets it", "[unit][p2p]") {
  AddressState s(PeerClass::Masternode, without_breaker());
  TimePoint now = t0;
  const std::vector<Millis> expected = {seconds(5),   seconds(10),  seconds(20),  seconds(40), seconds(80),
                                        seconds(160), seconds(320), seconds(600), seconds(600)};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("failure " << i + 1);
    const TimePoint next = fail_once(s, now, kTop);
    CHECK(next - now == expected[i]);
    CHECK_FALSE(s.may_dial(next - milliseconds(1)));  // never re-dialled while waiting out its backoff
    CHECK(s.may_dial(next));
    now = next;
  }
  CHECK(s.consecutive_failures() == 9);

  s.record_attempt(now);
  s.record_success(now);
  CHECK(s.consecutive_failures() == 0);
  CHECK(s.may_dial(now));
  CHECK(fail_once(s, now, kTop) - now == seconds(5));

  // Zero jitter retries at once, but the exponent still grows.
  AddressState z(PeerClass::Masternode, without_breaker());
  CHECK(fail_once(z, t0, kZero) == t0);
  CHECK(fail_once(z, t0, kTop) - t0 == seconds(10));
}

TEST_CASE("attempts stop at the class limit, then the address is parked", "[unit][p2p]") {
  const ReconnectSettings settings = without_breaker();
  CHECK(core::p2p::attempt_limit(PeerClass::Static, settings) == 10u);
  CHECK(core::p2p::attempt_limit(PeerClass::Discovered, settings) == 3u);
  CHECK_FALSE(core::p2p::attempt_limit(PeerClass::Masternode, settings).has_value());

  for (const auto& [cls, limit] : {std::pair{PeerClass::Discovered, 3u}, std::pair{PeerClass::Static, 10u}}) {
    INFO(to_string(cls));
    AddressState s(cls, settings);
    TimePoint now = t0;
    for (std::uint32_t i = 1; i < limit; ++i) {
      now = fail_once(s, now, kTop);
      CHECK_FALSE(s.parked());
    }
    s.record_attempt(now);
    s.record_failure(now, kTop);
    CHECK(s.parked());
    CHECK(s.attempts() == limit);
    // Next try only after parked_retry, counted from the last attempt.
    CHECK(wait_at(s, now) == hours(1));
    CHECK_FALSE(s.may_dial(now + hours(1) - milliseconds(1)));
    CHECK(s.may_dial(now + hours(1)));
  }
}

TEST_CASE("a parked address is retried once per parked_retry and recovers by itself", "[unit][p2p]") {
  AddressState s(PeerClass::Discovered, without_breaker());
  TimePoint now = t0;
  for (int i = 0; i < 3; ++i) now = fail_once(s, now, kZero);
  REQUIRE(s.parked());
  const TimePoint last = *s.last_attempt();
  CHECK(now == last + hours(1));

  // The hourly retry fails: still parked, next try an hour after it.
  REQUIRE(s.may_dial(now));
  s.record_attempt(now);
  s.record_failure(now, kTop);
  CHECK(s.parked());
  CHECK(s.attempts() == 4);
  CHECK(wait_at(s, now) == hours(1));

  // The next one succeeds: unparked, counters reset.
  now += hours(1);
  REQUIRE(s.may_dial(now));
  s.record_attempt(now);
  s.record_success(now);
  CHECK_FALSE(s.parked());
  CHECK(s.attempts() == 0);
  CHECK(s.may_dial(now));
}

TEST_CASE("fresh evidence makes a parked address eligible at once and resets its attempts", "[unit][p2p]") {
  AddressState s(PeerClass::Discovered, without_breaker());
  TimePoint now = t0;
  for (int i = 0; i < 3; ++i) now = fail_once(s, now, kTop);
  REQUIRE(s.parked());
  const TimePoint evidence = *s.last_attempt() + minutes(3);
  CHECK_FALSE(s.may_dial(evidence));

  s.record_fresh_evidence(evidence);  // it connected to us, or a peer reported it alive
  CHECK_FALSE(s.parked());
  CHECK(s.attempts() == 0);
  CHECK(s.may_dial(evidence));
  // The backoff starts over, and it takes the full class limit to park again.
  CHECK(fail_once(s, evidence, kTop) - evidence == seconds(5));
  CHECK_FALSE(s.parked());
}

TEST_CASE("masternodes never park", "[unit][p2p]") {
  // Without the breaker the wait settles at max_delay; with it, at the
  // breaker's 1 h cap. Never parked, however many attempts.
  for (const auto& [settings, last_wait] :
       {std::pair{without_breaker(), Millis{minutes(10)}}, std::pair{ReconnectSettings{}, Millis{hours(1)}}}) {
    AddressState s(PeerClass::Masternode, settings);
    TimePoint now = t0;
    Millis wait{0};
    for (int i = 0; i < 100; ++i) {
      const TimePoint next = fail_once(s, now, kTop);
      REQUIRE_FALSE(s.parked());
      wait = std::chrono::duration_cast<Millis>(next - now);
      now = next;
    }
    CHECK(s.attempts() == 100);
    CHECK(wait == last_wait);
  }
}

TEST_CASE("a capacity refusal is busy: a short jittered retry, no failure, no park, no breaker step", "[unit][p2p]") {
  ReconnectSettings rs;
  rs.max_attempts_discovered = 2;
  AddressState s(PeerClass::Discovered, rs);
  TimePoint now = t0;
  // Far more busy answers than the breaker or the attempt limit allow failures.
  for (int i = 0; i < 20; ++i) {
    REQUIRE(s.may_dial(now));
    s.record_attempt(now);
    s.record_busy(now, kZero);
    CHECK(wait_at(s, now) == core::p2p::kBusyRetry / 2);  // jitter's lower end
    now += core::p2p::kBusyRetry / 2;
  }
  CHECK(s.consecutive_failures() == 0);
  CHECK(s.attempts() == 0);
  CHECK_FALSE(s.parked());
  CHECK(s.breaker(now) == BreakerState::Closed);
  // Jitter's upper end: 1.5 x kBusyRetry (no backoff growth).
  s.record_attempt(now);
  s.record_busy(now, kTop);
  CHECK(wait_at(s, now) > core::p2p::kBusyRetry * 3 / 2 - milliseconds(2));
  CHECK(wait_at(s, now) <= core::p2p::kBusyRetry * 3 / 2);
  // Failures before a busy answer keep counting towards the breaker; a
  // busy answer to the half-open trial closes it (the address answered).
  AddressState m(PeerClass::Masternode, ReconnectSettings{});
  TimePoint at = t0;
  for (int i = 0; i < 4; ++i) at = fail_once(m, at, kZero);
  m.record_attempt(at);
  m.record_failure(at, kZero);
  REQUIRE(m.breaker(at) == BreakerState::Open);
  at += m.cooldown();
  REQUIRE(m.breaker(at) == BreakerState::HalfOpen);
  m.record_attempt(at);
  m.record_busy(at, kZero);
  CHECK(m.breaker(at) == BreakerState::Closed);
  CHECK(wait_at(m, at) == core::p2p::kBusyRetry / 2);
}

TEST_CASE("circuit breaker: closed -> open -> half_open -> closed", "[unit][p2p]") {
  AddressState s(PeerClass::Masternode, ReconnectSettings{});
  TimePoint now = t0;
  for (int i = 0; i < 4; ++i) {
    now = fail_once(s, now, kZero);
    CHECK(s.breaker(now) == BreakerState::Closed);
  }
  s.record_attempt(now);
  s.record_failure(now, kZero);  // 5th consecutive failure
  CHECK(s.breaker(now) == BreakerState::Open);
  CHECK(s.cooldown() == minutes(1));
  CHECK(wait_at(s, now) == minutes(1));
  CHECK_FALSE(s.may_dial(now + minutes(1) - milliseconds(1)));
  CHECK(s.breaker(now + minutes(1) - milliseconds(1)) == BreakerState::Open);

  const TimePoint trial = now + minutes(1);
  CHECK(s.breaker(trial) == BreakerState::HalfOpen);
  CHECK(s.may_dial(trial));
  s.record_attempt(trial);
  // Exactly one trial dial: nothing else while it is in flight.
  CHECK_FALSE(s.may_dial(trial));
  CHECK_FALSE(s.may_dial(trial + hours(2)));
  CHECK(s.breaker(trial + hours(2)) == BreakerState::HalfOpen);

  s.record_success(trial + seconds(1));
  CHECK(s.breaker(trial + seconds(1)) == BreakerState::Closed);
  CHECK(s.cooldown() == minutes(1));
  CHECK(s.consecutive_failures() == 0);
  // It takes breaker_failures failures again to re-open it.
  now = trial + seconds(1);
  for (int i = 0; i < 4; ++i) now = fail_once(s, now, kZero);
  CHECK(s.breaker(now) == BreakerState::Closed);
  s.record_attempt(now);
  s.record_failure(now, kZero);
  CHECK(s.breaker(now) == BreakerState::Open);
  CHECK(s.cooldown() == minutes(1));  // the cool-down was reset by the success
}

TEST_CASE("circuit breaker: a failed trial re-opens it with the cool-down doubled, capped at 1 h", "[unit][p2p]") {
  AddressState s(PeerClass::Masternode, ReconnectSettings{});
  TimePoint now = t0;
  for (int i = 0; i < 5; ++i) {
    s.record_attempt(now);
    s.record_failure(now, kZero);
  }
  REQUIRE(s.breaker(now) == BreakerState::Open);
  const std::vector<Millis> cooldowns = {minutes(1),  minutes(2),  minutes(4), minutes(8),
                                         minutes(16), minutes(32), hours(1),   hours(1)};
  for (std::size_t i = 0; i + 1 < cooldowns.size(); ++i) {
    INFO("re-open " << i + 1);
    CHECK(s.cooldown() == cooldowns[i]);
    now += cooldowns[i];
    CHECK(s.breaker(now) == BreakerState::HalfOpen);
    s.record_attempt(now);
    s.record_failure(now + seconds(3), kZero);  // the trial timed out
    now += seconds(3);
    CHECK(s.breaker(now) == BreakerState::Open);
    CHECK(s.cooldown() == cooldowns[i + 1]);
    CHECK(wait_at(s, now) == cooldowns[i + 1]);
  }
  CHECK(s.snapshot(now).breaker == BreakerState::Open);
}

TEST_CASE("fresh evidence does not bypass an open breaker", "[unit][p2p]") {
  AddressState s(PeerClass::Static, ReconnectSettings{});
  TimePoint now = t0;
  for (int i = 0; i < 5; ++i) {
    s.record_attempt(now);
    s.record_failure(now, kZero);
  }
  REQUIRE(s.breaker(now) == BreakerState::Open);
  s.record_fresh_evidence(now + seconds(10));
  CHECK(s.attempts() == 0);
  CHECK_FALSE(s.may_dial(now + seconds(10)));
  CHECK(s.may_dial(now + minutes(1)));
}

TEST_CASE("reset_backoff lets a masternode be dialled at once", "[unit][p2p]") {
  AddressState s(PeerClass::Masternode, without_breaker());
  TimePoint now = t0;
  for (int i = 0; i < 3; ++i) now = fail_once(s, now, kTop);
  s.record_attempt(now);
  s.record_failure(now, kTop);
  REQUIRE(wait_at(s, now) == seconds(40));
  now += seconds(1);
  s.reset_backoff(now);
  CHECK(s.may_dial(now));
  CHECK(s.consecutive_failures() == 4);                // counters untouched
  CHECK(fail_once(s, now, kTop) - now == seconds(5));  // the exponent restarted

  // An open breaker goes half-open: one trial at once.
  AddressState b(PeerClass::Masternode, ReconnectSettings{});
  for (int i = 0; i < 5; ++i) {
    b.record_attempt(t0);
    b.record_failure(t0, kZero);
  }
  REQUIRE(b.breaker(t0 + seconds(2)) == BreakerState::Open);
  b.reset_backoff(t0 + seconds(2));
  CHECK(b.breaker(t0 + seconds(2)) == BreakerState::HalfOpen);
  CHECK(b.may_dial(t0 + seconds(2)));
  b.record_attempt(t0 + seconds(2));
  CHECK_FALSE(b.may_dial(t0 + seconds(2)));
  b.record_success(t0 + seconds(3));
  CHECK(b.breaker(t0 + seconds(3)) == BreakerState::Closed);
}

TEST_CASE("reclassify unparks an address that turns out to be a masternode", "[unit][p2p]") {
  AddressState s(PeerClass::Discovered, without_breaker());
  TimePoint now = t0;
  for (int i = 0; i < 3; ++i) now = fail_once(s, now, kZero);
  REQUIRE(s.parked());
  s.reclassify(PeerClass::Static);  // 3 of 10 attempts used
  CHECK_FALSE(s.parked());
  CHECK(s.peer_class() == PeerClass::Static);
  s.reclassify(PeerClass::Discovered);
  CHECK_FALSE(s.parked());  // parking happens on the next failure
  now = fail_once(s, now, kZero);
  CHECK(s.parked());
  s.reclassify(PeerClass::Masternode);
  CHECK_FALSE(s.parked());
  CHECK(s.may_dial(now));
}

TEST_CASE("address snapshot and names for /addrbook", "[unit][p2p]") {
  AddressState s(PeerClass::Discovered, ReconnectSettings{});
  s.record_attempt(t0);
  s.record_failure(t0, kTop);
  const auto snap = s.snapshot(t0);
  CHECK(snap.peer_class == PeerClass::Discovered);
  CHECK(snap.attempts == 1);
  CHECK(snap.consecutive_failures == 1);
  CHECK(snap.breaker == BreakerState::Closed);
  CHECK_FALSE(snap.parked);
  CHECK_FALSE(snap.dialing);
  CHECK(snap.next_dial_at == t0 + seconds(5));
  CHECK(snap.cooldown == minutes(1));
  CHECK(snap.last_attempt == t0);

  CHECK(std::string(to_string(BreakerState::Closed)) == "closed");
  CHECK(std::string(to_string(BreakerState::Open)) == "open");
  CHECK(std::string(to_string(BreakerState::HalfOpen)) == "half_open");
  CHECK(std::string(to_string(PeerClass::Masternode)) == "masternode");
  CHECK(std::string(to_string(PeerClass::Static)) == "static");
  CHECK(std::string(to_string(PeerClass::Discovered)) == "discovered");
}

// ------------------------------------------------------------ peer score

TEST_CASE("score decays towards zero with an exact half-life", "[unit][p2p]") {
  const PeerScore s(minutes(10), 80, t0);
  CHECK(s.value(t0) == 80.0);
  CHECK(s.value(t0 + minutes(10)) == 40.0);
  CHECK(s.value(t0 + minutes(20)) == 20.0);
  CHECK(s.value(t0 + minutes(30)) == 10.0);
  CHECK(s.value(t0 + minutes(5)) == Approx(80.0 / std::sqrt(2.0)).epsilon(1e-12));
  CHECK(s.value(t0 - minutes(5)) == 80.0);  // no decay backwards
  CHECK(PeerScore(minutes(10), -60, t0).value(t0 + minutes(10)) == -30.0);
  CHECK(s.value(t0 + hours(1000)) == 0.0);

  // Decay is lazy: applying at an intermediate time composes exactly.
  PeerScore p(minutes(10), 80, t0);
  p.apply(ScoreEvent::HandshakeCompleted, t0 + minutes(10));
  CHECK(p.value(t0 + minutes(10)) == 45.0);
  CHECK(p.value(t0 + minutes(20)) == 22.5);

  // Restoring a persisted score: the downtime decays too.
  CHECK(PeerScore(minutes(10), 60, t0 - minutes(10)).value(t0) == 30.0);
  CHECK(PeerScore().half_life() == minutes(10));
  CHECK(PeerScore().value(t0) == 0.0);
}

TEST_CASE("score steps are clamped to [-100, 100]", "[unit][p2p]") {
  PeerScore s(minutes(10), 0, t0);
  s.apply(ScoreEvent::HandshakeCompleted, t0);
  CHECK(s.value(t0) == core::p2p::kHandshakeCompletedStep);
  s.apply(ScoreEvent::UptimeMinute, t0);
  CHECK(s.value(t0) == 6.0);
  for (const ScoreEvent e :
       {ScoreEvent::DialFailure, ScoreEvent::Timeout, ScoreEvent::Reset, ScoreEvent::Refused, ScoreEvent::Stalled}) {
    INFO(to_string(e));
    CHECK(core::p2p::score_step(e) < 0);
    CHECK(core::p2p::score_step(e) > -5);  // failures are small steps
  }
  s.apply(ScoreEvent::Timeout, t0);
  CHECK(s.value(t0) == 6.0 + core::p2p::kTimeoutStep);

  for (int i = 0; i < 50; ++i) s.apply(ScoreEvent::HandshakeCompleted, t0);
  CHECK(s.value(t0) == 100.0);
  for (int i = 0; i < 20; ++i) s.apply(ScoreEvent::ProtocolViolation, t0);
  CHECK(s.value(t0) == -100.0);
  CHECK(PeerScore(minutes(10), 500, t0).value(t0) == 100.0);
  CHECK(PeerScore(minutes(10), -500, t0).value(t0) == -100.0);
}

TEST_CASE("ban: at or below the threshold; an invalid block bans at once", "[unit][p2p]") {
  const std::int32_t threshold = core::p2p::PeerQualitySettings{}.ban_threshold;
  PeerScore s(minutes(10), 0, t0);
  s.apply(ScoreEvent::ProtocolViolation, t0);
  CHECK(s.value(t0) == -25.0);
  CHECK_FALSE(s.should_ban(t0, threshold));
  s.apply(ScoreEvent::ProtocolViolation, t0);
  CHECK(s.value(t0) == -50.0);
  CHECK(s.should_ban(t0, threshold));
  CHECK_FALSE(s.should_ban(t0 + minutes(10), threshold));  // decayed to -25

  PeerScore best(minutes(10), 100, t0);
  best.apply(ScoreEvent::InvalidBlock, t0);
  CHECK(best.value(t0) == -100.0);
  for (std::int32_t t : {-1, -50, -100}) CHECK(best.should_ban(t0, t));  // every valid ban_threshold
}

// ------------------------------------------------------------ dial order

TEST_CASE("dial order: masternodes, static, discovered; best score first", "[unit][p2p]") {
  auto c = [](std::string host, PeerClass cls, double score) {
    return DialCandidate{core::util::HostPort{std::move(host), 24100}, cls, score};
  };
  const std::vector<DialCandidate> in = {
      c("d1", PeerClass::Discovered, 50), c("s1", PeerClass::Static, -10), c("m1", PeerClass::Masternode, -5),
      c("d2", PeerClass::Discovered, 90), c("s2", PeerClass::Static, 20),  c("m2", PeerClass::Masternode, 30),
      c("d3", PeerClass::Discovered, 50), c("s3", PeerClass::Static, 20),
  };
  std::vector<std::string> hosts;
  for (const auto& d : core::p2p::dial_order(in)) hosts.push_back(d.address.host);
  CHECK(hosts == std::vector<std::string>{"m2", "m1", "s2", "s3", "s1", "d2", "d1", "d3"});  // ties keep input order

  CHECK(core::p2p::free_outbound_slots(8, 3) == 5);
  CHECK(core::p2p::free_outbound_slots(8, 8) == 0);
  CHECK(core::p2p::free_outbound_slots(8, 11) == 0);

  // Masternodes are always dialled and take no slot.
  hosts.clear();
  for (const auto& d : core::p2p::select_dials(in, 4)) hosts.push_back(d.address.host);
  CHECK(hosts == std::vector<std::string>{"m2", "m1", "s2", "s3", "s1", "d2"});
  hosts.clear();
  for (const auto& d : core::p2p::select_dials(in, 0)) hosts.push_back(d.address.host);
  CHECK(hosts == std::vector<std::string>{"m2", "m1"});
}

TEST_CASE("settings from tnode.toml keep the documented defaults", "[unit][p2p]") {
  const core::config::NodeConfig defaults;
  CHECK(core::p2p::reconnect_settings_from(defaults) == ReconnectSettings{});
  CHECK(core::p2p::peer_quality_settings_from(defaults) == core::p2p::PeerQualitySettings{});

  core::config::NodeConfig c;
  c.base_delay = seconds(1);
  c.max_delay = minutes(3);
  c.max_attempts = 4;
  c.max_attempts_discovered = 2;
  c.breaker_failures = 7;
  c.breaker_cooldown = seconds(30);
  c.parked_retry = minutes(20);
  c.ban_threshold = -80;
  c.ban_duration = hours(2);
  c.score_half_life = minutes(1);
  const ReconnectSettings r = core::p2p::reconnect_settings_from(c);
  CHECK(r.base_delay == seconds(1));
  CHECK(r.max_delay == minutes(3));
  CHECK(r.max_attempts == 4);
  CHECK(r.max_attempts_discovered == 2);
  CHECK(r.breaker_failures == 7);
  CHECK(r.breaker_cooldown == seconds(30));
  CHECK(r.breaker_cooldown_cap == hours(1));
  CHECK(r.parked_retry == minutes(20));
  const auto q = core::p2p::peer_quality_settings_from(c);
  CHECK(q.ban_threshold == -80);
  CHECK(q.ban_duration == hours(2));
  CHECK(q.score_half_life == minutes(1));
}
