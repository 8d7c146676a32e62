// libcore/node/sync: ChainSync driven the way the network layer drives it,
// with explicit steady_clock times and no sockets. Our node has a real
// ChainStore and NodeMetrics; what it sends, whom it penalises and which
// blocks it calls invalid are recorded from its SyncHooks. Remote peers are
// other stores served through their own ChainSync's headers_for/blocks_for.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <spdlog/spdlog.h>

#include "libcore/chain/block.hpp"
#include "libcore/chain/fork_choice.hpp"
#include "libcore/chain/schedule.hpp"
#include "libcore/chain/validation.hpp"
#include "libcore/metrics/node_metrics.hpp"
#include "libcore/node/sync.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/p2p/messages.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/worker_pool.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::chain::Block;
using core::chain::BlockFault;
using core::chain::BlockHeader;
using core::chain::TipRef;
using core::crypto::Hash32;
using core::crypto::PublicKey;
using core::node::ChainSync;
using core::node::SyncClock;
using core::node::SyncSettings;
using core::p2p::ScoreEvent;
using core::store::AcceptStatus;
using core::store::ChainStore;
using std::chrono::milliseconds;
using std::chrono::seconds;

using test::QuietLogs;

namespace {

// An arbitrary steady_clock origin; every test counts from here.
const SyncClock::time_point t0 = SyncClock::time_point{} + std::chrono::hours(24);

struct Sent {
  PublicKey to;
  core::p2p::Message message;
};
struct Penalty {
  PublicKey peer;
  ScoreEvent event;
  std::string detail;
};
struct Invalid {
  PublicKey peer;
  core::chain::BlockError error;
};

// Everything ChainSync asked the network to do, in order.
struct Recorder {
  std::vector<Sent> sent;
  std::vector<Penalty> penalties;
  std::vector<Invalid> invalid;

  core::node::SyncHooks hooks() {
    core::node::SyncHooks h;
    h.send = [this](const PublicKey& to, const core::p2p::Message& m) { sent.push_back({to, m}); };
    h.penalise = [this](const PublicKey& peer, ScoreEvent e, const std::string& detail) {
      penalties.push_back({peer, e, detail});
    };
    h.invalid_block = [this](const PublicKey& peer, const core::chain::BlockError& e) { invalid.push_back({peer, e}); };
    return h;
  }

  // Messages of type T sent since index `from`, with their recipient.
  template <typename T>
  std::vector<std::pair<PublicKey, T>> of_type(std::size_t from = 0) const {
    std::vector<std::pair<PublicKey, T>> out;
    for (std::size_t i = from; i < sent.size(); ++i)
      if (const auto* m = std::get_if<T>(&sent[i].message)) out.emplace_back(sent[i].to, *m);
    return out;
  }
  std::size_t penalties_of(const PublicKey& peer, ScoreEvent e) const {
    return static_cast<std::size_t>(std::count_if(penalties.begin(), penalties.end(),
                                                  [&](const Penalty& p) { return p.peer == peer && p.event == e; }));
  }
};

PublicKey peer_id(std::uint8_t n) { return test::key(static_cast<std::uint8_t>(100 + n)).public_key(); }

TipRef tip_of(const Block& b) { return TipRef{b.header.height, b.hash()}; }

std::vector<Hash32> hashes_of(const std::vector<Block>& blocks) {
  std::vector<Hash32> out;
  for (const auto& b : blocks) out.push_back(b.hash());
  return out;
}

void accept_all(ChainStore& store, const std::vector<Block>& blocks) {
  for (const auto& b : blocks) {
    auto r = store.accept_block(b);
    INFO((r ? std::string() : r.error().message()));
    REQUIRE(r.has_value());
    REQUIRE(r->status != AcceptStatus::AlreadyKnown);
  }
}

// Three masternodes whose keys we hold (1 s slots, genesis in the past).
struct Net {
  test::TempDir dir;
  std::vector<core::crypto::KeyPair> keys = test::keys(3);
  core::chain::GenesisSpec spec = test::make_spec(keys);
  forge::KeyRing ring = test::ring(keys);
  core::chain::Schedule schedule{spec};
  BlockHeader genesis = core::chain::genesis_header(spec);
  int stores = 0;

  std::unique_ptr<ChainStore> open_store() {
    core::store::OpenOptions o;
    o.path = dir / ("chain-" + std::to_string(stores++));
    o.genesis = spec;
    auto s = ChainStore::open(o);
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s.has_value());
    return std::move(*s);
  }
  std::vector<Block> chain(const BlockHeader& parent, std::uint64_t count, std::uint64_t first_slot = 0) const {
    return test::forge_blocks(spec, ring, parent, count, first_slot);
  }
  const core::crypto::KeyPair& producer_of(std::uint64_t slot) const { return keys[slot % keys.size()]; }
};

// Our node: a store, its metrics, and the ChainSync under test.
struct Node {
  std::unique_ptr<ChainStore> store;
  core::metrics::NodeMetrics metrics{"0.0.0-test"};
  Recorder rec;
  std::unique_ptr<ChainSync> sync;

  explicit Node(Net& net, const std::vector<Block>& blocks = {}, SyncSettings settings = {}) : store(net.open_store()) {
    accept_all(*store, blocks);
    sync = std::make_unique<ChainSync>(*store, metrics, settings, rec.hooks());
  }
  TipRef tip() const { return store->tip(); }
};

// A store that answers requests the way a remote node would.
struct Server {
  std::unique_ptr<ChainStore> store;
  core::metrics::NodeMetrics metrics{"0.0.0-remote"};
  std::unique_ptr<ChainSync> sync;

  Server(Net& net, const std::vector<Block>& blocks) : store(net.open_store()) {
    accept_all(*store, blocks);
    sync = std::make_unique<ChainSync>(*store, metrics, SyncSettings{}, core::node::SyncHooks{});
  }
  TipRef tip() const { return store->tip(); }
  void add(const std::vector<Block>& blocks) { accept_all(*store, blocks); }
};

// Delivers the answers of remote peers to what our node sent them, in the
// order it sent the requests (each peer answers its requests in order).
// Peers not in `serving` (and NewBlock announcements) get no answer.
struct Network {
  Node& node;
  std::map<PublicKey, Server*> serving;
  std::set<std::size_t> handled;

  // Answers every unanswered request whose index passes `only`; answers may
  // cause new requests, which are answered too.
  template <typename Filter>
  void deliver(SyncClock::time_point now, Filter only) {
    for (int rounds = 0;; ++rounds) {
      REQUIRE(rounds < 10000);
      bool any = false;
      for (std::size_t i = 0; i < node.rec.sent.size(); ++i) {
        if (handled.count(i) || !only(i)) continue;
        const Sent s = node.rec.sent[i];  // a copy: answering appends to `sent`
        auto it = serving.find(s.to);
        if (it == serving.end()) continue;
        if (const auto* gh = std::get_if<core::p2p::GetHeaders>(&s.message)) {
          handled.insert(i);
          node.sync->on_headers(s.to, it->second->sync->headers_for(*gh), now);
          any = true;
        } else if (const auto* gb = std::get_if<core::p2p::GetBlocks>(&s.message)) {
          handled.insert(i);
          node.sync->on_blocks(s.to, it->second->sync->blocks_for(*gb), now);
          any = true;
        }
      }
      if (!any) return;
    }
  }
  void deliver(SyncClock::time_point now) {
    deliver(now, [](std::size_t) { return true; });
  }
};

}  // namespace

// =================================================================== headers

TEST_CASE("a peer claiming a better tip gets one GetHeaders with a locator from our tip to genesis", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 45);
  const std::vector<Block> ours(blocks.begin(), blocks.begin() + 30);
  Node node(net, ours);
  REQUIRE(node.tip() == tip_of(ours.back()));

  // A peer at our own tip is no reason to ask anything.
  const auto level = peer_id(1);
  node.sync->add_peer(level, node.tip(), t0);
  CHECK(node.rec.sent.empty());
  CHECK_FALSE(node.sync->syncing());

  const auto p = peer_id(2);
  node.sync->add_peer(p, tip_of(blocks[39]), t0);
  auto asked = node.rec.of_type<core::p2p::GetHeaders>();
  REQUIRE(asked.size() == 1);
  CHECK(asked[0].first == p);
  const auto& locator = asked[0].second.locator;
  REQUIRE(locator.size() >= 2);
  CHECK(locator.size() <= core::p2p::kMaxLocator);
  CHECK(locator.front() == ours.back().hash());
  CHECK(locator.back() == node.store->genesis_hash());
  CHECK(locator == node.sync->locator());
  CHECK(asked[0].second.limit >= 1);
  CHECK(asked[0].second.limit <= core::p2p::kMaxHeadersPerMessage);
  // Every entry is on our main chain, newest first, the first ones dense.
  std::vector<std::uint64_t> heights;
  for (const auto& h : locator) {
    auto header = node.store->header(h);
    REQUIRE(header.has_value());
    CHECK(node.store->hash_at(header->height) == h);
    heights.push_back(header->height);
  }
  CHECK(std::is_sorted(heights.rbegin(), heights.rend()));
  CHECK(std::adjacent_find(heights.begin(), heights.end()) == heights.end());
  CHECK(heights[0] == 30);
  CHECK(heights[1] == 29);
  CHECK(heights[2] == 28);

  // While it is outstanding, no second GetHeaders: not to a newcomer with
  // an even better claim, not on a tick before the deadline.
  const auto q = peer_id(3);
  node.sync->add_peer(q, tip_of(blocks[44]), t0 + milliseconds(10));
  node.sync->tick(t0 + milliseconds(500));
  node.sync->tick(t0 + milliseconds(1999));
  CHECK(node.rec.of_type<core::p2p::GetHeaders>().size() == 1);
  CHECK(node.rec.penalties.empty());

  // Once p has stalled, the next best claim is asked (one at a time, not once).
  node.sync->tick(t0 + seconds(2));
  asked = node.rec.of_type<core::p2p::GetHeaders>();
  REQUIRE(asked.size() == 2);
  CHECK(asked[1].first == q);
  CHECK(node.rec.penalties_of(p, ScoreEvent::Stalled) == 1);
}

TEST_CASE("headers then bodies: requests spread over peers, blocks applied in order up to the peer tip",
          "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 100);
  Server server(net, blocks);
  Node node(net);
  Network network{node, {}, {}};
  const std::vector<PublicKey> peers = {peer_id(1), peer_id(2), peer_id(3)};
  for (const auto& p : peers) {
    network.serving[p] = &server;
    node.sync->add_peer(p, server.tip(), t0);
  }
  auto asked = node.rec.of_type<core::p2p::GetHeaders>();
  REQUIRE(asked.size() == 1);
  CHECK(asked[0].first == peers[0]);

  // Only the headers: every body is then requested exactly once, spread
  // over more than one peer, never more than a request's worth at a time.
  network.deliver(t0 + milliseconds(10), [&](std::size_t i) { return i == 0; });
  CHECK(node.rec.invalid.empty());
  CHECK(node.rec.penalties.empty());
  CHECK(node.tip().height == 0);
  const auto requests = node.rec.of_type<core::p2p::GetBlocks>();
  REQUIRE_FALSE(requests.empty());
  std::set<PublicKey> serving;
  std::multiset<Hash32> requested;
  for (const auto& [to, r] : requests) {
    serving.insert(to);
    CHECK(r.hashes.size() <= SyncSettings{}.max_blocks_per_request);
    requested.insert(r.hashes.begin(), r.hashes.end());
  }
  const auto all = hashes_of(blocks);
  CHECK(requested == std::multiset<Hash32>(all.begin(), all.end()));
  CHECK(serving.size() >= 2);
  auto st = node.sync->status();
  CHECK(st.syncing);
  CHECK(st.pending_headers == 100);
  CHECK(st.blocks_in_flight == 100);
  CHECK(st.target_height == 100);
  CHECK(node.sync->syncing());

  // A peer that does not hold block 1 answers first: its blocks wait.
  const PublicKey first_holder = [&] {
    for (const auto& [to, r] : requests)
      if (std::find(r.hashes.begin(), r.hashes.end(), blocks[0].hash()) != r.hashes.end()) return to;
    FAIL("nobody was asked for block 1");
    return PublicKey{};
  }();
  const PublicKey later = *std::find_if(serving.begin(), serving.end(), [&](auto& p) { return p != first_holder; });
  network.deliver(t0 + milliseconds(20), [&](std::size_t i) { return node.rec.sent[i].to == later; });
  CHECK(node.tip().height == 0);
  CHECK(node.sync->status().blocks_buffered > 0);
  CHECK(node.metrics.blocks_received.value() == 0);

  // The rest: everything applies in order, up to the peers' tip.
  network.deliver(t0 + milliseconds(30));
  CHECK(node.tip() == server.tip());
  for (const auto& b : blocks) {
    INFO("height " << b.header.height);
    CHECK(node.store->hash_at(b.header.height) == b.hash());
  }
  CHECK(node.metrics.blocks_received.value() == 100);
  CHECK(node.metrics.chain_height.value() == 100);
  CHECK(node.metrics.reorgs.value() == 0);
  st = node.sync->status();
  CHECK_FALSE(st.syncing);
  CHECK(st.pending_headers == 0);
  CHECK(st.blocks_in_flight == 0);
  CHECK(st.blocks_buffered == 0);
  // Nothing fetched twice; no NewBlock, since every peer already has the tip.
  std::size_t fetched = 0;
  for (const auto& [to, r] : node.rec.of_type<core::p2p::GetBlocks>()) fetched += r.hashes.size();
  CHECK(fetched == 100);
  CHECK(node.rec.of_type<core::p2p::NewBlock>().empty());
  CHECK(node.rec.penalties.empty());
  CHECK(node.rec.invalid.empty());
}

TEST_CASE("block requests go round-robin: every eligible peer gets one GetBlocks before any peer gets a second",
          "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  // 100 blocks: three requests' worth (34 + 34 + 32). 300: five (64 each, the last 44).
  const std::uint64_t count = GENERATE(std::uint64_t{100}, std::uint64_t{300});
  INFO("blocks missing: " << count);
  const auto blocks = net.chain(net.genesis, count);
  Server server(net, blocks);
  Node node(net);
  Network network{node, {}, {}};
  const std::vector<PublicKey> peers = {peer_id(1), peer_id(2), peer_id(3)};
  for (const auto& p : peers) {
    network.serving[p] = &server;
    node.sync->add_peer(p, server.tip(), t0);
  }
  network.deliver(t0 + milliseconds(10), [](std::size_t i) { return i == 0; });  // the headers only
  const auto requests = node.rec.of_type<core::p2p::GetBlocks>();
  REQUIRE(requests.size() >= 3);
  const std::set<PublicKey> first_three = {requests[0].first, requests[1].first, requests[2].first};
  CHECK(first_three == std::set<PublicKey>(peers.begin(), peers.end()));
  std::map<PublicKey, std::size_t> per_peer;
  std::multiset<Hash32> requested;
  for (const auto& [to, r] : requests) {
    ++per_peer[to];
    requested.insert(r.hashes.begin(), r.hashes.end());
  }
  for (const auto& [to, n] : per_peer) CHECK(n <= SyncSettings{}.requests_per_peer);
  const auto all = hashes_of(blocks);
  CHECK(requested == std::multiset<Hash32>(all.begin(), all.end()));

  network.deliver(t0 + milliseconds(20));
  CHECK(node.tip() == server.tip());
  CHECK(node.rec.penalties.empty());
}

TEST_CASE("an invalid header in a Headers reply is reported with its fault and nothing is stored", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  Node node(net);
  const auto p = peer_id(1);
  const auto start = [&](std::uint64_t slot) { return net.schedule.slot_start(slot); };

  Block first;
  BlockFault expected{};
  SECTION("wrong producer") {
    // Slot 1 belongs to keys[1]; keys[2] signs it.
    first = core::chain::make_block(net.genesis, 1, start(1), net.keys[2]);
    expected = BlockFault::WrongProducer;
  }
  SECTION("bad signature") {
    first = core::chain::make_block(net.genesis, 1, start(1), net.producer_of(1));
    first.header.signature.bytes[5] ^= 0x01;
    expected = BlockFault::BadSignature;
  }
  const auto second = core::chain::make_block(first.header, 2, start(2), net.producer_of(2));
  node.sync->add_peer(p, tip_of(second), t0);
  REQUIRE(node.rec.of_type<core::p2p::GetHeaders>().size() == 1);

  node.sync->on_headers(p, core::p2p::Headers{{first.header, second.header}}, t0 + milliseconds(10));
  REQUIRE(node.rec.invalid.size() == 1);
  CHECK(node.rec.invalid[0].peer == p);
  CHECK(node.rec.invalid[0].error.fault == expected);
  CHECK(node.rec.of_type<core::p2p::GetBlocks>().empty());
  CHECK(node.tip().height == 0);
  CHECK_FALSE(node.store->header(first.hash()).has_value());
  CHECK_FALSE(node.store->has_block(first.hash()));
  CHECK_FALSE(node.store->has_block(second.hash()));
  CHECK(node.sync->status().pending_headers == 0);
  // Its claim is no longer believed: we are not "syncing" towards it.
  CHECK_FALSE(node.sync->syncing());
  CHECK(node.metrics.blocks_received.value() == 0);
}

TEST_CASE("headers after an invalid one are never fetched, the valid ones before it are", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  Node node(net);
  const auto p = peer_id(1);
  const auto start = [&](std::uint64_t slot) { return net.schedule.slot_start(slot); };
  const auto b1 = core::chain::make_block(net.genesis, 1, start(1), net.producer_of(1));
  const auto b2 = core::chain::make_block(b1.header, 2, start(2), net.producer_of(3));  // wrong producer
  const auto b3 = core::chain::make_block(b2.header, 3, start(3), net.producer_of(3));
  node.sync->add_peer(p, tip_of(b3), t0);
  REQUIRE(node.rec.of_type<core::p2p::GetHeaders>().size() == 1);

  node.sync->on_headers(p, core::p2p::Headers{{b1.header, b2.header, b3.header}}, t0 + milliseconds(10));
  REQUIRE(node.rec.invalid.size() == 1);
  CHECK(node.rec.invalid[0].peer == p);
  CHECK(node.rec.invalid[0].error.fault == BlockFault::WrongProducer);
  const auto requests = node.rec.of_type<core::p2p::GetBlocks>();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].first == p);
  CHECK(requests[0].second.hashes == std::vector<Hash32>{b1.hash()});
  CHECK(node.sync->status().pending_headers == 1);

  node.sync->on_blocks(p, core::p2p::Blocks{{b1}}, t0 + milliseconds(20));
  CHECK(node.tip() == tip_of(b1));
  CHECK_FALSE(node.store->header(b2.hash()).has_value());
  CHECK_FALSE(node.store->header(b3.hash()).has_value());
  CHECK(node.rec.of_type<core::p2p::GetBlocks>().size() == 1);
  CHECK(node.metrics.blocks_received.value() == 1);
}

TEST_CASE("a block whose body does not match its valid header is reported and not stored", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  Node node(net);
  const auto p = peer_id(1);
  const auto b1 = net.chain(net.genesis, 1)[0];
  node.sync->on_new_block(p, b1.header, t0);  // not a peer yet: ignored
  CHECK(node.rec.sent.empty());
  node.sync->add_peer(p, node.tip(), t0);
  node.sync->on_new_block(p, b1.header, t0);
  const auto requests = node.rec.of_type<core::p2p::GetBlocks>();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].second.hashes == std::vector<Hash32>{b1.hash()});

  auto tampered = b1;  // same header, so same hash; another body
  tampered.transactions[0].memo = {1, 2, 3};
  node.sync->on_blocks(p, core::p2p::Blocks{{tampered}}, t0 + milliseconds(10));
  REQUIRE(node.rec.invalid.size() == 1);
  CHECK(node.rec.invalid[0].peer == p);
  CHECK(node.rec.invalid[0].error.fault == BlockFault::BadTxRoot);
  CHECK(node.tip().height == 0);
  CHECK_FALSE(node.store->has_block(b1.hash()));
  CHECK(node.metrics.blocks_received.value() == 0);
}

// =================================================================== stalls

TEST_CASE("a stalled block request is re-issued to another peer and the staller's timeout doubles", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 11);
  const std::vector<Block> ten(blocks.begin(), blocks.begin() + 10);
  Server server(net, ten);
  SyncSettings settings;
  settings.requests_per_peer = 1;  // so that each of the two peers holds exactly one request
  REQUIRE(settings.stall_timeout == milliseconds(2000));
  Node node(net, {}, settings);
  Network network{node, {}, {}};
  const auto a = peer_id(1), b = peer_id(2);
  for (const auto& p : {a, b}) {
    network.serving[p] = &server;
    node.sync->add_peer(p, server.tip(), t0);
  }
  const auto t1 = t0 + milliseconds(10);
  network.deliver(t1, [](std::size_t i) { return i == 0; });  // the headers only
  auto requests = node.rec.of_type<core::p2p::GetBlocks>();
  REQUIRE(requests.size() == 2);
  REQUIRE(requests[0].first != requests[1].first);
  const auto block1_request = std::find_if(requests.begin(), requests.end(), [&](const auto& r) {
    return std::find(r.second.hashes.begin(), r.second.hashes.end(), blocks[0].hash()) != r.second.hashes.end();
  });
  REQUIRE(block1_request != requests.end());
  const PublicKey staller = block1_request->first;
  const std::vector<Hash32> stalled_hashes = block1_request->second.hashes;
  const PublicKey honest = staller == a ? b : a;

  // The honest peer answers at once; the staller never does.
  network.serving.erase(staller);
  network.deliver(t1 + milliseconds(100));
  CHECK(node.tip().height == 0);  // block 1 is still missing
  CHECK(node.sync->status().blocks_buffered == 10 - stalled_hashes.size());

  node.sync->tick(t1 + milliseconds(1999));
  CHECK(node.rec.penalties.empty());
  CHECK(node.metrics.sync_stalls.value() == 0);
  const auto before = node.rec.sent.size();
  node.sync->tick(t1 + seconds(2));
  REQUIRE(node.rec.penalties.size() == 1);
  CHECK(node.rec.penalties[0].peer == staller);
  CHECK(node.rec.penalties[0].event == ScoreEvent::Stalled);
  CHECK_THAT(node.rec.penalties[0].detail, Contains("no answer"));
  CHECK(node.metrics.sync_stalls.value() == 1);
  CHECK(node.sync->status().stalls == 1);
  // The same hashes go to the other peer, none to the staller.
  auto reissued = node.rec.of_type<core::p2p::GetBlocks>(before);
  REQUIRE(reissued.size() == 1);
  CHECK(reissued[0].first == honest);
  CHECK(reissued[0].second.hashes == stalled_hashes);

  network.deliver(t1 + seconds(2) + milliseconds(50));
  CHECK(node.tip() == server.tip());
  CHECK(node.metrics.blocks_received.value() == 10);
  CHECK_FALSE(node.sync->syncing());

  // The staller is slow, not dead: its late answer to the stalled request
  // arrives (nothing new in it), then it announces block 11 after resting.
  node.sync->on_blocks(staller, server.sync->blocks_for(core::p2p::GetBlocks{stalled_hashes}), t1 + seconds(3));
  CHECK(node.rec.penalties.size() == 1);
  CHECK(node.tip() == server.tip());
  server.add({blocks[10]});
  const auto t3 = t1 + seconds(7);
  const auto mark = node.rec.sent.size();
  node.sync->on_new_block(staller, blocks[10].header, t3);
  requests = node.rec.of_type<core::p2p::GetBlocks>(mark);
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].first == staller);
  CHECK(requests[0].second.hashes == std::vector<Hash32>{blocks[10].hash()});

  // Its deadline is now twice the initial 2 s: not stalled at 2 s or just
  // under 4 s, stalled at 4 s.
  node.sync->tick(t3 + seconds(2));
  node.sync->tick(t3 + milliseconds(3999));
  CHECK(node.rec.penalties.size() == 1);
  node.sync->tick(t3 + seconds(4));
  REQUIRE(node.rec.penalties.size() == 2);
  CHECK(node.rec.penalties[1].peer == staller);
  CHECK(node.rec.penalties[1].event == ScoreEvent::Stalled);
  CHECK(node.metrics.sync_stalls.value() == 2);
}

TEST_CASE("a peer that leaves hands its outstanding requests to another peer", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 6);
  Server server(net, blocks);
  SyncSettings settings;
  settings.requests_per_peer = 1;
  Node node(net, {}, settings);
  Network network{node, {}, {}};
  const auto a = peer_id(1), b = peer_id(2);
  for (const auto& p : {a, b}) {
    network.serving[p] = &server;
    node.sync->add_peer(p, server.tip(), t0);
  }
  network.deliver(t0 + milliseconds(10), [](std::size_t i) { return i == 0; });
  const auto requests = node.rec.of_type<core::p2p::GetBlocks>();
  REQUIRE(requests.size() == 2);
  const auto leaver = requests[0].first;
  const auto stayer = requests[1].first;
  REQUIRE(leaver != stayer);
  network.serving.erase(leaver);

  network.deliver(t0 + milliseconds(20));  // the stayer answers its own request
  const auto mark = node.rec.sent.size();
  node.sync->remove_peer(leaver, t0 + milliseconds(30));
  CHECK_FALSE(node.sync->peer_tip(leaver).has_value());
  const auto reissued = node.rec.of_type<core::p2p::GetBlocks>(mark);
  REQUIRE(reissued.size() == 1);
  CHECK(reissued[0].first == stayer);
  CHECK(reissued[0].second.hashes == requests[0].second.hashes);
  network.deliver(t0 + milliseconds(40));
  CHECK(node.tip() == server.tip());
  CHECK(node.rec.penalties.empty());  // leaving is not stalling
}

TEST_CASE("a peer whose two requests expire in the same tick stalled once: one penalty, its timeout doubled once",
          "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 10);
  Server server(net, blocks);
  SyncSettings settings;
  settings.max_blocks_per_request = 5;  // ten blocks: two requests
  REQUIRE(settings.requests_per_peer == 2);
  REQUIRE(settings.stall_timeout == milliseconds(2000));
  Node node(net, {}, settings);
  Network network{node, {}, {}};
  const auto p = peer_id(1);
  network.serving[p] = &server;
  node.sync->add_peer(p, server.tip(), t0);
  const auto t1 = t0 + milliseconds(10);
  network.deliver(t1, [](std::size_t i) { return i == 0; });  // the headers only
  const auto requests = node.rec.of_type<core::p2p::GetBlocks>();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].first == p);
  CHECK(requests[1].first == p);
  network.serving.erase(p);  // from now on it answers nothing

  node.sync->tick(t1 + milliseconds(1999));
  CHECK(node.rec.penalties.empty());
  node.sync->tick(t1 + seconds(2));  // both requests expire now
  CHECK(node.rec.penalties.size() == 1);
  CHECK(node.rec.penalties_of(p, ScoreEvent::Stalled) == 1);
  CHECK(node.metrics.sync_stalls.value() == 1);
  CHECK(node.sync->status().stalls == 1);
  auto view = node.sync->peer_view(p);
  REQUIRE(view.has_value());
  CHECK(view->stall_timeout == seconds(4));

  // It rests for its new timeout (4 s), is asked again, and that request's
  // deadline is 4 s: twice the initial timeout, not four times.
  const auto t2 = t1 + seconds(6);
  auto mark = node.rec.sent.size();
  node.sync->tick(t2 - milliseconds(1));
  CHECK(node.rec.of_type<core::p2p::GetBlocks>(mark).empty());
  node.sync->tick(t2);
  const auto again = node.rec.of_type<core::p2p::GetBlocks>(mark);
  REQUIRE_FALSE(again.empty());
  for (const auto& [to, r] : again) CHECK(to == p);
  node.sync->tick(t2 + milliseconds(3999));
  CHECK(node.rec.penalties.size() == 1);
  node.sync->tick(t2 + seconds(4));
  CHECK(node.rec.penalties.size() == 2);
  CHECK(node.metrics.sync_stalls.value() == 2);
  view = node.sync->peer_view(p);
  REQUIRE(view.has_value());
  CHECK(view->stall_timeout == seconds(8));
}

TEST_CASE("a peer whose block requests stall is asked again after each rest, and a chain nobody serves is dropped",
          "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto b1 = net.chain(net.genesis, 1)[0];
  SyncSettings settings;
  settings.stall_timeout = seconds(1);
  settings.max_stall_timeout = seconds(8);
  Node node(net, {}, settings);
  const auto p = peer_id(1);
  node.sync->tick(t0);  // the node ticks from the start
  node.sync->add_peer(p, node.tip(), t0);
  node.sync->on_new_block(p, b1.header, t0);
  auto requests = node.rec.of_type<core::p2p::GetBlocks>();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].first == p);
  CHECK(requests[0].second.hashes == std::vector<Hash32>{b1.hash()});
  CHECK(node.sync->syncing());

  // p never answers. Tick every second up to a little past 2 x max_stall_timeout.
  std::vector<SyncClock::time_point> asked_at = {t0};
  std::optional<SyncClock::time_point> dropped;
  milliseconds longest{0};
  const auto end = t0 + 2 * settings.max_stall_timeout + seconds(2);
  for (auto t = t0 + seconds(1); t <= end; t += seconds(1)) {
    const auto mark = node.rec.sent.size();
    node.sync->tick(t);
    for (const auto& [to, r] : node.rec.of_type<core::p2p::GetBlocks>(mark)) {
      CHECK(to == p);
      CHECK(r.hashes == std::vector<Hash32>{b1.hash()});
      asked_at.push_back(t);
    }
    const auto view = node.sync->peer_view(p);
    REQUIRE(view.has_value());
    longest = std::max(longest, view->stall_timeout);
    // While its only server rests after a stall, the node is not syncing
    // (a masternode produces); it is again when the peer is asked again.
    if (t == t0 + seconds(2)) CHECK_FALSE(node.sync->syncing());
    if (t == t0 + seconds(3)) CHECK(node.sync->syncing());
    if (!dropped && node.sync->status().pending_headers == 0) dropped = t;
  }
  // Deadline 1 s, rest 2 s: asked again at 3 s. Deadline 2 s, rest 4 s: at 9 s.
  // Deadline 4 s: stalled at 13 s, resting 8 s (the cap) when the chain is dropped.
  CHECK(asked_at.size() > 2);
  CHECK(asked_at == std::vector<SyncClock::time_point>{t0, t0 + seconds(3), t0 + seconds(9)});
  CHECK(node.rec.penalties_of(p, ScoreEvent::Stalled) == asked_at.size());
  CHECK(longest <= settings.max_stall_timeout);
  REQUIRE(dropped.has_value());
  CHECK(*dropped > t0 + settings.max_stall_timeout);
  CHECK(*dropped <= t0 + 2 * settings.max_stall_timeout + seconds(1));
  CHECK_FALSE(node.sync->syncing());
  CHECK_FALSE(node.sync->status().syncing);
  CHECK(node.sync->status().pending_headers == 0);
  CHECK(node.sync->status().blocks_in_flight == 0);
  CHECK(node.tip() == TipRef{0, node.store->genesis_hash()});
  CHECK(node.rec.invalid.empty());
}

TEST_CASE("a peer that stalled and reconnects before its rest is over is not trusted and not asked for headers",
          "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 12);
  Node node(net);
  const auto p = peer_id(1);
  node.sync->add_peer(p, tip_of(blocks[9]), t0);
  REQUIRE(node.rec.of_type<core::p2p::GetHeaders>().size() == 1);
  node.sync->tick(t0 + seconds(2));  // stalled: timeout 4 s, resting until t0 + 6 s
  REQUIRE(node.rec.penalties_of(p, ScoreEvent::Stalled) == 1);
  CHECK_FALSE(node.sync->syncing());

  // It comes back at once, claiming even more.
  node.sync->remove_peer(p, t0 + seconds(3));
  const auto mark = node.rec.sent.size();
  node.sync->add_peer(p, tip_of(blocks[11]), t0 + seconds(3));
  CHECK(node.sync->peer_tip(p) == tip_of(blocks[11]));
  auto view = node.sync->peer_view(p);
  REQUIRE(view.has_value());
  CHECK_FALSE(view->claim_trusted);
  CHECK(view->stall_timeout == seconds(4));  // the timeout it had reached
  CHECK_FALSE(node.sync->syncing());
  CHECK_FALSE(node.sync->status().syncing);
  CHECK(node.sync->status().target_height == 0);
  bool ever_syncing = false;
  for (auto t = t0 + milliseconds(3100); t < t0 + seconds(6); t += milliseconds(100)) {
    node.sync->tick(t);
    ever_syncing = ever_syncing || node.sync->syncing();
  }
  CHECK_FALSE(ever_syncing);
  CHECK(node.rec.of_type<core::p2p::GetHeaders>(mark).empty());

  // Reconnecting once the rest is over is a fresh start.
  node.sync->remove_peer(p, t0 + seconds(6));
  node.sync->add_peer(p, tip_of(blocks[11]), t0 + seconds(6));
  view = node.sync->peer_view(p);
  REQUIRE(view.has_value());
  CHECK(view->claim_trusted);
  CHECK_FALSE(node.sync->syncing());  // a claim alone: asked for headers, not syncing
  const auto asked = node.rec.of_type<core::p2p::GetHeaders>(mark);
  REQUIRE(asked.size() == 1);
  CHECK(asked[0].first == p);
}

// =================================================================== relay

TEST_CASE("a new tip is announced to every peer but its source, never twice, and own blocks to all", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 5);
  const std::vector<Block> ours(blocks.begin(), blocks.begin() + 3);
  Node node(net, ours);
  const auto a = peer_id(1), b = peer_id(2), c = peer_id(3);
  for (const auto& p : {a, b, c}) node.sync->add_peer(p, node.tip(), t0);
  CHECK(node.rec.sent.empty());

  // a announces block 4; only a has it, so only a is asked for it.
  const auto& b4 = blocks[3];
  node.sync->on_new_block(a, b4.header, t0 + milliseconds(10));
  CHECK(node.sync->peer_tip(a) == tip_of(b4));
  auto requests = node.rec.of_type<core::p2p::GetBlocks>();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].first == a);
  CHECK(requests[0].second.hashes == std::vector<Hash32>{b4.hash()});
  CHECK(node.rec.of_type<core::p2p::NewBlock>().empty());

  auto mark = node.rec.sent.size();
  node.sync->on_blocks(a, core::p2p::Blocks{{b4}}, t0 + milliseconds(20));
  CHECK(node.tip() == tip_of(b4));
  CHECK(node.metrics.blocks_received.value() == 1);
  auto news = node.rec.of_type<core::p2p::NewBlock>(mark);
  REQUIRE(news.size() == 2);
  std::set<PublicKey> told;
  for (const auto& [to, m] : news) {
    told.insert(to);
    CHECK(m.header == b4.header);
  }
  CHECK(told == std::set<PublicKey>{b, c});
  CHECK(node.rec.sent.size() == mark + 2);

  // b and c announce it back: nothing new goes out.
  mark = node.rec.sent.size();
  node.sync->on_new_block(b, b4.header, t0 + milliseconds(30));
  node.sync->on_new_block(c, b4.header, t0 + milliseconds(40));
  node.sync->tick(t0 + milliseconds(50));
  CHECK(node.rec.sent.size() == mark);
  CHECK(node.sync->peer_tip(b) == tip_of(b4));

  // Our own block goes to everybody, once.
  const auto& b5 = blocks[4];
  auto r = node.sync->add_own_block(b5, t0 + milliseconds(60));
  REQUIRE(r.has_value());
  CHECK(r->status == AcceptStatus::Extended);
  CHECK(node.tip() == tip_of(b5));
  CHECK(node.metrics.blocks_produced.value() == 1);
  CHECK(node.metrics.blocks_received.value() == 1);
  CHECK(node.metrics.chain_height.value() == 5);
  news = node.rec.of_type<core::p2p::NewBlock>(mark);
  REQUIRE(news.size() == 3);
  told.clear();
  for (const auto& [to, m] : news) {
    told.insert(to);
    CHECK(m.header == b5.header);
  }
  CHECK(told == std::set<PublicKey>{a, b, c});

  mark = node.rec.sent.size();
  r = node.sync->add_own_block(b5, t0 + milliseconds(70));
  REQUIRE(r.has_value());
  CHECK(r->status == AcceptStatus::AlreadyKnown);
  node.sync->on_new_block(a, b5.header, t0 + milliseconds(80));
  CHECK(node.rec.sent.size() == mark);
  CHECK(node.rec.penalties.empty());
  CHECK(node.rec.invalid.empty());
}

// =================================================================== fork choice

TEST_CASE("a peer's longer branch forking below our tip becomes our tip through a reorganisation", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto a = net.chain(net.genesis, 5);  // ours: slots 1..5
  std::vector<Block> theirs(a.begin(), a.begin() + 2);
  const auto branch = net.chain(a[1].header, 5, 100);  // heights 3..7
  theirs.insert(theirs.end(), branch.begin(), branch.end());
  Server server(net, theirs);
  Node node(net, a);
  Network network{node, {}, {}};
  const auto p = peer_id(1);
  network.serving[p] = &server;
  node.sync->add_peer(p, server.tip(), t0);
  CHECK_FALSE(node.sync->syncing());  // a claim alone: asked for headers, not syncing
  network.deliver(t0 + milliseconds(10));

  CHECK(node.tip() == server.tip());
  CHECK(node.tip() == tip_of(branch.back()));
  CHECK(node.metrics.reorgs.value() == 1);
  CHECK(node.metrics.blocks_received.value() == 5);
  CHECK(node.metrics.chain_height.value() == 7);
  for (const auto& blk : theirs) {
    INFO("height " << blk.header.height);
    CHECK(node.store->hash_at(blk.header.height) == blk.hash());
  }
  // Only the branch was downloaded: the fork point was found from the locator.
  std::vector<Hash32> fetched;
  for (const auto& [to, r] : node.rec.of_type<core::p2p::GetBlocks>())
    fetched.insert(fetched.end(), r.hashes.begin(), r.hashes.end());
  CHECK(fetched == hashes_of(branch));
  CHECK_FALSE(node.sync->syncing());
  CHECK(node.rec.penalties.empty());
  CHECK(node.rec.invalid.empty());
}

TEST_CASE("a branch needing a reorganisation deeper than max_reorg_depth is not followed", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto a = net.chain(net.genesis, 5);       // ours: heights 1..5
  const auto c = net.chain(net.genesis, 9, 100);  // theirs from genesis: heights 1..9
  const std::vector<Block> c8(c.begin(), c.begin() + 8);
  Server server(net, c8);
  SyncSettings settings;
  settings.max_reorg_depth = 2;  // switching to c would undo 5 blocks
  Node node(net, a, settings);
  Network network{node, {}, {}};
  const auto p = peer_id(1);
  network.serving[p] = &server;
  node.sync->add_peer(p, server.tip(), t0);
  network.deliver(t0 + milliseconds(10));

  CHECK(node.tip() == tip_of(a.back()));
  for (const auto& blk : a) CHECK(node.store->hash_at(blk.header.height) == blk.hash());
  CHECK(node.metrics.reorgs.value() == 0);
  CHECK(node.metrics.chain_height.value() == 5);
  CHECK_FALSE(node.sync->syncing());  // a masternode goes on producing on its own chain
  CHECK(node.sync->status().pending_headers == 0);

  // The peer keeps extending that branch: it is still not followed.
  server.add({c[8]});
  const auto mark = node.rec.sent.size();
  node.sync->on_new_block(p, c[8].header, t0 + seconds(1));
  network.deliver(t0 + seconds(1) + milliseconds(10));
  node.sync->tick(t0 + seconds(2));
  CHECK(node.rec.of_type<core::p2p::GetBlocks>(mark).empty());
  CHECK(node.tip() == tip_of(a.back()));
  CHECK(node.metrics.reorgs.value() == 0);
  CHECK_FALSE(node.sync->syncing());
  CHECK(node.rec.invalid.empty());  // deep is not invalid
}

// =================================================================== syncing()

TEST_CASE("syncing() follows validated headers a peer can serve: a claim alone never makes it true", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 12);
  const std::vector<Block> ours(blocks.begin(), blocks.begin() + 2);
  Node node(net, ours);
  CHECK_FALSE(node.sync->syncing());

  SECTION("a peer at our height or below is no reason to sync") {
    node.sync->add_peer(peer_id(1), node.tip(), t0);
    node.sync->add_peer(peer_id(2), tip_of(blocks[0]), t0);
    CHECK_FALSE(node.sync->syncing());
    CHECK_FALSE(node.sync->status().syncing);
    CHECK(node.sync->status().target_height == 2);
  }
  SECTION("a better claim is a hint: it is asked for headers, but nothing waits for it") {
    const auto p = peer_id(1);
    node.sync->add_peer(p, tip_of(blocks[11]), t0);
    CHECK(node.rec.of_type<core::p2p::GetHeaders>().size() == 1);
    CHECK_FALSE(node.sync->syncing());
    CHECK_FALSE(node.sync->status().syncing);
    CHECK(node.sync->status().target_height == 2);
    node.sync->tick(t0 + seconds(2));
    CHECK(node.rec.penalties_of(p, ScoreEvent::Stalled) == 1);
    CHECK_FALSE(node.sync->syncing());
    CHECK(node.tip() == tip_of(ours.back()));
    // Its claimed height is a hint; what it has shown is what it has.
    const auto view = node.sync->peer_view(p);
    REQUIRE(view.has_value());
    CHECK(view->claimed.height == 12);
    CHECK(view->tip.height == 0);
  }
  SECTION("true once headers are validated and their sender can serve; false once caught up") {
    Server server(net, blocks);
    Network network{node, {}, {}};
    const auto p = peer_id(1);
    network.serving[p] = &server;
    node.sync->add_peer(p, server.tip(), t0);
    CHECK_FALSE(node.sync->syncing());
    network.deliver(t0 + milliseconds(10), [](std::size_t i) { return i == 0; });
    CHECK(node.sync->syncing());  // headers validated, bodies not yet
    CHECK(node.sync->status().target_height == 12);
    network.deliver(t0 + milliseconds(20));
    CHECK(node.tip() == server.tip());
    CHECK_FALSE(node.sync->syncing());
    CHECK(node.sync->status().target_height == 12);
  }
  SECTION("validated headers whose only source stalls: not syncing while nobody can serve them") {
    Server server(net, blocks);
    Network network{node, {}, {}};
    const auto p = peer_id(1);
    network.serving[p] = &server;
    node.sync->add_peer(p, server.tip(), t0);
    network.deliver(t0 + milliseconds(10), [](std::size_t i) { return i == 0; });  // headers only
    REQUIRE(node.sync->syncing());
    node.sync->tick(t0 + seconds(3));  // its block request stalls: it rests
    CHECK(node.rec.penalties_of(p, ScoreEvent::Stalled) == 1);
    CHECK_FALSE(node.sync->syncing());
    CHECK_FALSE(node.sync->status().syncing);
  }
}

TEST_CASE("a peer that stalled is distrusted on a new connection, and a new key from its IP is too, until one serves",
          "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 12);
  Node node(net);
  const auto liar = peer_id(1), fresh = peer_id(2), other_ip = peer_id(3);
  node.sync->add_peer(liar, tip_of(blocks[11]), t0, "127.0.0.5");
  node.sync->tick(t0 + seconds(2));  // never answers its GetHeaders
  REQUIRE(node.rec.penalties_of(liar, ScoreEvent::Stalled) == 1);
  node.sync->remove_peer(liar, t0 + seconds(2));
  // A new key from the same IP: not trusted, resting (not asked) for now.
  const auto asked_before = node.rec.of_type<core::p2p::GetHeaders>().size();
  node.sync->add_peer(fresh, tip_of(blocks[11]), t0 + seconds(2), "127.0.0.5");
  auto view = node.sync->peer_view(fresh);
  REQUIRE(view.has_value());
  CHECK_FALSE(view->claim_trusted);
  CHECK(node.rec.of_type<core::p2p::GetHeaders>().size() == asked_before);
  // The same claim from another IP is trusted and asked.
  node.sync->add_peer(other_ip, tip_of(blocks[11]), t0 + seconds(2), "127.0.0.6");
  CHECK(node.sync->peer_view(other_ip)->claim_trusted);
  CHECK(node.rec.of_type<core::p2p::GetHeaders>().size() == asked_before + 1);
}

TEST_CASE(
    "a headers stall drops the request and distrusts the peer, whose unknown-parent announcement then leaves "
    "syncing() false",
    "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 11);
  const std::vector<Block> ten(blocks.begin(), blocks.begin() + 10);
  Server server(net, ten);
  Node node(net);
  REQUIRE(SyncSettings{}.stall_timeout == milliseconds(2000));
  const auto p = peer_id(1);
  node.sync->add_peer(p, tip_of(ten.back()), t0);
  const auto asked = node.rec.of_type<core::p2p::GetHeaders>();
  REQUIRE(asked.size() == 1);
  CHECK(asked[0].first == p);
  CHECK_FALSE(node.sync->syncing());  // a claim alone: asked for headers, not syncing

  // No Headers within 2 s: one stall, the claim no longer counts, it rests.
  node.sync->tick(t0 + seconds(2));
  CHECK(node.rec.penalties_of(p, ScoreEvent::Stalled) == 1);
  CHECK(node.metrics.sync_stalls.value() == 1);
  CHECK_FALSE(node.sync->syncing());
  auto view = node.sync->peer_view(p);
  REQUIRE(view.has_value());
  CHECK_FALSE(view->claim_trusted);
  CHECK(view->stall_timeout == seconds(4));

  SECTION("an announcement whose parent is unknown does not restore trust, however long we wait") {
    // Block 11 announced: its parent (block 10) is unknown to us.
    node.sync->on_new_block(p, blocks[10].header, t0 + seconds(10));
    CHECK(node.sync->peer_tip(p) == tip_of(blocks[10]));
    view = node.sync->peer_view(p);
    REQUIRE(view.has_value());
    CHECK_FALSE(view->claim_trusted);
    CHECK_FALSE(node.sync->syncing());
    auto st = node.sync->status();
    CHECK_FALSE(st.syncing);
    CHECK(st.target_height == 0);
    CHECK(st.pending_headers == 0);
    CHECK(st.blocks_in_flight == 0);
    CHECK(st.blocks_buffered == 0);

    // Nothing ever makes this node believe it is behind (and stop producing).
    bool ever_syncing = false;
    for (int s = 11; s <= 600; ++s) {
      node.sync->tick(t0 + seconds(s));
      ever_syncing = ever_syncing || node.sync->syncing() || node.sync->status().syncing;
    }
    CHECK_FALSE(ever_syncing);
    CHECK(node.tip().height == 0);
    // After each rest the staller is asked for headers again (still
    // untrusted): it stalls again, with its timeout doubling to the cap.
    const auto stalls = node.rec.penalties_of(p, ScoreEvent::Stalled);
    CHECK(stalls >= 2);
    CHECK(stalls <= 12);  // 4 s, 8 s, ... capped at 64 s: about ten in 600 s, not one per tick
    CHECK(node.rec.invalid.empty());
  }
  SECTION("an announcement that connects to a known parent and validates restores trust") {
    node.sync->on_new_block(p, blocks[0].header, t0 + seconds(10));
    view = node.sync->peer_view(p);
    REQUIRE(view.has_value());
    CHECK(view->claim_trusted);
    CHECK(node.sync->syncing());
    CHECK(node.rec.invalid.empty());
  }
  SECTION("a late Headers reply is still taken and its headers are fetched") {
    Network network{node, {{p, &server}}, {0}};  // sent[0] is the stalled GetHeaders, answered by hand
    node.sync->on_headers(p, server.sync->headers_for(asked[0].second), t0 + seconds(3));
    CHECK(node.rec.penalties.size() == 1);  // just the stall: the reply is not unsolicited
    auto st = node.sync->status();
    CHECK(st.pending_headers == 10);
    CHECK(st.target_height == 10);
    // Headers wait for their bodies, but their only server rests: not
    // syncing until it can be asked (4 s from the stall).
    CHECK_FALSE(node.sync->syncing());
    CHECK(node.rec.of_type<core::p2p::GetBlocks>().empty());
    node.sync->tick(t0 + seconds(6));
    CHECK(node.sync->syncing());
    const auto requests = node.rec.of_type<core::p2p::GetBlocks>();
    REQUIRE_FALSE(requests.empty());
    std::vector<Hash32> fetched;
    for (const auto& [to, r] : requests) {
      CHECK(to == p);
      fetched.insert(fetched.end(), r.hashes.begin(), r.hashes.end());
    }
    CHECK(fetched == hashes_of(ten));
    network.deliver(t0 + seconds(6) + milliseconds(10));
    CHECK(node.tip() == server.tip());
    CHECK_FALSE(node.sync->syncing());
    view = node.sync->peer_view(p);
    REQUIRE(view.has_value());
    CHECK(view->claim_trusted);  // it delivered in time
    CHECK(node.rec.invalid.empty());
  }
}

// =================================================================== serving

TEST_CASE("headers_for and blocks_for answer from the main chain after the first main-chain locator hash",
          "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto main = net.chain(net.genesis, 150);
  const auto side = net.chain(net.genesis, 1, 1000)[0];  // a stored side-branch block at height 1
  Node node(net, main);
  REQUIRE(node.store->accept_block(side).has_value());
  REQUIRE(node.store->has_block(side.hash()));
  REQUIRE(node.tip() == tip_of(main.back()));
  Hash32 unknown;
  unknown.bytes.fill(0x42);

  auto heights = [](const core::p2p::Headers& reply) {
    std::vector<std::uint64_t> out;
    for (const auto& h : reply.headers) out.push_back(h.height);
    return out;
  };
  auto range = [](std::uint64_t from, std::uint64_t to) {
    std::vector<std::uint64_t> out;
    for (auto h = from; h <= to; ++h) out.push_back(h);
    return out;
  };

  core::p2p::GetHeaders request;
  request.locator = {unknown, side.hash(), main[6].hash(), node.store->genesis_hash()};  // main[6]: height 7
  auto reply = node.sync->headers_for(request);
  CHECK(heights(reply) == range(8, 150));
  REQUIRE_FALSE(reply.headers.empty());
  CHECK(reply.headers.front() == main[7].header);
  CHECK(reply.headers.back() == main.back().header);

  request.limit = 5;
  reply = node.sync->headers_for(request);
  CHECK(heights(reply) == range(8, 12));

  // Nothing known on the main chain: from height 1. At our tip: nothing.
  request.locator = {unknown, side.hash()};
  request.limit = core::p2p::kMaxHeadersPerMessage;
  CHECK(heights(node.sync->headers_for(request)) == range(1, 150));
  request.locator = {main.back().hash(), main[100].hash()};
  CHECK(node.sync->headers_for(request).headers.empty());

  // Replies stay under max_reply_bytes.
  SyncSettings small;
  small.max_reply_bytes = 10 * core::chain::kHeaderSize + 64;
  core::metrics::NodeMetrics other_metrics("0.0.0-test");
  ChainSync small_sync(*node.store, other_metrics, small, core::node::SyncHooks{});
  request.locator = {main[6].hash()};
  CHECK(heights(small_sync.headers_for(request)) == range(8, 17));

  // Blocks: the known ones, in the order asked, unknown ones left out.
  core::p2p::GetBlocks blocks_request;
  blocks_request.hashes = {main[2].hash(), unknown, main[4].hash(), side.hash()};
  auto blocks = node.sync->blocks_for(blocks_request);
  REQUIRE(blocks.blocks.size() == 3);
  CHECK(blocks.blocks[0] == main[2]);
  CHECK(blocks.blocks[1] == main[4]);
  CHECK(blocks.blocks[2] == side);
  // At most kMaxBlocksPerMessage per reply.
  blocks_request.hashes = hashes_of(main);
  blocks = node.sync->blocks_for(blocks_request);
  REQUIRE(blocks.blocks.size() == core::p2p::kMaxBlocksPerMessage);
  CHECK(blocks.blocks.front() == main.front());
  CHECK(blocks.blocks.back() == main[core::p2p::kMaxBlocksPerMessage - 1]);
}

TEST_CASE("headers that do not connect are asked for again; only a peer that keeps sending them is penalised",
          "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 20);
  Node node(net);
  const auto p = peer_id(1);
  node.sync->add_peer(p, tip_of(blocks[19]), t0);
  REQUIRE(node.rec.of_type<core::p2p::GetHeaders>().size() == 1);

  // Headers 11..20: their first parent (block 10) is unknown to us. Our
  // locator may have named something we dropped since: no penalty, ask again.
  core::p2p::Headers far;
  for (std::size_t i = 10; i < 20; ++i) far.headers.push_back(blocks[i].header);
  node.sync->on_headers(p, far, t0 + milliseconds(10));
  CHECK(node.rec.penalties.empty());
  CHECK(node.rec.of_type<core::p2p::GetHeaders>().size() == 2);
  CHECK(node.sync->peer_view(p)->claim_trusted);

  // The same again and again: the third in a row is misbehaviour.
  node.sync->on_headers(p, far, t0 + milliseconds(20));
  CHECK(node.rec.penalties.empty());
  node.sync->on_headers(p, far, t0 + milliseconds(30));
  CHECK(node.rec.penalties_of(p, ScoreEvent::ProtocolViolation) == 1);
  CHECK_FALSE(node.sync->peer_view(p)->claim_trusted);
  CHECK(node.tip().height == 0);
  CHECK(node.rec.invalid.empty());
}

// ============================================================ header pool

namespace {
// A node whose header signatures are verified on a pool, the results
// posted back (kept here until the test runs them on its own thread).
struct PooledNode {
  core::util::WorkerPool pool{2};
  std::mutex mutex;
  std::deque<std::function<void(SyncClock::time_point)>> posted;
  Node node;

  PooledNode(Net& net, const std::vector<Block>& blocks) : node(net, blocks) {
    auto hooks = node.rec.hooks();
    hooks.post = [this](std::function<void(SyncClock::time_point)> fn) {
      std::lock_guard lock(mutex);
      posted.push_back(std::move(fn));
    };
    node.sync = std::make_unique<ChainSync>(*node.store, node.metrics, SyncSettings{}, hooks, &pool);
  }
  // Waits (10 s at most) until `n` results are posted, then runs them in order.
  void run_posted(std::size_t n, SyncClock::time_point now) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      {
        std::lock_guard lock(mutex);
        if (posted.size() >= n) break;
      }
      INFO("expected " << n << " verified header answers, have " << posted.size());
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::deque<std::function<void(SyncClock::time_point)>> take;
    {
      std::lock_guard lock(mutex);
      take.swap(posted);
    }
    for (auto& fn : take) fn(now);
  }
};
}  // namespace

TEST_CASE("headers are verified on the pool while the next answer is asked for, and taken in order", "[unit][sync]") {
  QuietLogs quiet;
  Net net;
  const auto blocks = net.chain(net.genesis, 4500);
  Server server(net, blocks);
  PooledNode pooled(net, {});
  auto& node = pooled.node;
  const auto p = peer_id(1);
  node.sync->add_peer(p, server.tip(), t0);
  auto asks = node.rec.of_type<core::p2p::GetHeaders>();
  REQUIRE(asks.size() == 1);

  // The first answer goes to the pool; the second request follows it at once.
  node.sync->on_headers(p, server.sync->headers_for(asks[0].second), t0);
  asks = node.rec.of_type<core::p2p::GetHeaders>();
  REQUIRE(asks.size() == 2);
  CHECK(asks[1].second.locator.front() == blocks[1999].hash());
  CHECK(node.sync->status().pending_headers == 0);  // nothing taken before it is verified

  SECTION("honest answers are taken in order and the chain syncs") {
    node.sync->on_headers(p, server.sync->headers_for(asks[1].second), t0);
    CHECK(node.rec.of_type<core::p2p::GetHeaders>().size() == 2);  // two answers in the pool at most
    pooled.run_posted(2, t0 + milliseconds(5));
    CHECK(node.sync->status().target_height == 4000);
    CHECK(node.rec.penalties.empty());
    Network network{node, {{p, &server}}, {}};
    // The last 500 headers are verified on the pool too: poll until taken.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (node.tip() != server.tip() && std::chrono::steady_clock::now() < deadline) {
      network.deliver(t0 + milliseconds(10));
      pooled.run_posted(0, t0 + milliseconds(10));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    INFO("height " << node.tip().height << " of " << server.tip().height);
    CHECK(node.tip() == server.tip());
    CHECK(node.rec.invalid.empty());
  }
  SECTION("a bad signature in the first answer: it is invalid, and the answer after it is dropped") {
    auto first = server.sync->headers_for(asks[0].second);
    REQUIRE(first.headers.size() == 2000);
    // Replay the first answer with one header's signature broken (a new
    // node, so the honest copy already in the pool does not count).
    PooledNode other(net, {});
    other.node.sync->add_peer(p, server.tip(), t0);
    first.headers[1499].signature.bytes[3] ^= 0x08;
    other.node.sync->on_headers(p, first, t0);
    const auto other_asks = other.node.rec.of_type<core::p2p::GetHeaders>();
    REQUIRE(other_asks.size() == 2);
    other.node.sync->on_headers(p, server.sync->headers_for(other_asks[1].second), t0);
    other.run_posted(2, t0 + milliseconds(5));
    REQUIRE(other.node.rec.invalid.size() == 1);
    CHECK(other.node.rec.invalid[0].error.fault == BlockFault::BadSignature);
    CHECK(other.node.sync->status().pending_headers == 1499);
    CHECK(other.node.sync->status().target_height == 1499);
  }
}
