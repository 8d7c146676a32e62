// libcore/node/address_book: known addresses and their dial bookkeeping,
// pure (time passed in). The bound, class upgrades, what is due and when,
// the connection-to-entry rule, gossip, seeding and the persistent form.

#include <catch2/catch.hpp>

#include <algorithm>

#include <span>

#include "libcore/node/address_book.hpp"
#include "test_support.hpp"

using core::node::AddressBook;
using core::node::AddressBookSettings;
using core::node::ConnectionOrigin;
using core::p2p::PeerClass;
using core::util::HostPort;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const auto t0 = core::p2p::TimePoint{} + std::chrono::hours(24);
constexpr std::int64_t kWall0 = 1'700'000'000'000;

HostPort at(std::uint16_t port) { return HostPort{"127.0.0.1", port}; }
core::p2p::Uniform01 zero() {
  return [] { return 0.0; };
}

AddressBook book_of(std::size_t max_entries = 1024) {
  AddressBookSettings s;
  s.max_entries = max_entries;
  return AddressBook(s, test::key(1).public_key());
}

std::function<bool(const core::crypto::PublicKey&)> none() {
  return [](const core::crypto::PublicKey&) { return false; };
}

}  // namespace

TEST_CASE("address book: bounded for discovered addresses; classes only move up", "[unit][node]") {
  auto book = book_of(2);
  REQUIRE(book.add(at(1), PeerClass::Discovered, "gossip"));
  REQUIRE(book.add(at(2), PeerClass::Discovered, "gossip"));
  CHECK(book.add(at(3), PeerClass::Discovered, "gossip") == nullptr);
  CHECK(book.size() == 2);
  // An address already known is upgraded, never downgraded.
  auto* e = book.add(at(1), PeerClass::Static, "config");
  REQUIRE(e);
  CHECK(e->state.peer_class() == PeerClass::Static);
  CHECK(e->source == "config");
  e = book.add(at(1), PeerClass::Discovered, "gossip");
  CHECK(e->state.peer_class() == PeerClass::Static);
  CHECK(e->source == "config");
  // Our own id marks the entry self.
  e = book.add(at(2), PeerClass::Discovered, "inbound", test::key(1).public_key());
  CHECK(e->self);
}

TEST_CASE("address book: the entry of a connection is the dialled address, or the announced listen address",
          "[unit][node]") {
  CHECK(AddressBook::key_of(ConnectionOrigin{true, "127.0.0.1:1", "127.0.0.1:9"}) == "127.0.0.1:1");
  CHECK(AddressBook::key_of(ConnectionOrigin{false, "", "127.0.0.1:9"}) == "127.0.0.1:9");
  CHECK_FALSE(AddressBook::key_of(ConnectionOrigin{false, "", ""}).has_value());
  auto book = book_of();
  book.add(at(9), PeerClass::Discovered, "gossip");
  CHECK(book.entry_of(ConnectionOrigin{false, "", "127.0.0.1:9"}) == book.find("127.0.0.1:9"));
  CHECK(book.entry_of(ConnectionOrigin{false, "", ""}) == nullptr);
}

TEST_CASE("address book: what is due, masternodes outside the outbound slots, and when the next one is",
          "[unit][node]") {
  auto book = book_of();
  book.add(at(1), PeerClass::Masternode, "genesis", test::key(2).public_key());
  book.add(at(2), PeerClass::Static, "config");
  book.add(at(3), PeerClass::Discovered, "gossip", test::key(3).public_key());
  book.find("127.0.0.1:3")->self = false;

  auto due = book.due(t0, 8, none());
  CHECK(due.candidates.size() == 3);
  // No free slot: only the masternode.
  due = book.due(t0, 0, none());
  REQUIRE(due.candidates.size() == 1);
  CHECK(due.candidates[0].peer_class == PeerClass::Masternode);
  // A skipped node id (banned, or already connected) is not due.
  due = book.due(t0, 8, [](const core::crypto::PublicKey& id) { return id == test::key(3).public_key(); });
  CHECK(due.candidates.size() == 2);

  // In flight: not due and counts against the slots; failed: due again
  // after its backoff, which is when `next` says.
  auto& s = *book.find("127.0.0.1:2");
  book.record_attempt(s, t0, kWall0);
  CHECK(book.dialing_non_masternodes() == 1);
  CHECK(book.due(t0, 8, none()).candidates.size() == 2);
  book.record_failure(s, core::p2p::ScoreEvent::Refused, "refused: connect", t0, [] { return 0.999999; });
  CHECK(book.dialing_non_masternodes() == 0);
  CHECK(s.total_attempts == 1);
  CHECK(s.total_failures == 1);
  CHECK(s.last_error == "refused: connect");
  CHECK(s.score.value(t0) < 0);
  due = book.due(t0, 8, none());
  CHECK(due.candidates.size() == 2);
  REQUIRE(due.next.has_value());
  CHECK(*due.next > t0);
  CHECK(*due.next <= t0 + seconds(5));
  // Self and another network are never due.
  book.find("127.0.0.1:1")->self = true;
  book.find("127.0.0.1:3")->wrong_network = true;
  CHECK(book.due(t0 + seconds(10), 8, none()).candidates.size() == 1);
}

TEST_CASE("address book: success resets the dial bookkeeping and learns the node id", "[unit][node]") {
  auto book = book_of();
  auto& e = *book.add(at(2), PeerClass::Static, "config");
  for (int i = 0; i < 3; ++i) {
    book.record_attempt(e, t0 + seconds(i), kWall0 + i * 1000);
    book.record_failure(e, core::p2p::ScoreEvent::Timeout, "timeout", t0 + seconds(i), zero());
  }
  CHECK(e.state.consecutive_failures() == 3);
  CHECK(e.recent_attempts_ms.size() == 3);
  book.record_attempt(e, t0 + seconds(5), kWall0 + 5000);
  const auto id = test::key(7).public_key();
  book.record_success(e, id, t0 + seconds(5), kWall0 + 5000);
  CHECK(e.state.consecutive_failures() == 0);
  CHECK(e.node_id == id);
  CHECK(e.last_success_ms == kWall0 + 5000);
  CHECK(e.last_error.empty());
}

TEST_CASE("address book: recent attempts are bounded", "[unit][node]") {
  auto book = book_of();
  auto& e = *book.add(at(1), PeerClass::Masternode, "genesis");
  for (std::size_t i = 0; i < core::node::kRecentAttempts + 5; ++i) {
    book.record_attempt(e, t0, kWall0 + static_cast<std::int64_t>(i));
    book.record_failure(e, core::p2p::ScoreEvent::Refused, "x", t0, zero());
  }
  CHECK(e.recent_attempts_ms.size() == core::node::kRecentAttempts);
  CHECK(e.recent_attempts_ms.back() == kWall0 + static_cast<std::int64_t>(core::node::kRecentAttempts + 4));
}

TEST_CASE("address book: gossip adds discovered hints, never ourselves, and is fresh evidence only when newer",
          "[unit][node]") {
  auto book = book_of();
  const auto own = test::key(1).public_key(), other = test::key(5).public_key();
  book.learn({own, "127.0.0.1:7", core::p2p::Role::Regular, kWall0}, "10.9.9.9", t0);
  CHECK(book.size() == 0);
  book.learn({other, "not an address", core::p2p::Role::Regular, kWall0}, "10.9.9.9", t0);
  CHECK(book.size() == 0);
  book.learn({other, "127.0.0.1:8", core::p2p::Role::Regular, kWall0}, "10.9.9.9", t0);
  REQUIRE(book.find("127.0.0.1:8"));
  CHECK(book.find("127.0.0.1:8")->source == "gossip");
  CHECK_FALSE(book.find("127.0.0.1:8")->node_id.has_value());  // a claim, not verified

  // Parked after failures; a report older than our last attempt changes
  // nothing, a newer one unparks it.
  auto& e = *book.find("127.0.0.1:8");
  for (int i = 0; i < 3; ++i) {
    book.record_attempt(e, t0, kWall0 + 100);
    book.record_failure(e, core::p2p::ScoreEvent::Refused, "x", t0, zero());
  }
  REQUIRE(e.state.parked());
  book.learn({other, "127.0.0.1:8", core::p2p::Role::Regular, kWall0 + 50}, "10.9.9.9", t0);
  CHECK(e.state.parked());
  book.learn({other, "127.0.0.1:8", core::p2p::Role::Regular, kWall0 + 200}, "10.9.9.9", t0);
  CHECK_FALSE(e.state.parked());
}

TEST_CASE("address book: seeding adds genesis and static peers, forgets removed static peers, marks our own",
          "[unit][node]") {
  auto book = book_of();
  book.add(at(5), PeerClass::Static, "config");  // remembered from the last run
  const auto mn = test::key(2).public_key();
  auto removed = book.seed({{at(1), mn}}, {at(2)}, {"127.0.0.1:2"});
  CHECK(removed == std::vector<std::string>{"127.0.0.1:5"});
  CHECK(book.find("127.0.0.1:5") == nullptr);
  REQUIRE(book.find("127.0.0.1:1"));
  CHECK(book.find("127.0.0.1:1")->state.peer_class() == PeerClass::Masternode);
  CHECK(book.find("127.0.0.1:1")->node_id == mn);
  CHECK(book.find("127.0.0.1:2")->self);
}

TEST_CASE("address book: the persistent form round-trips, and only changed entries are written", "[unit][node]") {
  auto book = book_of();
  auto& e = *book.add(at(3), PeerClass::Static, "config", test::key(4).public_key());
  book.record_attempt(e, t0, kWall0);
  book.record_failure(e, core::p2p::ScoreEvent::Timeout, "timeout: connect", t0, zero());
  auto changed = book.take_changed(t0, kWall0);
  REQUIRE(changed.size() == 1);
  CHECK(book.take_changed(t0, kWall0).empty());  // unchanged: nothing to write

  // A later process restores it, 30 s later on the wall clock.
  auto later = book_of();
  const auto& [key, raw] = changed[0];
  auto record =
      core::p2p::decode_address_record(std::span(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
  REQUIRE(record.has_value());
  const auto t1 = t0 + std::chrono::hours(5);
  CHECK(later.restore(key, *record, raw, t1, kWall0 + 30'000) == AddressBook::Restored::Ok);
  const auto* r = later.find("127.0.0.1:3");
  REQUIRE(r);
  CHECK(r->node_id == test::key(4).public_key());
  CHECK(r->total_attempts == 1);
  CHECK(r->total_failures == 1);
  CHECK(r->last_error == "timeout: connect");
  CHECK(r->state.consecutive_failures() == 1);
  CHECK(r->score.value(t1) == Approx(e.score.value(t0 + seconds(30))));
  // Invalid records and a full book are told apart.
  CHECK(later.restore("127.0.0.1:4", *record, raw, t1, kWall0) == AddressBook::Restored::Invalid);
  auto full = book_of(0);
  CHECK(full.restore(key, *record, raw, t1, kWall0) == AddressBook::Restored::Full);
}

TEST_CASE("address book: after an unban the node's addresses get a fresh start", "[unit][node]") {
  auto book = book_of();
  const auto id = test::key(6).public_key();
  auto& e = *book.add(at(4), PeerClass::Discovered, "gossip", id);
  e.score.apply(core::p2p::ScoreEvent::InvalidBlock, t0);
  for (int i = 0; i < 3; ++i) {
    book.record_attempt(e, t0, kWall0);
    book.record_failure(e, core::p2p::ScoreEvent::Refused, "x", t0, zero());
  }
  REQUIRE(e.state.parked());
  book.fresh_start(id, t0);
  CHECK_FALSE(e.state.parked());
  CHECK(e.score.value(t0) == 0);
}

TEST_CASE("address book: gossip never makes a masternode entry, and one source cannot fill the book", "[unit][node]") {
  AddressBookSettings s;
  s.max_entries = 100;
  s.max_per_source = 10;
  AddressBook book(s, test::key(1).public_key());
  const auto mn = test::key(2).public_key();
  for (std::uint16_t i = 0; i < 50; ++i)
    book.learn({mn, "127.0.0.1:" + std::to_string(20000 + i), core::p2p::Role::Masternode, kWall0}, "10.0.0.66", t0);
  CHECK(book.size() == 10);
  CHECK(book.introduced_by("10.0.0.66") == 10);
  for (const auto& [k, e] : book.entries()) {
    CHECK(e.state.peer_class() == PeerClass::Discovered);
    CHECK_FALSE(e.node_id.has_value());
  }
  // Another source still gets its share.
  book.learn({mn, "127.0.0.2:1", core::p2p::Role::Regular, kWall0}, "10.0.0.67", t0);
  CHECK(book.size() == 11);
}

TEST_CASE("address book: bounded for every class together; genesis and config take the worst discovered place",
          "[unit][node]") {
  AddressBookSettings s;
  s.max_entries = 4;
  s.max_per_source = 4;
  AddressBook book(s, test::key(1).public_key());
  for (std::uint16_t i = 1; i <= 4; ++i)
    book.learn({test::key(3).public_key(), "127.0.0.1:" + std::to_string(i), core::p2p::Role::Regular, kWall0},
               "10.0.0.1", t0);
  REQUIRE(book.size() == 4);
  // The worst discovered entry: lowest score among the unverified ones.
  book.find("127.0.0.1:2")->score.apply(core::p2p::ScoreEvent::Timeout, t0);
  REQUIRE(book.add(at(9), PeerClass::Static, "config"));
  CHECK(book.size() == 4);
  CHECK(book.find("127.0.0.1:2") == nullptr);
  CHECK(book.add(at(10), PeerClass::Discovered, "gossip", std::nullopt, "10.0.0.2") == nullptr);
}

TEST_CASE("address book: an inbound peer's announced address never takes over an entry verified for another node",
          "[unit][node]") {
  auto book = book_of();
  const auto honest = test::key(4).public_key(), attacker = test::key(5).public_key();
  auto& e = *book.add(at(7), PeerClass::Static, "config");
  book.record_attempt(e, t0, kWall0);
  book.record_success(e, honest, t0, kWall0);  // our dial found the honest node there
  const double score = e.score.value(t0);
  for (int i = 0; i < 3; ++i) {
    book.record_attempt(e, t0, kWall0);
    book.record_failure(e, core::p2p::ScoreEvent::Refused, "x", t0, zero());
  }
  const auto failures = e.state.consecutive_failures();
  // The attacker, on the same IP, announces the honest port.
  book.record_inbound(at(7), attacker, "127.0.0.1", t0 + seconds(1), kWall0 + 1000);
  CHECK(e.node_id == honest);
  CHECK(e.state.consecutive_failures() == failures);  // no fresh evidence granted
  CHECK(e.score.value(t0) == Approx(e.score.value(t0)));
  CHECK(e.score.value(t0) < score);  // only its own dial outcomes moved it
  CHECK(e.state.peer_class() == PeerClass::Static);
  // The honest node itself coming in is fresh evidence for its own entry.
  book.record_inbound(at(7), honest, "127.0.0.1", t0 + seconds(2), kWall0 + 2000);
  CHECK(e.state.attempts() == 0);
  // An unknown announced address is added unverified, counted against the IP.
  book.record_inbound(at(8), attacker, "127.0.0.3", t0, kWall0);
  REQUIRE(book.find("127.0.0.1:8"));
  CHECK_FALSE(book.find("127.0.0.1:8")->node_id.has_value());
  CHECK(book.introduced_by("127.0.0.3") == 1);
  // It is not dialled while its announcer is connected (the dial would only
  // find that peer again), and is once the announcer is gone; the verified
  // entry never took the attacker as its announcer.
  CHECK(book.find("127.0.0.1:8")->announced_by == attacker);
  CHECK(e.announced_by == honest);
  const auto dialled = [&](bool attacker_connected) {
    const auto due =
        book.due(t0 + seconds(600), 8, [&](const auto& id) { return attacker_connected && id == attacker; });
    return std::any_of(due.candidates.begin(), due.candidates.end(),
                       [](const auto& c) { return c.address.to_string() == "127.0.0.1:8"; });
  };
  CHECK_FALSE(dialled(true));
  CHECK(dialled(false));
}

TEST_CASE("address book: an inbound regular node announcing a masternode's address leaves the masternode's record",
          "[unit][node]") {
  auto book = book_of();
  const auto masternode = test::key(4).public_key(), regular = test::key(5).public_key();
  const HostPort mn_address{"127.0.0.2", 24100};
  book.seed({{mn_address, masternode}}, {}, {});
  auto* e = book.find("127.0.0.2:24100");
  REQUIRE(e);
  book.record_attempt(*e, t0, kWall0);
  book.record_failure(*e, core::p2p::ScoreEvent::Refused, "x", t0, zero());
  const auto failures = e->state.consecutive_failures();
  // A regular node, from another loopback address, announces the
  // masternode's address in its signed Hello.
  book.record_inbound(mn_address, regular, "127.0.0.4", t0 + seconds(1), kWall0 + 1000);
  CHECK(e->node_id == masternode);
  CHECK(e->state.peer_class() == PeerClass::Masternode);
  CHECK(e->source == "genesis");
  CHECK_FALSE(e->announced_by.has_value());
  CHECK(e->state.consecutive_failures() == failures);  // no fresh evidence from someone else
  CHECK(book.introduced_by("127.0.0.4") == 0);
  // The connection's entry is the masternode's, verified for another node:
  // ConnectionManager::class_of gives the regular node no masternode class.
  const ConnectionOrigin inbound{false, "", "127.0.0.2:24100"};
  REQUIRE(book.entry_of(inbound) == e);
  CHECK(e->node_id != regular);
  // Its restart keeps the masternode's id too.
  const auto record = book.record_of("127.0.0.2:24100", *e, t0, kWall0);
  CHECK(record.node_id == masternode);
}
