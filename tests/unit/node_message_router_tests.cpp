// libcore/node/message_router: chain and gossip messages of connected peers,
// driven against a fake connection manager (PeerActions) with a real
// ChainSync and AddressBook. No sockets, explicit times.

#include <catch2/catch.hpp>

#include <set>

#include <spdlog/spdlog.h>

#include "libcore/chain/validation.hpp"
#include "libcore/metrics/node_metrics.hpp"
#include "libcore/node/message_router.hpp"
#include "libcore/store/chain_store.hpp"
#include "test_support.hpp"

using core::crypto::PublicKey;
using core::node::AddressBook;
using core::node::MessageRouter;
using core::p2p::ScoreEvent;

namespace {

const auto t0 = core::node::SyncClock::time_point{} + std::chrono::hours(24);

class QuietLogs {
 public:
  QuietLogs() : level_(spdlog::get_level()) { spdlog::set_level(spdlog::level::off); }
  ~QuietLogs() { spdlog::set_level(level_); }

 private:
  spdlog::level::level_enum level_;
};

// Records what the router asks of the connection side.
struct FakePeers final : core::node::PeerActions {
  std::vector<std::pair<PublicKey, core::p2p::Message>> sent;
  std::vector<std::pair<PublicKey, ScoreEvent>> penalties;
  std::vector<std::pair<PublicKey, std::string>> bans;
  std::vector<core::p2p::PeerEntry> listening;
  std::vector<core::p2p::ConnectionEntry> connected;
  int learned = 0;

  void send(const PublicKey& to, const core::p2p::Message& m) override { sent.emplace_back(to, m); }
  void penalise(const PublicKey& p, ScoreEvent e, const std::string&) override { penalties.emplace_back(p, e); }
  void ban(const PublicKey& p, const std::string& reason) override { bans.emplace_back(p, reason); }
  std::string describe(const PublicKey& p) const override { return p.short_hex(); }
  std::string source_ip(const PublicKey&) const override { return "127.0.0.9"; }
  std::vector<core::p2p::PeerEntry> listening_peers() const override { return listening; }
  std::vector<core::p2p::ConnectionEntry> connections() const override { return connected; }
  void addresses_learned() override { ++learned; }

  template <typename T>
  std::vector<std::pair<PublicKey, T>> of_type() const {
    std::vector<std::pair<PublicKey, T>> out;
    for (const auto& [to, m] : sent)
      if (const auto* x = std::get_if<T>(&m)) out.emplace_back(to, *x);
    return out;
  }
};

struct Fixture {
  QuietLogs quiet;
  test::TempDir dir;
  std::vector<core::crypto::KeyPair> keys = test::keys(3);
  core::chain::GenesisSpec spec = test::make_spec(keys);
  std::unique_ptr<core::store::ChainStore> store;
  core::metrics::NodeMetrics metrics{"0.0.0-test"};
  FakePeers peers;
  std::unique_ptr<core::node::ChainSync> sync;
  AddressBook book{core::node::AddressBookSettings{}, test::key(200).public_key()};
  std::unique_ptr<MessageRouter> router;

  Fixture() {
    store = test::open_store(dir / "chain", spec);
    sync = std::make_unique<core::node::ChainSync>(*store, metrics, core::node::SyncSettings{},
                                                   core::node::make_sync_hooks(peers, metrics));
    router = std::make_unique<MessageRouter>(peers, *sync, book, spec, [] { return t0; });
  }
};

PublicKey peer(std::uint8_t n) { return test::key(static_cast<std::uint8_t>(100 + n)).public_key(); }

}  // namespace

TEST_CASE("router: an outbound peer is asked for its peers, an inbound one is not; both join sync", "[unit][node]") {
  Fixture f;
  core::p2p::Hello hello;
  hello.best_height = 0;
  hello.best_hash = f.store->genesis_hash();
  f.router->on_connected(peer(1), hello, true, "127.0.0.1");
  f.router->on_connected(peer(2), hello, false, "127.0.0.2");
  auto asked = f.peers.of_type<core::p2p::GetPeers>();
  REQUIRE(asked.size() == 1);
  CHECK(asked[0].first == peer(1));
  CHECK(f.sync->peer_view(peer(1)).has_value());
  CHECK(f.sync->peer_view(peer(2)).has_value());
  f.router->on_disconnected(peer(2));
  CHECK_FALSE(f.sync->peer_view(peer(2)).has_value());
}

TEST_CASE("router: GetPeers is answered with the other listening peers, at most kPeersPerReply", "[unit][node]") {
  Fixture f;
  for (std::uint16_t i = 0; i < core::node::kPeersPerReply + 10; ++i)
    f.peers.listening.push_back({test::key(static_cast<std::uint8_t>(i % 250)).public_key(),
                                 "127.0.0.1:" + std::to_string(20000 + i), core::p2p::Role::Regular, 1});
  f.peers.listening[3].node_id = peer(1);  // the asker itself
  f.router->on_message(peer(1), core::p2p::GetPeers{});
  auto replies = f.peers.of_type<core::p2p::Peers>();
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].first == peer(1));
  CHECK(replies[0].second.peers.size() == core::node::kPeersPerReply);
  for (const auto& e : replies[0].second.peers) CHECK(e.node_id != peer(1));
}

TEST_CASE("router: GetConnections is answered with every other connected peer, heights as sync knows them",
          "[unit][node]") {
  Fixture f;
  core::p2p::Hello hello;
  hello.best_height = 0;
  hello.best_hash = f.store->genesis_hash();
  f.router->on_connected(peer(2), hello, true, "127.0.0.2");
  f.peers.connected.push_back({peer(1), "", core::p2p::Role::Regular, false, 0});  // the asker
  f.peers.connected.push_back({peer(2), "127.0.0.2:24100", core::p2p::Role::Masternode, true, 3});
  f.peers.connected.push_back({peer(3), "", core::p2p::Role::Regular, false, 4});  // not listening
  f.router->on_message(peer(1), core::p2p::GetConnections{});
  auto replies = f.peers.of_type<core::p2p::Connections>();
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].first == peer(1));
  const auto& got = replies[0].second.peers;
  REQUIRE(got.size() == 2);
  CHECK(got[0].node_id == peer(2));
  CHECK(got[0].outbound);
  CHECK(got[0].role == core::p2p::Role::Masternode);
  CHECK(got[0].best_height == 3);  // its Hello's claim: sync has seen nothing higher
  CHECK(got[1].node_id == peer(3));
  CHECK(got[1].address.empty());
  CHECK(got[1].best_height == 4);
}

TEST_CASE(
    "router: Peers gossip goes to the address book as discovered hints, whatever it claims, and wakes the dialler",
    "[unit][node]") {
  Fixture f;
  core::p2p::Peers gossip;
  gossip.peers.push_back({peer(5), "127.0.0.1:24100", core::p2p::Role::Regular, 1});
  gossip.peers.push_back({f.keys[0].public_key(), "127.0.0.1:24102", core::p2p::Role::Masternode, 1});
  f.router->on_message(peer(1), gossip);
  CHECK(f.peers.learned == 1);
  REQUIRE(f.book.find("127.0.0.1:24100"));
  CHECK(f.book.find("127.0.0.1:24100")->state.peer_class() == core::p2p::PeerClass::Discovered);
  // Tagged with a genesis masternode's id and role: still a discovered
  // address, with no node id (only our own dial verifies one).
  REQUIRE(f.book.find("127.0.0.1:24102"));
  CHECK(f.book.find("127.0.0.1:24102")->state.peer_class() == core::p2p::PeerClass::Discovered);
  CHECK_FALSE(f.book.find("127.0.0.1:24102")->node_id.has_value());
  CHECK(f.book.introduced_by("127.0.0.9") == 2);
}

TEST_CASE("router: GetGenesis and GetHeaders are answered to the asker", "[unit][node]") {
  Fixture f;
  f.router->on_message(peer(1), core::p2p::GetGenesis{});
  auto genesis = f.peers.of_type<core::p2p::Genesis>();
  REQUIRE(genesis.size() == 1);
  CHECK(core::chain::genesis_hash(genesis[0].second.spec) == f.store->genesis_hash());
  core::p2p::GetHeaders gh;
  gh.locator = {f.store->genesis_hash()};
  gh.limit = 10;
  f.router->on_message(peer(2), gh);
  auto headers = f.peers.of_type<core::p2p::Headers>();
  REQUIRE(headers.size() == 1);
  CHECK(headers[0].first == peer(2));
  CHECK(headers[0].second.headers.empty());  // we have nothing after genesis
}

TEST_CASE("sync hooks: an invalid block bans its sender; one from the future only costs a small step", "[unit][node]") {
  Fixture f;
  auto hooks = core::node::make_sync_hooks(f.peers, f.metrics);
  hooks.invalid_block(peer(1), core::chain::BlockError{core::chain::BlockFault::BadSignature, "bad"});
  REQUIRE(f.peers.bans.size() == 1);
  CHECK(f.peers.bans[0].first == peer(1));
  CHECK_THAT(f.peers.bans[0].second, Catch::Matchers::StartsWith("invalid block: "));
  REQUIRE(f.peers.penalties.size() == 1);
  CHECK(f.peers.penalties[0].second == ScoreEvent::InvalidBlock);

  hooks.invalid_block(peer(2), core::chain::BlockError{core::chain::BlockFault::FromTheFuture, "3 s ahead"});
  CHECK(f.peers.bans.size() == 1);
  REQUIRE(f.peers.penalties.size() == 2);
  CHECK(f.peers.penalties[1] == std::make_pair(peer(2), ScoreEvent::Timeout));
  const auto text = f.metrics.render();
  CHECK_THAT(text, Catch::Matchers::Contains("tnode_invalid_blocks_total{reason=\"bad_signature\"} 1"));
  CHECK_THAT(text, Catch::Matchers::Contains("tnode_invalid_blocks_total{reason=\"from_the_future\"} 1"));
}

TEST_CASE("router: blocks_delivered is what sync counted of a peer's answers; 0 for a stranger", "[unit][node]") {
  Fixture f;
  const auto genesis = f.store->header(f.store->genesis_hash());
  REQUIRE(genesis);
  const auto blocks = test::forge_blocks(f.spec, test::ring(f.keys), *genesis, 3);
  core::p2p::Hello hello;
  hello.best_height = blocks.back().header.height;
  hello.best_hash = blocks.back().hash();
  f.router->on_connected(peer(1), hello, false, "127.0.0.1");
  CHECK(f.router->blocks_delivered(peer(1)) == 0);
  REQUIRE(f.peers.of_type<core::p2p::GetHeaders>().size() == 1);
  core::p2p::Headers headers;
  for (const auto& b : blocks) headers.headers.push_back(b.header);
  f.router->on_message(peer(1), headers);
  REQUIRE(f.peers.of_type<core::p2p::GetBlocks>().size() == 1);
  f.router->on_message(peer(1), core::p2p::Blocks{blocks});
  CHECK(f.store->tip().height == 3);
  CHECK(f.router->blocks_delivered(peer(1)) == 3);
  CHECK(f.router->blocks_delivered(peer(2)) == 0);
  f.router->on_disconnected(peer(1));
  CHECK(f.router->blocks_delivered(peer(1)) == 0);
}
