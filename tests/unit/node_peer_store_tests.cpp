// libcore/node/peer_store: typed peer and ban records over a real chain
// store. Damaged records are skipped, reported and kept.

#include <catch2/catch.hpp>

#include "libcore/node/peer_store.hpp"
#include "libcore/store/chain_store.hpp"
#include "test_support.hpp"

using core::node::PeerStore;
using core::node::UnreadableRecord;
using core::p2p::AddressRecord;
using core::p2p::BanRecord;
using core::store::Column;

namespace {

struct StoreFixture {
  test::TempDir dir;
  std::vector<core::crypto::KeyPair> keys = test::keys(2);
  core::chain::GenesisSpec spec = test::make_spec(keys);
  std::unique_ptr<core::store::ChainStore> store;

  StoreFixture() { store = test::open_store(dir / "chain", spec); }
};

AddressRecord address_record(const std::string& address) {
  AddressRecord r;
  r.address = address;
  r.source = "gossip";
  r.total_attempts = 3;
  r.score = -12.5;
  r.score_as_of_ms = 1000;
  return r;
}

std::string bytes(const core::codec::Bytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace

TEST_CASE("peer store: address and ban records round-trip through the store", "[unit][node]") {
  StoreFixture f;
  PeerStore ps(*f.store);
  const auto a = address_record("127.0.0.1:24100"), b = address_record("10.0.0.2:24100");
  ps.write_addresses({{a.address, bytes(core::p2p::encode(a))}, {b.address, bytes(core::p2p::encode(b))}}, {});
  const BanRecord ban{test::key(9).public_key(), 1000, 5000, "invalid block"};
  ps.write_ban(ban);

  std::vector<UnreadableRecord> damaged;
  auto addresses = ps.addresses(damaged);
  REQUIRE(addresses.size() == 2);
  CHECK(addresses[0].record == b);  // key order: "10..." < "127..."
  CHECK(addresses[1].record == a);
  CHECK(addresses[1].raw == bytes(core::p2p::encode(a)));
  auto bans = ps.bans(damaged);
  REQUIRE(bans.size() == 1);
  CHECK(bans[0].record == ban);
  CHECK(bans[0].key == PeerStore::ban_key(ban.node_id));
  CHECK(damaged.empty());

  ps.write_addresses({}, {a.address});
  ps.erase_bans({ban.node_id});
  CHECK(ps.addresses(damaged).size() == 1);
  CHECK(ps.bans(damaged).empty());
}

TEST_CASE("peer store: damaged or misplaced records are reported and kept, never deleted", "[unit][node]") {
  StoreFixture f;
  PeerStore ps(*f.store);
  const auto good = address_record("127.0.0.1:24100");
  ps.write_addresses({{good.address, bytes(core::p2p::encode(good))},
                      {"127.0.0.1:1", "\x07garbage"},  // a newer version, or damage
                      {"127.0.0.1:2", bytes(core::p2p::encode(address_record("127.0.0.1:3")))}},  // wrong key
                     {});
  const BanRecord ban{test::key(9).public_key(), 1, 2, "x"};
  f.store->write_records(Column::Bans, {{"short-key", bytes(core::p2p::encode(ban))}}, {});

  std::vector<UnreadableRecord> damaged;
  auto addresses = ps.addresses(damaged);
  REQUIRE(addresses.size() == 1);
  CHECK(addresses[0].record == good);
  REQUIRE(damaged.size() == 2);
  CHECK(damaged[0].column == "peers");
  CHECK(damaged[0].key == "127.0.0.1:1");
  CHECK_FALSE(damaged[0].error.empty());
  CHECK(damaged[1].key == "127.0.0.1:2");
  CHECK(damaged[1].error == "the record is for address 127.0.0.1:3");
  damaged.clear();
  CHECK(ps.bans(damaged).empty());
  REQUIRE(damaged.size() == 1);
  CHECK(damaged[0].column == "bans");
  CHECK(damaged[0].key == "(9-byte key)");

  // Still there, byte for byte.
  CHECK(f.store->get_raw(Column::Peers, "127.0.0.1:1") == std::optional<std::string>("\x07garbage"));
  CHECK(f.store->get_raw(Column::Bans, "short-key").has_value());
}

TEST_CASE("peer store: a stored score decays with its half-life; an open breaker past its cool-down reads half-open",
          "[unit][node]") {
  auto r = address_record("127.0.0.1:24100");
  r.score = -40;
  r.score_as_of_ms = 10'000;
  CHECK(core::node::decayed_score(r, 60'000, 10'000) == Approx(-40));
  CHECK(core::node::decayed_score(r, 60'000, 70'000) == Approx(-20));
  CHECK(core::node::decayed_score(r, 60'000, 5'000) == Approx(-40));  // a clock step back: no growth
  r.dial.breaker = core::p2p::BreakerState::Open;
  r.dial.opened_at_ms = 1000;
  r.dial.cooldown = std::chrono::milliseconds(500);
  CHECK(core::node::breaker_at(r, 1499) == core::p2p::BreakerState::Open);
  CHECK(core::node::breaker_at(r, 1500) == core::p2p::BreakerState::HalfOpen);
}
