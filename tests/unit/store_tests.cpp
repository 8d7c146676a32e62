// libcore/store: the RocksDB chain store (open rules, accept, side branches,
// reorganisations), verify_store, and chain files. Every test works in its
// own temporary directory, removed at the end.

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "libcore/chain/block.hpp"
#include "libcore/store/chain_file.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/store/verify.hpp"
#include "libcore/util/worker_pool.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::chain::Block;
using core::chain::BlockFault;
using core::store::AcceptOptions;
using core::store::AcceptStatus;
using core::store::ChainStore;
using core::store::Column;
using core::store::OpenMode;
using core::store::OpenOptions;
using test::error_of;

namespace fs = std::filesystem;

namespace {

std::string key_of(const core::crypto::Hash32& h) { return std::string(reinterpret_cast<const char*>(h.data()), 32); }

// A network of three masternodes whose keys we hold, and a store directory.
struct Fixture {
  test::TempDir dir;
  std::vector<core::crypto::KeyPair> keys = test::keys(3);
  core::chain::GenesisSpec spec = test::make_spec(keys);
  forge::KeyRing ring = test::ring(keys);
  core::chain::BlockHeader genesis = core::chain::genesis_header(spec);
  fs::path path = dir / "chain";

  OpenOptions options(OpenMode mode = OpenMode::ReadWrite, bool with_genesis = true) const {
    OpenOptions o;
    o.path = path;
    o.mode = mode;
    if (with_genesis) o.genesis = spec;
    return o;
  }
  std::unique_ptr<ChainStore> open(OpenMode mode = OpenMode::ReadWrite, bool with_genesis = true) const {
    auto s = ChainStore::open(options(mode, with_genesis));
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s.has_value());
    return std::move(*s);
  }
  std::vector<Block> chain(const core::chain::BlockHeader& parent, std::uint64_t count,
                           std::uint64_t first_slot = 0) const {
    return test::forge_blocks(spec, ring, parent, count, first_slot);
  }
};

core::store::AcceptResult accept(ChainStore& store, const Block& b, const AcceptOptions& options = {}) {
  auto r = store.accept_block(b, options);
  INFO((r ? std::string() : r.error().message()));
  REQUIRE(r.has_value());
  return *r;
}

void extend(ChainStore& store, const std::vector<Block>& blocks) {
  for (const auto& b : blocks) {
    auto r = accept(store, b);
    CHECK(r.status == AcceptStatus::Extended);
    CHECK(r.reorg_depth == 0);
    CHECK(r.tip == core::chain::TipRef{b.header.height, b.hash()});
  }
}

// The whole main index, read raw: height -> hash.
std::map<std::uint64_t, core::crypto::Hash32> main_index(const ChainStore& store) {
  std::map<std::uint64_t, core::crypto::Hash32> out;
  store.for_each_raw(Column::Main, [&](std::string_view k, std::string_view v) {
    auto h = core::store::parse_height_key(k);
    REQUIRE(h.has_value());
    REQUIRE(v.size() == 32);
    out[*h] = core::crypto::Hash32::from_span(std::span(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
    return true;
  });
  return out;
}

// The main chain is exactly genesis followed by `blocks`, with nothing above.
void expect_main_chain(const ChainStore& store, const std::vector<Block>& blocks) {
  const std::uint64_t height = blocks.empty() ? 0 : blocks.back().header.height;
  CHECK(store.tip().height == height);
  CHECK(store.hash_at(0) == store.genesis_hash());
  for (const auto& b : blocks) {
    INFO("height " << b.header.height);
    CHECK(store.hash_at(b.header.height) == b.hash());
  }
  CHECK_FALSE(store.hash_at(height + 1).has_value());
  auto index = main_index(store);
  CHECK(index.size() == height + 1);
  CHECK(index.rbegin()->first == height);
  CHECK_FALSE(store.get_raw(Column::Main, core::store::height_key(height + 1)).has_value());
}

// Two chains from genesis sharing no block: a 3-block main chain and a
// `branch_length`-block branch, chosen so that the main chain wins the tie at
// height 3 and the switch can only happen at height 4.
std::pair<std::vector<Block>, std::vector<Block>> main_and_branch(const Fixture& f, std::size_t branch_length) {
  auto a = f.chain(f.genesis, branch_length, 1);
  auto b = f.chain(f.genesis, branch_length, 100);
  const bool a_wins = a[2].hash() < b[2].hash();
  std::vector<Block> main = a_wins ? a : b;
  std::vector<Block> branch = a_wins ? b : a;
  main.resize(3);
  REQUIRE(main[2].hash() < branch[2].hash());
  return {main, branch};
}

}  // namespace

// ===================================================================== open

TEST_CASE("a store created with a genesis holds the genesis block as tip", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  const auto gh = core::chain::genesis_hash(f.spec);
  CHECK(store->tip() == core::chain::TipRef{0, gh});
  CHECK(store->genesis_hash() == gh);
  CHECK(store->genesis() == f.spec);
  CHECK(store->hash_at(0) == gh);
  CHECK_FALSE(store->hash_at(1).has_value());
  CHECK(store->has_block(gh));
  CHECK(store->header(gh) == f.genesis);
  CHECK(store->block(gh) == core::chain::genesis_block(f.spec));
  CHECK(store->path() == f.path);
  CHECK_FALSE(store->read_only());
  CHECK(store->schedule().producer(1) == f.keys[1].public_key());
  CHECK(fs::exists(f.path / "CURRENT"));
}

TEST_CASE("reopening a store keeps its tip and main chain", "[unit][store]") {
  Fixture f;
  auto blocks = f.chain(f.genesis, 5);
  {
    auto store = f.open();
    extend(*store, blocks);
  }
  {
    auto store = f.open(OpenMode::ReadWrite, /*with_genesis=*/false);
    CHECK(store->tip() == core::chain::TipRef{5, blocks.back().hash()});
    CHECK(store->genesis() == f.spec);
    expect_main_chain(*store, blocks);
    for (const auto& b : blocks) CHECK(store->block(b.hash()) == b);
  }
  auto again = f.open();  // with the same genesis: fine too
  CHECK(again->tip().height == 5);
}

TEST_CASE("opening a store with another genesis fails naming both hashes", "[unit][store]") {
  Fixture f;
  f.open();
  auto other = test::make_spec(f.keys, "othernet");
  auto options = f.options();
  options.genesis = other;
  auto msg = error_of(ChainStore::open(options));
  CHECK_THAT(msg, Contains(f.path.string()));
  CHECK_THAT(msg, Contains(core::chain::genesis_hash(f.spec).hex()));
  CHECK_THAT(msg, Contains(core::chain::genesis_hash(other).hex()));
  CHECK_THAT(msg, Contains("'unittest'"));
  CHECK_THAT(msg, Contains("'othernet'"));
  // The refused open changed nothing.
  CHECK(f.open()->genesis() == f.spec);
}

TEST_CASE("opening a missing store without a genesis fails and creates nothing", "[unit][store]") {
  Fixture f;
  auto msg = error_of(ChainStore::open(f.options(OpenMode::ReadWrite, /*with_genesis=*/false)));
  CHECK_THAT(msg, Contains("no chain store at " + f.path.string()));
  CHECK_THAT(msg, Contains("no genesis"));
  CHECK_FALSE(fs::exists(f.path / "CURRENT"));

  auto no_create = f.options();
  no_create.create_if_missing = false;
  CHECK_THAT(error_of(ChainStore::open(no_create)), Contains("no chain store at " + f.path.string()));
  CHECK_FALSE(fs::exists(f.path / "CURRENT"));

  CHECK_THAT(error_of(ChainStore::open(f.options(OpenMode::ReadOnly, false))),
             Contains("no chain store at " + f.path.string()));
}

TEST_CASE("a second writer on an open store fails with 'in use'", "[unit][store]") {
  Fixture f;
  auto first = f.open();
  auto msg = error_of(ChainStore::open(f.options()));
  CHECK_THAT(msg, Contains("in use"));
  CHECK_THAT(msg, Contains(f.path.string()));
  // The first instance is unharmed and, once closed, the path opens again.
  extend(*first, f.chain(f.genesis, 1));
  first.reset();
  CHECK(f.open()->tip().height == 1);
}

TEST_CASE("a read-only instance works beside the writer and follows it after refresh", "[unit][store]") {
  Fixture f;
  auto writer = f.open();
  auto blocks = f.chain(f.genesis, 3);
  extend(*writer, {blocks[0]});

  auto reader = f.open(OpenMode::ReadOnly, /*with_genesis=*/false);
  CHECK(reader->read_only());
  CHECK(reader->tip() == writer->tip());
  CHECK(reader->genesis() == f.spec);

  extend(*writer, {blocks[1], blocks[2]});
  CHECK(reader->tip().height == 1);  // not yet seen
  reader->refresh();
  CHECK(reader->tip() == core::chain::TipRef{3, blocks[2].hash()});
  expect_main_chain(*reader, blocks);
  CHECK(reader->block(blocks[2].hash()) == blocks[2]);

  CHECK_THROWS_AS(reader->accept_block(f.chain(blocks[2].header, 1)[0]), core::store::StoreFailure);
  CHECK_THROWS_AS(reader->put_raw(Column::Meta, "x", "y"), core::store::StoreFailure);
  // Two readers at once are fine too.
  auto second = f.open(OpenMode::ReadOnly, false);
  CHECK(second->tip().height == 3);
}

TEST_CASE("a store of another schema version is refused", "[unit][store]") {
  Fixture f;
  f.open()->put_raw(Column::Meta, "schema", std::string("\x02\x00\x00\x00", 4));
  CHECK_THAT(error_of(ChainStore::open(f.options())), Contains("has schema version 2, this build reads version 1"));
}

TEST_CASE("a store whose genesis record does not match its hash is refused", "[unit][store]") {
  Fixture f;
  f.open()->put_raw(Column::Meta, "genesis_hash", std::string(32, '\0'));
  CHECK_THAT(error_of(ChainStore::open(f.options(OpenMode::ReadWrite, false))),
             Contains("genesis record does not match its hash"));
}

// =================================================================== accept

TEST_CASE("accepting blocks in order extends the tip", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  auto blocks = f.chain(f.genesis, 6);
  extend(*store, blocks);
  expect_main_chain(*store, blocks);
  for (const auto& b : blocks) {
    CHECK(store->has_block(b.hash()));
    CHECK(store->header(b.hash()) == b.header);
    CHECK(store->block(b.hash()) == b);
  }
}

TEST_CASE("an invalid block is refused and never stored", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  auto blocks = f.chain(f.genesis, 2);
  const auto tip = store->tip();

  Block bad_sig = blocks[0];
  bad_sig.header.signature.bytes[0] ^= 1;
  auto r = store->accept_block(bad_sig);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().fault == BlockFault::BadSignature);
  CHECK_FALSE(store->has_block(bad_sig.hash()));
  CHECK_FALSE(store->header(bad_sig.hash()).has_value());
  CHECK(store->tip() == tip);

  Block bad_coinbase = blocks[0];
  bad_coinbase.transactions[0].amount = 1'000'000;
  auto c = store->accept_block(bad_coinbase);
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().fault == BlockFault::BadCoinbase);
  CHECK_FALSE(store->has_block(bad_coinbase.hash()));

  // The clock is an option: for a node whose clock is far behind, the block is from the future.
  AcceptOptions early;
  early.now_ms = test::kGenesisMs - 10'000;
  auto future = store->accept_block(blocks[0], early);
  REQUIRE_FALSE(future.has_value());
  CHECK(future.error().fault == BlockFault::FromTheFuture);
  CHECK_FALSE(store->has_block(blocks[0].hash()));
  CHECK(store->tip() == tip);
  CHECK(main_index(*store).size() == 1);

  // The good block is still accepted afterwards.
  CHECK(accept(*store, blocks[0]).status == AcceptStatus::Extended);
}

TEST_CASE("a block whose parent is unknown is refused", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  auto blocks = f.chain(f.genesis, 2);
  auto r = store->accept_block(blocks[1]);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().fault == BlockFault::UnknownParent);
  CHECK_THAT(r.error().message(), Contains(blocks[0].hash().short_hex()));
  CHECK_FALSE(store->has_block(blocks[1].hash()));
  CHECK(store->tip().height == 0);
}

TEST_CASE("accepting a known block again is AlreadyKnown and changes nothing", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  auto blocks = f.chain(f.genesis, 2);
  extend(*store, blocks);
  const auto tip = store->tip();
  for (const auto& b : {blocks[0], blocks[1], core::chain::genesis_block(f.spec)}) {
    auto r = accept(*store, b);
    CHECK(r.status == AcceptStatus::AlreadyKnown);
    CHECK(r.tip == tip);
    CHECK(r.reorg_depth == 0);
  }
  CHECK(store->tip() == tip);
  expect_main_chain(*store, blocks);
}

TEST_CASE("a block on a shorter branch is stored but does not become the tip", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  auto main = f.chain(f.genesis, 3);
  extend(*store, main);
  auto side = f.chain(f.genesis, 2, 100);
  for (const auto& b : side) {
    auto r = accept(*store, b);
    CHECK(r.status == AcceptStatus::SideBranch);
    CHECK(r.tip == core::chain::TipRef{3, main.back().hash()});
    CHECK(r.reorg_depth == 0);
    CHECK(store->has_block(b.hash()));
    CHECK(store->block(b.hash()) == b);
  }
  expect_main_chain(*store, main);
}

TEST_CASE("a longer branch from genesis reorganises the main chain", "[unit][store]") {
  Fixture f;
  auto [x, y] = main_and_branch(f, 4);
  auto store = f.open();
  extend(*store, x);
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("branch block " << i);
    CHECK(accept(*store, y[i]).status == AcceptStatus::SideBranch);
  }
  expect_main_chain(*store, x);
  auto r = accept(*store, y[3]);
  CHECK(r.status == AcceptStatus::Reorganized);
  CHECK(r.reorg_depth == 3);
  CHECK(r.tip == core::chain::TipRef{4, y[3].hash()});
  CHECK(store->tip() == r.tip);
  expect_main_chain(*store, y);
  // The old branch stays stored.
  for (const auto& b : x) CHECK(store->has_block(b.hash()));
  CHECK(core::store::verify_store(*store).ok());

  // The switch is durable.
  store.reset();
  auto reopened = f.open();
  expect_main_chain(*reopened, y);
}

TEST_CASE("a reorg from a fork above genesis reports the blocks it undoes", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  auto main = f.chain(f.genesis, 4);  // heights 1..4
  extend(*store, main);
  auto branch = f.chain(main[0].header, 4, 200);  // heights 2..5, forking after height 1
  CHECK(accept(*store, branch[0]).status == AcceptStatus::SideBranch);
  CHECK(accept(*store, branch[1]).status == AcceptStatus::SideBranch);
  // Height 4 ties with the tip: the smaller hash decides.
  auto tie = accept(*store, branch[2]);
  auto last = accept(*store, branch[3]);
  if (branch[2].hash() < main[3].hash()) {
    CHECK(tie.status == AcceptStatus::Reorganized);
    CHECK(tie.reorg_depth == 3);
    CHECK(last.status == AcceptStatus::Extended);
    CHECK(last.reorg_depth == 0);
  } else {
    CHECK(tie.status == AcceptStatus::SideBranch);
    CHECK(last.status == AcceptStatus::Reorganized);
    CHECK(last.reorg_depth == 3);
  }
  std::vector<Block> expected{main[0]};
  expected.insert(expected.end(), branch.begin(), branch.end());
  expect_main_chain(*store, expected);
  CHECK(core::store::verify_store(*store).ok());
}

TEST_CASE("at equal height the smaller hash wins, whatever the arrival order", "[unit][store]") {
  Fixture f;
  auto a = f.chain(f.genesis, 1)[0];
  auto b = f.chain(f.genesis, 1, 50)[0];
  REQUIRE(a.hash() != b.hash());
  const auto& smaller = a.hash() < b.hash() ? a : b;
  const auto& larger = a.hash() < b.hash() ? b : a;

  auto options = f.options();
  options.path = f.dir / "larger-first";
  auto s1 = std::move(ChainStore::open(options).value());
  options.path = f.dir / "smaller-first";
  auto s2 = std::move(ChainStore::open(options).value());

  CHECK(accept(*s1, larger).status == AcceptStatus::Extended);
  auto switched = accept(*s1, smaller);
  CHECK(switched.status == AcceptStatus::Reorganized);
  CHECK(switched.reorg_depth == 1);

  CHECK(accept(*s2, smaller).status == AcceptStatus::Extended);
  CHECK(accept(*s2, larger).status == AcceptStatus::SideBranch);

  for (auto* s : {s1.get(), s2.get()}) {
    CHECK(s->tip() == core::chain::TipRef{1, smaller.hash()});
    expect_main_chain(*s, {smaller});
    CHECK(s->has_block(larger.hash()));
  }
}

TEST_CASE("after a reorg no main-index entry remains above the new tip", "[unit][store]") {
  // Fork choice never moves the tip down, so the new tip is never shorter;
  // what must hold is that the main index ends exactly at the tip after each
  // switch, with every entry on the new branch.
  Fixture f;
  auto store = f.open();
  auto main = f.chain(f.genesis, 5);
  extend(*store, main);
  auto branch = f.chain(main[1].header, 5, 300);  // heights 3..7
  for (const auto& b : branch) {
    accept(*store, b);
    auto index = main_index(*store);
    INFO("after height " << b.header.height);
    CHECK(index.size() == store->tip().height + 1);
    CHECK(index.rbegin()->first == store->tip().height);
    CHECK(index.at(store->tip().height) == store->tip().hash);
  }
  std::vector<Block> expected{main[0], main[1]};
  expected.insert(expected.end(), branch.begin(), branch.end());
  expect_main_chain(*store, expected);
}

TEST_CASE("a reorg deeper than max_reorg_depth is refused and keeps the tip", "[unit][store]") {
  Fixture f;
  auto [x, y] = main_and_branch(f, 5);
  auto store = f.open();
  extend(*store, x);
  for (std::size_t i = 0; i < 3; ++i) CHECK(accept(*store, y[i]).status == AcceptStatus::SideBranch);

  AcceptOptions shallow;
  shallow.max_reorg_depth = 2;
  auto r = accept(*store, y[3], shallow);
  CHECK(r.status == AcceptStatus::ReorgTooDeep);
  CHECK(r.reorg_depth == 3);
  CHECK(r.tip == core::chain::TipRef{3, x[2].hash()});
  CHECK(store->tip() == r.tip);
  CHECK(store->has_block(y[3].hash()));  // stored, not applied
  expect_main_chain(*store, x);

  // A limit equal to the depth allows the switch.
  AcceptOptions exact;
  exact.max_reorg_depth = 3;
  auto ok = accept(*store, y[4], exact);
  CHECK(ok.status == AcceptStatus::Reorganized);
  CHECK(ok.reorg_depth == 3);
  expect_main_chain(*store, y);
}

TEST_CASE("status and column names are stable", "[unit][store]") {
  using core::store::to_string;
  CHECK(std::string(to_string(AcceptStatus::Extended)) == "extended");
  CHECK(std::string(to_string(AcceptStatus::Reorganized)) == "reorganized");
  CHECK(std::string(to_string(AcceptStatus::SideBranch)) == "side_branch");
  CHECK(std::string(to_string(AcceptStatus::ReorgTooDeep)) == "reorg_too_deep");
  CHECK(std::string(to_string(AcceptStatus::AlreadyKnown)) == "already_known");
  CHECK(std::string(to_string(Column::Blocks)) == "blocks");
  CHECK(std::string(to_string(Column::Headers)) == "headers");
  CHECK(std::string(to_string(Column::Main)) == "main");
  CHECK(std::string(to_string(Column::Meta)) == "meta");
  CHECK(std::string(to_string(Column::Peers)) == "peers");
  CHECK(std::string(to_string(Column::Bans)) == "bans");
}

TEST_CASE("height keys are big-endian so they sort by height", "[unit][store]") {
  using core::store::height_key;
  using core::store::parse_height_key;
  CHECK(height_key(0) == std::string(8, '\0'));
  CHECK(height_key(0x0102030405060708ull) == std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  CHECK(height_key(255) < height_key(256));
  CHECK(height_key(65535) < height_key(1ull << 40));
  for (std::uint64_t h : {0ull, 1ull, 255ull, 256ull, 1ull << 32, 0xffffffffffffffffull})
    CHECK(parse_height_key(height_key(h)) == h);
  CHECK_FALSE(parse_height_key("").has_value());
  CHECK_FALSE(parse_height_key(std::string(7, '\0')).has_value());
  CHECK_FALSE(parse_height_key(std::string(9, '\0')).has_value());
}

// =================================================================== verify

TEST_CASE("verify_store passes on a good store", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  extend(*store, f.chain(f.genesis, 5));
  extend(*store, {});
  accept(*store, f.chain(f.genesis, 1, 100)[0]);  // a side branch is fine
  std::vector<std::pair<std::uint64_t, std::uint64_t>> progress;
  auto report = core::store::verify_store(
      *store, [&](std::uint64_t done, std::uint64_t total) { progress.emplace_back(done, total); });
  INFO((report.fault ? report.fault->reason : ""));
  CHECK(report.ok());
  CHECK(report.blocks_checked == 6);
  CHECK(report.tip == store->tip());
  REQUIRE_FALSE(progress.empty());
  CHECK(progress.back() == std::pair<std::uint64_t, std::uint64_t>{5, 5});

  auto fresh = Fixture();
  auto empty = fresh.open();
  auto genesis_only = core::store::verify_store(*empty);
  CHECK(genesis_only.ok());
  CHECK(genesis_only.blocks_checked == 1);
}

TEST_CASE("verify_store reports the height of a damaged block", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  auto blocks = f.chain(f.genesis, 5);
  extend(*store, blocks);
  const auto& target = blocks[2];  // height 3
  const auto key = key_of(target.hash());
  auto raw = store->get_raw(Column::Blocks, key).value();
  REQUIRE(raw.size() == core::chain::encode(target).size());

  std::string expect_reason;
  SECTION("a header byte of the stored block") {
    raw[raw.size() / 2] = static_cast<char>(raw[raw.size() / 2] ^ 0x01);
    store->put_raw(Column::Blocks, key, raw);
    expect_reason = "stored bytes altered";
  }
  SECTION("the coinbase amount of the stored block") {
    const std::size_t amount_at = core::chain::kHeaderSize + 4 + 1 + 32;
    raw[amount_at] = static_cast<char>(raw[amount_at] ^ 0x01);
    store->put_raw(Column::Blocks, key, raw);
    expect_reason = "bad_coinbase";
  }
  SECTION("a truncated stored block") {
    raw.resize(raw.size() - 3);
    store->put_raw(Column::Blocks, key, raw);
    expect_reason = "block does not decode";
  }
  SECTION("the stored header's signature") {
    auto header = store->get_raw(Column::Headers, key).value();
    header[header.size() - 1] = static_cast<char>(header.back() ^ 0x01);
    store->put_raw(Column::Headers, key, header);
    expect_reason = "stored bytes altered";
  }
  auto report = core::store::verify_store(*store);
  REQUIRE_FALSE(report.ok());
  CHECK(report.fault->height == 3);
  CHECK(report.fault->hash == target.hash().hex());
  CHECK_THAT(report.fault->reason, Contains(expect_reason));
  CHECK(report.blocks_checked == 3);  // genesis, 1, 2
}

TEST_CASE("verify_store reports main-index entries above the tip", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  extend(*store, f.chain(f.genesis, 2));
  store->put_raw(Column::Main, core::store::height_key(3), key_of(store->tip().hash));
  auto report = core::store::verify_store(*store);
  REQUIRE_FALSE(report.ok());
  CHECK(report.fault->height == 3);
  CHECK_THAT(report.fault->reason, Contains("main index has entries above the tip"));
}

TEST_CASE("verify_store reports a hole in the main index", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  auto blocks = f.chain(f.genesis, 3);
  extend(*store, blocks);
  // Point height 2 at the block of height 1.
  store->put_raw(Column::Main, core::store::height_key(2), key_of(blocks[0].hash()));
  auto report = core::store::verify_store(*store);
  REQUIRE_FALSE(report.ok());
  CHECK(report.fault->height == 2);
  CHECK(report.fault->hash == blocks[0].hash().hex());
}

TEST_CASE("verify_store with a pool finds the lowest fault across batches", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  auto blocks = f.chain(f.genesis, 1100);  // more than one verify batch (1024)
  REQUIRE(store->accept_blocks(blocks).results.size() == blocks.size());
  core::util::WorkerPool pool(2);
  auto good = core::store::verify_store(*store, {}, 2000, &pool);
  CHECK(good.ok());
  CHECK(good.blocks_checked == 1101);

  // A block re-signed badly and indexed at its height: its signature is the
  // first fault (its child no longer links, one height later).
  const std::size_t at = GENERATE(std::size_t{2}, std::size_t{1050});
  INFO("height " << at + 1);
  Block bad = blocks[at];
  bad.header.signature.bytes[5] ^= 0x40;
  const auto bad_key = key_of(bad.hash());
  const auto encoded = core::chain::encode(bad);
  const auto header = core::chain::encode(bad.header);
  store->put_raw(Column::Blocks, bad_key, std::string(encoded.begin(), encoded.end()));
  store->put_raw(Column::Headers, bad_key, std::string(header.begin(), header.end()));
  store->put_raw(Column::Main, core::store::height_key(at + 1), bad_key);
  for (auto* p : {static_cast<core::util::WorkerPool*>(nullptr), &pool}) {
    auto report = core::store::verify_store(*store, {}, 2000, p);
    REQUIRE_FALSE(report.ok());
    CHECK(report.fault->height == at + 1);
    CHECK_THAT(report.fault->reason, Contains("bad_signature"));
    CHECK(report.blocks_checked == at + 1);
  }
}

// ============================================================ batch accept

TEST_CASE("accept_blocks stores a long run in batches, the tip always a whole block", "[unit][store]") {
  Fixture f;
  auto blocks = f.chain(f.genesis, core::store::kMaxBlocksPerBatch + 44);
  {
    auto store = f.open();
    const std::vector<char> checked(blocks.size(), 1);
    auto r = store->accept_blocks(blocks, {}, checked);
    CHECK_FALSE(r.error.has_value());
    REQUIRE(r.results.size() == blocks.size());
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      CHECK(r.results[i].status == AcceptStatus::Extended);
      CHECK(r.results[i].tip == core::chain::TipRef{blocks[i].header.height, blocks[i].hash()});
    }
    expect_main_chain(*store, blocks);
    // Again: every block is known, nothing changes.
    auto again = store->accept_blocks(blocks);
    REQUIRE(again.results.size() == blocks.size());
    for (const auto& a : again.results) CHECK(a.status == AcceptStatus::AlreadyKnown);
  }
  auto reopened = f.open();
  expect_main_chain(*reopened, blocks);
  CHECK(core::store::verify_store(*reopened).ok());
}

TEST_CASE("accept_blocks stops at the first invalid block and keeps those before it", "[unit][store]") {
  Fixture f;
  auto store = f.open();
  auto blocks = f.chain(f.genesis, 10);
  std::vector<char> checked(blocks.size(), 0);
  BlockFault expect{};
  SECTION("a bad signature, not prechecked") {
    blocks[6].header.signature.bytes[0] ^= 1;
    expect = BlockFault::BadSignature;
  }
  SECTION("a bad body, not prechecked") {
    blocks[6].transactions[0].amount += 1;
    expect = BlockFault::BadCoinbase;
  }
  SECTION("prechecked blocks still meet the rules against their parent") {
    std::fill(checked.begin(), checked.end(), 1);
    blocks[6].header.height += 1;
    expect = BlockFault::BadHeight;
  }
  auto r = store->accept_blocks(blocks, {}, checked);
  REQUIRE(r.error.has_value());
  CHECK(r.error->fault == expect);
  REQUIRE(r.results.size() == 6);
  expect_main_chain(*store, std::vector<Block>(blocks.begin(), blocks.begin() + 6));
  CHECK_FALSE(store->has_block(blocks[6].hash()));
  CHECK_FALSE(store->has_block(blocks[7].hash()));
}

TEST_CASE("accept_blocks gives the same results as accept_block one by one, across a reorganisation", "[unit][store]") {
  Fixture f;
  auto [main, branch] = main_and_branch(f, 6);
  std::vector<Block> all = main;
  all.insert(all.end(), branch.begin(), branch.end());

  Fixture g;  // the same keys and genesis, another directory
  g.keys = f.keys;
  g.spec = f.spec;
  g.ring = f.ring;
  g.genesis = f.genesis;
  auto one_by_one = g.open();
  std::vector<core::store::AcceptResult> expected;
  for (const auto& b : all) expected.push_back(accept(*one_by_one, b));

  auto store = f.open();
  auto r = store->accept_blocks(all);
  CHECK_FALSE(r.error.has_value());
  REQUIRE(r.results.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("block " << i);
    CHECK(r.results[i].status == expected[i].status);
    CHECK(r.results[i].tip == expected[i].tip);
    CHECK(r.results[i].reorg_depth == expected[i].reorg_depth);
  }
  CHECK(store->tip() == one_by_one->tip());
  CHECK(main_index(*store) == main_index(*one_by_one));
}

// =============================================================== chain files

namespace {
fs::path write_chain_file(const Fixture& f, const std::vector<Block>& blocks, const std::string& name = "chain.tnc") {
  auto path = f.dir / name;
  auto w = core::store::ChainFileWriter::create(path, f.spec);
  REQUIRE(w.has_value());
  for (const auto& b : blocks) REQUIRE(w->append(b).has_value());
  REQUIRE(w->finish().has_value());
  return path;
}

// Reads every block; returns the blocks and the error that stopped the read, if any.
std::pair<std::vector<Block>, std::string> read_all(core::store::ChainFileReader& r) {
  std::vector<Block> out;
  for (;;) {
    auto next = r.next();
    if (!next) return {out, next.error().message};
    if (!*next) return {out, ""};
    out.push_back(**next);
    REQUIRE(out.size() < 1000);
  }
}
}  // namespace

TEST_CASE("a chain file reads back the genesis and the blocks written", "[unit][store]") {
  Fixture f;
  auto blocks = f.chain(f.genesis, 4);
  auto path = write_chain_file(f, blocks);
  auto reader = core::store::ChainFileReader::open(path);
  REQUIRE(reader.has_value());
  CHECK(reader->genesis() == f.spec);
  auto [read, error] = read_all(*reader);
  CHECK(error.empty());
  CHECK(read == blocks);

  auto empty_path = write_chain_file(f, {}, "empty.tnc");
  auto empty = core::store::ChainFileReader::open(empty_path);
  REQUIRE(empty.has_value());
  auto [none, empty_error] = read_all(*empty);
  CHECK(empty_error.empty());
  CHECK(none.empty());
}

TEST_CASE("a chain file cut anywhere is reported as truncated, earlier blocks intact", "[unit][store]") {
  Fixture f;
  auto blocks = f.chain(f.genesis, 3);
  auto path = write_chain_file(f, blocks);
  const auto full = test::read_text(path);
  const std::size_t header_end = 8 + 4 + core::chain::encode(f.spec).size();
  // Where each block record ends.
  std::vector<std::size_t> record_end;
  std::size_t at = header_end;
  for (const auto& b : blocks) record_end.push_back(at += 4 + core::chain::encode(b).size());
  REQUIRE(full.size() == at + 12);

  auto cut_path = f.dir / "cut.tnc";
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    INFO("cut at " << cut << " of " << full.size());
    test::write_text(cut_path, full.substr(0, cut));
    auto reader = core::store::ChainFileReader::open(cut_path);
    if (cut < header_end) {
      REQUIRE_FALSE(reader.has_value());
      const auto& msg = reader.error().message;
      if (cut < 8)
        CHECK_THAT(msg, Contains("bad magic"));
      else if (cut < 12)
        CHECK_THAT(msg, Contains("bad genesis record length"));
      else
        CHECK_THAT(msg, Contains("truncated genesis record"));
      continue;
    }
    REQUIRE(reader.has_value());
    auto [read, error] = read_all(*reader);
    std::size_t complete = 0;
    while (complete < record_end.size() && record_end[complete] <= cut) ++complete;
    CHECK(read.size() == complete);
    CHECK(std::equal(read.begin(), read.end(), blocks.begin()));
    CHECK_THAT(error, Contains("truncated"));
    CHECK_THAT(error, Contains(cut_path.string()));
  }
}

TEST_CASE("a file with a bad magic is not a chain file", "[unit][store]") {
  Fixture f;
  auto path = write_chain_file(f, f.chain(f.genesis, 1));
  auto bytes = test::read_text(path);
  bytes[0] = 'X';
  test::write_text(path, bytes);
  auto msg = error_of(core::store::ChainFileReader::open(path));
  CHECK_THAT(msg, Contains(path.string()));
  CHECK_THAT(msg, Contains("not a chain file (bad magic)"));
  test::write_text(path, "TNCHAIN2" + bytes.substr(8));
  CHECK_THAT(error_of(core::store::ChainFileReader::open(path)), Contains("bad magic"));
  CHECK_THAT(error_of(core::store::ChainFileReader::open(f.dir / "absent.tnc")), Contains("cannot open"));
}

TEST_CASE("a chain file whose end marker miscounts or whose records are bad is refused", "[unit][store]") {
  Fixture f;
  auto blocks = f.chain(f.genesis, 2);
  auto path = write_chain_file(f, blocks);
  const auto full = test::read_text(path);
  const std::size_t header_end = 8 + 4 + core::chain::encode(f.spec).size();

  SECTION("end marker counts a different number of blocks") {
    auto bytes = full;
    bytes[bytes.size() - 8] = 3;
    test::write_text(path, bytes);
    auto reader = core::store::ChainFileReader::open(path);
    REQUIRE(reader.has_value());
    auto [read, error] = read_all(*reader);
    CHECK(read.size() == 2);
    CHECK_THAT(error, Contains("end marker counts 3 blocks, file has 2"));
  }
  SECTION("a record length over the limit") {
    auto bytes = full;
    bytes.replace(header_end, 4, std::string("\x00\x00\x00\x7f", 4));
    test::write_text(path, bytes);
    auto reader = core::store::ChainFileReader::open(path);
    REQUIRE(reader.has_value());
    auto [read, error] = read_all(*reader);
    CHECK(read.empty());
    CHECK_THAT(error, Contains("record 1: block length"));
    CHECK_THAT(error, Contains("exceeds the limit"));
  }
  SECTION("a record that does not decode") {
    auto bytes = full;
    const std::size_t second_kind =
        header_end + 4 + core::chain::encode(blocks[0]).size() + 4 + core::chain::kHeaderSize + 4;
    bytes[second_kind] = 9;
    test::write_text(path, bytes);
    auto reader = core::store::ChainFileReader::open(path);
    REQUIRE(reader.has_value());
    auto [read, error] = read_all(*reader);
    CHECK(read.size() == 1);
    CHECK_THAT(error, Contains("record 2: block body: transaction 0 has unknown kind 9"));
  }
  SECTION("a genesis record that does not decode") {
    auto bytes = full;
    bytes[12] = 2;  // genesis encoding version
    test::write_text(path, bytes);
    CHECK_THAT(error_of(core::store::ChainFileReader::open(path)), Contains("unknown version 2"));
  }
}
