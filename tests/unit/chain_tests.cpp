// libcore/chain: blocks and their encoding, the slot schedule, the block
// validity rules one by one, and fork choice. (Genesis: genesis_tests.cpp.)

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "libcore/chain/block.hpp"
#include "libcore/chain/fork_choice.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/chain/schedule.hpp"
#include "libcore/chain/validation.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/util/time.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::chain::Block;
using core::chain::BlockFault;
using core::chain::BlockHeader;
using core::chain::Transaction;
using core::chain::TxKind;
using test::error_of;

namespace {

// Three masternodes, 1 s slots, genesis 2026-01-01T00:00:00Z.
struct Net {
  std::vector<core::crypto::KeyPair> keys = test::keys(3);
  core::chain::GenesisSpec spec = test::make_spec(keys);
  core::chain::Schedule schedule{spec};
  BlockHeader genesis = core::chain::genesis_header(spec);

  const core::crypto::KeyPair& producer_of(std::uint64_t slot) const { return keys[slot % keys.size()]; }
  // A valid block in `slot` on top of `parent`, stamped `offset_ms` into the slot.
  Block block(const BlockHeader& parent, std::uint64_t slot, std::int64_t offset_ms = 0) const {
    return core::chain::make_block(parent, slot, schedule.slot_start(slot) + offset_ms, producer_of(slot));
  }
  core::chain::ValidationContext at(core::util::UnixMillis now, std::int64_t drift = 2000) const {
    return core::chain::ValidationContext{schedule, now, drift};
  }
};

void resign(Block& b, const core::crypto::KeyPair& key) {
  b.header.signature = key.sign(core::chain::kHeaderSignDomain, b.header.signing_bytes());
}

// Recomputes the root of a modified body and signs again, so that only the
// body rule under test can fail.
void reseal(Block& b, const core::crypto::KeyPair& key) {
  b.header.tx_root = core::chain::transactions_root(b.transactions);
  resign(b, key);
}

Transaction tx(std::uint8_t to, std::uint64_t amount, std::uint64_t height, core::codec::Bytes memo = {}) {
  return Transaction{TxKind::Coinbase, test::key(to).public_key(), amount, height, std::move(memo)};
}

BlockFault fault_of(const core::chain::BlockCheck& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error().fault;
}

}  // namespace

// =================================================================== blocks

TEST_CASE("make_block builds a signed block with one coinbase", "[unit][chain][block]") {
  Net net;
  auto b = net.block(net.genesis, 4, 123);
  CHECK(b.header.version == core::chain::kBlockVersion);
  CHECK(b.header.height == 1);
  CHECK(b.header.parent == net.genesis.hash());
  CHECK(b.header.slot == 4);
  CHECK(b.header.timestamp_ms == test::kGenesisMs + 4'000 + 123);
  CHECK(b.header.producer == net.keys[1].public_key());
  REQUIRE(b.transactions.size() == 1);
  CHECK(b.transactions[0] == tx(2, core::chain::kCoinbaseReward, 1));
  CHECK(b.header.tx_root == core::chain::transactions_root(b.transactions));
  CHECK(core::crypto::verify(b.header.producer, core::chain::kHeaderSignDomain, b.header.signing_bytes(),
                             b.header.signature));
  CHECK(b.hash() == b.header.hash());
}

TEST_CASE("a header encodes to kHeaderSize bytes and decodes back", "[unit][chain][block]") {
  Net net;
  auto b = net.block(net.genesis, 1);
  auto bytes = core::chain::encode(b.header);
  CHECK(bytes.size() == core::chain::kHeaderSize);
  CHECK(core::chain::decode_header(bytes).value() == b.header);
  const auto signing = b.header.signing_bytes();
  CHECK(signing.size() == core::chain::kHeaderSize - 64);
  CHECK(std::equal(signing.begin(), signing.end(), bytes.begin()));
  CHECK(b.header.hash() == core::crypto::blake2b256(bytes));
  bytes.push_back(0);
  CHECK_THAT(error_of(core::chain::decode_header(bytes)), Contains("block header: 1 unexpected trailing bytes"));
}

TEST_CASE("blocks round-trip through their encoding", "[unit][chain][block]") {
  Net net;
  auto simple = net.block(net.genesis, 1);
  CHECK(core::chain::decode_block(core::chain::encode(simple)).value() == simple);

  Block rich = simple;
  rich.transactions.push_back(tx(7, 1, 99, core::codec::Bytes{1, 2, 3}));
  rich.transactions.push_back(tx(8, UINT64_MAX, UINT64_MAX, core::codec::Bytes(core::chain::kMaxMemo, 0xee)));
  CHECK(core::chain::decode_block(core::chain::encode(rich)).value() == rich);

  Block empty;  // no transactions at all: still a valid encoding
  CHECK(core::chain::decode_block(core::chain::encode(empty)).value() == empty);
  CHECK(core::chain::encode(empty).size() == core::chain::kHeaderSize + 4);

  auto genesis = core::chain::genesis_block(net.spec);
  CHECK(core::chain::decode_block(core::chain::encode(genesis)).value() == genesis);
}

TEST_CASE("decoding any truncation of a block fails", "[unit][chain][block]") {
  Net net;
  Block b = net.block(net.genesis, 1);
  b.transactions.push_back(tx(7, 1, 99, core::codec::Bytes{1, 2, 3}));
  auto bytes = core::chain::encode(b);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    INFO("cut at " << cut << " of " << bytes.size());
    auto r = core::chain::decode_block(std::span(bytes).first(cut));
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message, Contains(cut < core::chain::kHeaderSize ? "block header: " : "block body: "));
  }
  auto header = core::chain::encode(b.header);
  for (std::size_t cut = 0; cut < header.size(); ++cut) {
    INFO("header cut at " << cut);
    CHECK_FALSE(core::chain::decode_header(std::span(header).first(cut)).has_value());
  }
}

TEST_CASE("a block with trailing bytes fails to decode", "[unit][chain][block]") {
  Net net;
  auto bytes = core::chain::encode(net.block(net.genesis, 1));
  bytes.push_back(0);
  CHECK_THAT(error_of(core::chain::decode_block(bytes)), Contains("block body: 1 unexpected trailing bytes"));
}

TEST_CASE("a transaction of unknown kind fails to decode", "[unit][chain][block]") {
  Net net;
  Block b = net.block(net.genesis, 1);
  b.transactions.push_back(tx(7, 1, 1));
  auto bytes = core::chain::encode(b);
  const std::size_t first_kind = core::chain::kHeaderSize + 4;
  const std::size_t second_kind = first_kind + 1 + 32 + 8 + 8 + 4;
  for (std::uint8_t kind : {1, 2, 0x80, 0xff}) {
    auto bad = bytes;
    bad[first_kind] = kind;
    CHECK_THAT(error_of(core::chain::decode_block(bad)),
               Contains("transaction 0 has unknown kind " + std::to_string(kind)));
    bad = bytes;
    bad[second_kind] = kind;
    CHECK_THAT(error_of(core::chain::decode_block(bad)),
               Contains("transaction 1 has unknown kind " + std::to_string(kind)));
  }
}

TEST_CASE("a transaction count over the limit fails to decode", "[unit][chain][block]") {
  Net net;
  auto header = core::chain::encode(net.block(net.genesis, 1).header);
  core::codec::Writer over;
  over.raw(header).u32(core::chain::kMaxTransactionsPerBlock + 1);
  CHECK_THAT(error_of(core::chain::decode_block(over.data())), Contains("count 10001 at offset 188 exceeds the limit"));
  core::codec::Writer huge;
  huge.raw(header).u32(0xffffffffu);
  CHECK_THAT(error_of(core::chain::decode_block(huge.data())), Contains("exceeds the limit of 10000"));
  // Within the limit but more than the bytes left can hold.
  core::codec::Writer unfit;
  unfit.raw(header).u32(2).raw(core::codec::Bytes(53 * 2 - 1, 0));
  CHECK_THAT(error_of(core::chain::decode_block(unfit.data())), Contains("cannot fit"));
}

TEST_CASE("a memo over the limit fails to decode", "[unit][chain][block]") {
  Net net;
  Block b = net.block(net.genesis, 1);
  b.transactions[0].memo = core::codec::Bytes(core::chain::kMaxMemo + 1, 1);
  CHECK_THAT(error_of(core::chain::decode_block(core::chain::encode(b))), Contains("exceeds the limit of 256"));
}

TEST_CASE("block decoding errors name the part of the block and the field", "[unit][chain][block]") {
  Net net;
  Block b = net.block(net.genesis, 1);
  const auto header = core::chain::encode(b.header);
  CHECK(error_of(core::chain::decode_header(std::span(header).first(10))) ==
        "block header: height: truncated input: u64 needs 8 bytes at offset 4, only 6 left");
  CHECK(error_of(core::chain::decode_block(std::span(header).first(150))) ==
        "block header: signature: truncated input: fixed field needs 64 bytes at offset 124, only 26 left");

  auto bytes = core::chain::encode(b);
  CHECK(error_of(core::chain::decode_block(std::span(bytes).first(core::chain::kHeaderSize + 2))) ==
        "block body: number of transactions: truncated input: u32 needs 4 bytes at offset 188, only 2 left");

  // A long first memo leaves room for the count, so a cut inside the second
  // transaction is a short read of its field.
  b.transactions[0].memo = core::codec::Bytes(100, 1);
  b.transactions.push_back(tx(7, 1, 99));
  bytes = core::chain::encode(b);
  const std::size_t second = core::chain::kHeaderSize + 4 + 53 + 100;
  CHECK_THAT(error_of(core::chain::decode_block(std::span(bytes).first(second + 1 + 32 + 8 + 4))),
             Contains("block body: transaction height: truncated input: u64 needs 8 bytes"));

  b.transactions[1].memo = core::codec::Bytes(core::chain::kMaxMemo + 1, 1);
  CHECK_THAT(error_of(core::chain::decode_block(core::chain::encode(b))),
             Contains("block body: transaction memo: length 257 at offset " + std::to_string(second + 1 + 32 + 8 + 8) +
                      " exceeds the limit of 256"));
}

TEST_CASE("transactions_root of 0, 1, 2 and 3 transactions follows the Merkle rule", "[unit][chain][block]") {
  using core::chain::transaction_hash;
  using core::chain::transactions_root;
  using core::crypto::Hash32;
  using core::crypto::Hasher;
  const std::vector<Transaction> txs = {tx(1, 50, 1), tx(2, 50, 1), tx(3, 50, 1)};
  auto leaf = [](const Transaction& t) {
    const std::uint8_t tag = 0x00;
    return Hasher().update(std::span(&tag, 1)).update(transaction_hash(t).span()).finish();
  };
  auto node = [](const Hash32& l, const Hash32& r) {
    const std::uint8_t tag = 0x01;
    return Hasher().update(std::span(&tag, 1)).update(l.span()).update(r.span()).finish();
  };
  auto span = std::span<const Transaction>(txs);
  CHECK(transactions_root({}).is_zero());
  CHECK(transactions_root(span.first(1)) == leaf(txs[0]));
  CHECK(transactions_root(span.first(2)) == node(leaf(txs[0]), leaf(txs[1])));
  // The odd third leaf is carried up, not duplicated.
  CHECK(transactions_root(span) == node(node(leaf(txs[0]), leaf(txs[1])), leaf(txs[2])));

  std::set<Hash32> roots;
  for (std::size_t n = 0; n <= 3; ++n) roots.insert(transactions_root(span.first(n)));
  CHECK(roots.size() == 4);
  // Not the same as duplicating the last leaf.
  std::vector<Transaction> four = {txs[0], txs[1], txs[2], txs[2]};
  CHECK(transactions_root(four) != transactions_root(span));
  // A leaf is not its own transaction hash (domain-separated).
  CHECK(transactions_root(span.first(1)) != transaction_hash(txs[0]));
}

TEST_CASE("transactions_root is order sensitive", "[unit][chain][block]") {
  using core::chain::transactions_root;
  std::vector<Transaction> ab = {tx(1, 50, 1), tx(2, 50, 1)};
  std::vector<Transaction> ba = {ab[1], ab[0]};
  CHECK(transactions_root(ab) != transactions_root(ba));
  std::vector<Transaction> abc = {tx(1, 50, 1), tx(2, 50, 1), tx(3, 50, 1)};
  std::vector<Transaction> acb = {abc[0], abc[2], abc[1]};
  std::vector<Transaction> cab = {abc[2], abc[0], abc[1]};
  CHECK(transactions_root(abc) != transactions_root(acb));
  CHECK(transactions_root(abc) != transactions_root(cab));
  // Every field of a transaction is committed to.
  auto base = transactions_root(abc);
  auto changed = abc;
  changed[2].memo = {0};
  CHECK(transactions_root(changed) != base);
  changed = abc;
  changed[1].amount = 51;
  CHECK(transactions_root(changed) != base);
  changed = abc;
  changed[0].height = 2;
  CHECK(transactions_root(changed) != base);
  changed = abc;
  changed[0].to = test::key(9).public_key();
  CHECK(transactions_root(changed) != base);
}

TEST_CASE("the header hash changes with every field, the signature included", "[unit][chain][block]") {
  Net net;
  const BlockHeader base = net.block(net.genesis, 1).header;
  std::vector<BlockHeader> variants(8, base);
  variants[0].version += 1;
  variants[1].height += 1;
  variants[2].parent.bytes[31] ^= 1;
  variants[3].slot += 1;
  variants[4].timestamp_ms += 1;
  variants[5].producer.bytes[0] ^= 1;
  variants[6].tx_root.bytes[5] ^= 1;
  variants[7].signature.bytes[63] ^= 1;
  std::set<core::crypto::Hash32> hashes{base.hash()};
  for (std::size_t i = 0; i < variants.size(); ++i) {
    INFO("field " << i);
    CHECK(hashes.insert(variants[i].hash()).second);
  }
  // The signature is not part of what is signed.
  CHECK(variants[7].signing_bytes() == base.signing_bytes());
  CHECK(variants[6].signing_bytes() != base.signing_bytes());
}

// ================================================================= schedule

TEST_CASE("slot_at is nullopt before genesis and floor-divides after", "[unit][chain][schedule]") {
  Net net;
  const auto& s = net.schedule;
  const auto g = test::kGenesisMs;
  CHECK_FALSE(s.slot_at(g - 1).has_value());
  CHECK_FALSE(s.slot_at(0).has_value());
  CHECK_FALSE(s.slot_at(std::numeric_limits<std::int64_t>::min()).has_value());
  CHECK(s.slot_at(g) == 0u);
  CHECK(s.slot_at(g + 999) == 0u);
  CHECK(s.slot_at(g + 1000) == 1u);
  CHECK(s.slot_at(g + 1001) == 1u);
  CHECK(s.slot_at(g + 86'400'000) == 86'400u);
  CHECK(s.block_time_ms() == 1000);
}

TEST_CASE("slot boundaries are half-open: start inside, end outside", "[unit][chain][schedule]") {
  auto spec = test::make_spec(test::keys(2), "net", 250, 1'000'000);
  core::chain::Schedule s(spec);
  CHECK(s.slot_start(0) == 1'000'000);
  CHECK(s.slot_end(0) == 1'000'250);
  CHECK(s.slot_start(7) == 1'001'750);
  CHECK(s.slot_end(7) == s.slot_start(8));
  for (std::uint64_t slot : {0u, 1u, 7u, 1000u}) {
    INFO(slot);
    CHECK(s.slot_at(s.slot_start(slot)) == slot);
    CHECK(s.slot_at(s.slot_end(slot) - 1) == slot);
    CHECK(s.slot_at(s.slot_end(slot)) == slot + 1);
  }
}

TEST_CASE("producers rotate in genesis order", "[unit][chain][schedule]") {
  Net net;
  const auto& s = net.schedule;
  CHECK(s.producer(0) == net.keys[0].public_key());
  CHECK(s.producer(1) == net.keys[1].public_key());
  CHECK(s.producer(2) == net.keys[2].public_key());
  CHECK(s.producer(3) == net.keys[0].public_key());
  CHECK(s.producer(1000) == net.keys[1000 % 3].public_key());
  CHECK(s.producer(UINT64_MAX) == net.keys[UINT64_MAX % 3].public_key());
  // Reordering the masternodes reorders the schedule.
  auto spec = net.spec;
  std::reverse(spec.masternodes.begin(), spec.masternodes.end());
  core::chain::Schedule reversed(spec);
  CHECK(reversed.producer(0) == net.keys[2].public_key());
  CHECK(reversed.producer(1) == net.keys[1].public_key());
  CHECK(reversed.producer(2) == net.keys[0].public_key());
  // A single masternode produces every slot.
  core::chain::Schedule solo(test::make_spec(test::keys(1, 40)));
  for (std::uint64_t slot = 0; slot < 5; ++slot) CHECK(solo.producer(slot) == test::key(40).public_key());
}

TEST_CASE("is_masternode knows exactly the genesis keys", "[unit][chain][schedule]") {
  Net net;
  for (const auto& k : net.keys) CHECK(net.schedule.is_masternode(k.public_key()));
  CHECK_FALSE(net.schedule.is_masternode(test::key(50).public_key()));
  CHECK_FALSE(net.schedule.is_masternode(core::crypto::PublicKey{}));
}

// =============================================================== validation

TEST_CASE("a valid block passes every rule", "[unit][chain][validation]") {
  Net net;
  auto b = net.block(net.genesis, 1);
  CHECK(core::chain::check_header(b.header, net.genesis, net.at(b.header.timestamp_ms)).has_value());
  CHECK(core::chain::check_body(b).has_value());
  CHECK(core::chain::check_block(b, net.genesis, net.at(b.header.timestamp_ms)).has_value());
  // Anywhere inside its slot.
  auto late = net.block(net.genesis, 1, 999);
  CHECK(core::chain::check_block(late, net.genesis, net.at(late.header.timestamp_ms)).has_value());
}

TEST_CASE("a forged chain passes block by block at the current time", "[unit][chain][validation]") {
  Net net;
  forge::ForgeOptions options;
  options.count = 20;
  options.first_slot = 0;
  options.skip_every = 4;
  auto blocks = forge::forge_chain(net.spec, test::ring(net.keys), net.genesis, options);
  REQUIRE(blocks.has_value());
  REQUIRE(blocks->size() == 20);
  auto ctx = net.at(core::util::now_ms());
  BlockHeader parent = net.genesis;
  for (const auto& b : *blocks) {
    INFO("height " << b.header.height << " slot " << b.header.slot);
    CHECK(b.header.slot % 4 != 0);
    auto r = core::chain::check_block(b, parent, ctx);
    INFO((r ? "" : r.error().message()));
    CHECK(r.has_value());
    parent = b.header;
  }
  CHECK(parent.height == 20);
}

TEST_CASE("rule: bad version", "[unit][chain][validation]") {
  Net net;
  for (std::uint32_t v : {0u, 2u, 0xffffffffu}) {
    auto b = net.block(net.genesis, 1);
    b.header.version = v;
    resign(b, net.producer_of(1));
    auto r = core::chain::check_block(b, net.genesis, net.at(b.header.timestamp_ms));
    CHECK(fault_of(r) == BlockFault::BadVersion);
    CHECK_THAT(r.error().message(), Contains("bad_version: version " + std::to_string(v)));
  }
}

TEST_CASE("rule: the parent must be the given parent", "[unit][chain][validation]") {
  Net net;
  auto first = net.block(net.genesis, 1);
  auto second = net.block(first.header, 2);
  // Checked against genesis instead of its real parent.
  auto r = core::chain::check_block(second, net.genesis, net.at(second.header.timestamp_ms));
  CHECK(fault_of(r) == BlockFault::UnknownParent);
  CHECK_THAT(r.error().message(), Contains("unknown_parent"));
  // A parent hash that matches nothing.
  auto b = net.block(net.genesis, 1);
  b.header.parent.bytes[0] ^= 0xff;
  resign(b, net.producer_of(1));
  CHECK(fault_of(core::chain::check_block(b, net.genesis, net.at(b.header.timestamp_ms))) == BlockFault::UnknownParent);
}

TEST_CASE("rule: height must be the parent's plus one", "[unit][chain][validation]") {
  Net net;
  for (std::uint64_t h : {0ull, 2ull, 100ull}) {
    auto b = net.block(net.genesis, 1);
    b.header.height = h;
    b.transactions[0].height = h;  // keep the coinbase consistent
    reseal(b, net.producer_of(1));
    auto r = core::chain::check_block(b, net.genesis, net.at(b.header.timestamp_ms));
    CHECK(fault_of(r) == BlockFault::BadHeight);
    CHECK_THAT(r.error().message(), Contains("height " + std::to_string(h) + " on parent at 0"));
  }
}

TEST_CASE("rule: the slot must come after the parent's", "[unit][chain][validation]") {
  Net net;
  auto parent = net.block(net.genesis, 5);
  auto ctx = net.at(net.schedule.slot_start(10));
  REQUIRE(core::chain::check_block(net.block(parent.header, 6), parent.header, ctx).has_value());
  for (std::uint64_t slot : {5u, 4u, 0u}) {
    INFO(slot);
    auto b = net.block(parent.header, slot);
    auto r = core::chain::check_block(b, parent.header, ctx);
    CHECK(fault_of(r) == BlockFault::SlotNotAfterParent);
    CHECK_THAT(r.error().message(), Contains("slot " + std::to_string(slot) + " after parent slot 5"));
  }
  // Slots beyond the bound (where slot times would overflow) are refused too.
  const std::uint64_t huge = (1ull << 40) + 1;
  auto far = core::chain::make_block(parent.header, huge, net.schedule.slot_start(huge), net.producer_of(huge));
  CHECK(fault_of(core::chain::check_block(far, parent.header, net.at(far.header.timestamp_ms))) ==
        BlockFault::SlotNotAfterParent);
}

TEST_CASE("rule: the producer must be the slot's scheduled masternode", "[unit][chain][validation]") {
  Net net;
  // Slot 1 belongs to keys[1]; keys[2] and an outsider sign it instead.
  for (const auto& wrong : {net.keys[2], net.keys[0], test::key(77)}) {
    auto b = core::chain::make_block(net.genesis, 1, net.schedule.slot_start(1), wrong);
    REQUIRE(core::chain::check_body(b).has_value());
    auto r = core::chain::check_block(b, net.genesis, net.at(b.header.timestamp_ms));
    CHECK(fault_of(r) == BlockFault::WrongProducer);
    CHECK_THAT(r.error().message(), Contains("slot 1 belongs to " + net.keys[1].public_key().short_hex()));
  }
}

TEST_CASE("rule: the timestamp must lie inside the slot, on both sides", "[unit][chain][validation]") {
  Net net;
  const auto start = net.schedule.slot_start(3);
  const auto end = net.schedule.slot_end(3);
  auto now = net.at(end + 10'000);
  auto stamped = [&](std::int64_t ts) { return core::chain::make_block(net.genesis, 3, ts, net.producer_of(3)); };
  CHECK(core::chain::check_block(stamped(start), net.genesis, now).has_value());
  CHECK(core::chain::check_block(stamped(end - 1), net.genesis, now).has_value());
  for (std::int64_t ts : {start - 1, start - 1000, end, end + 1, std::int64_t{0}}) {
    INFO(ts);
    auto r = core::chain::check_block(stamped(ts), net.genesis, now);
    CHECK(fault_of(r) == BlockFault::TimestampOutsideSlot);
    CHECK_THAT(r.error().message(), Contains("outside slot 3 [2026-01-01T00:00:03Z, 2026-01-01T00:00:04Z)"));
  }
}

TEST_CASE("rule: a block beyond max_clock_drift in the future is refused, within it accepted",
          "[unit][chain][validation]") {
  Net net;
  auto b = net.block(net.genesis, 10, 500);
  const auto ts = b.header.timestamp_ms;
  // Our clock behind the block's timestamp by exactly the drift: fine.
  CHECK(core::chain::check_block(b, net.genesis, net.at(ts - 2000)).has_value());
  CHECK(core::chain::check_block(b, net.genesis, net.at(ts - 1)).has_value());
  CHECK(core::chain::check_block(b, net.genesis, net.at(ts)).has_value());
  // One millisecond more: from the future.
  auto r = core::chain::check_block(b, net.genesis, net.at(ts - 2001));
  CHECK(fault_of(r) == BlockFault::FromTheFuture);
  CHECK_THAT(r.error().message(), Contains("from_the_future: "));
  CHECK_THAT(r.error().message(), Contains("2001 ms ahead of local time"));
  CHECK(fault_of(core::chain::check_block(b, net.genesis, net.at(ts - 60'000))) == BlockFault::FromTheFuture);
  // More than kFarFutureMs beyond the drift is no clock error: far_future.
  CHECK(fault_of(core::chain::check_block(b, net.genesis, net.at(ts - 2000 - core::chain::kFarFutureMs))) ==
        BlockFault::FromTheFuture);
  CHECK(fault_of(core::chain::check_block(b, net.genesis, net.at(ts - 2001 - core::chain::kFarFutureMs))) ==
        BlockFault::FarFuture);
  // The drift is a setting.
  CHECK(fault_of(core::chain::check_block(b, net.genesis, net.at(ts - 1, 0))) == BlockFault::FromTheFuture);
  CHECK(core::chain::check_block(b, net.genesis, net.at(ts, 0)).has_value());
  CHECK(core::chain::check_block(b, net.genesis, net.at(ts - 10'000, 10'000)).has_value());
  CHECK(fault_of(core::chain::check_block(b, net.genesis, net.at(ts - 10'001, 10'000))) == BlockFault::FromTheFuture);
}

TEST_CASE("rule: the producer signature must verify", "[unit][chain][validation]") {
  Net net;
  const auto& producer = net.producer_of(1);
  auto check = [&](const Block& b) { return core::chain::check_block(b, net.genesis, net.at(b.header.timestamp_ms)); };
  auto flipped = net.block(net.genesis, 1);
  flipped.header.signature.bytes[10] ^= 0x01;
  auto r = check(flipped);
  CHECK(fault_of(r) == BlockFault::BadSignature);
  CHECK_THAT(r.error().message(), Contains("bad_signature"));

  auto zero = net.block(net.genesis, 1);
  zero.header.signature = {};
  CHECK(fault_of(check(zero)) == BlockFault::BadSignature);

  // Signed by someone else while naming the right producer.
  auto impostor = net.block(net.genesis, 1);
  resign(impostor, net.keys[0]);
  CHECK(fault_of(check(impostor)) == BlockFault::BadSignature);

  // Signed under another domain (e.g. a handshake signature replayed).
  auto other_domain = net.block(net.genesis, 1);
  other_domain.header.signature = producer.sign("tnode/handshake/v1", other_domain.header.signing_bytes());
  CHECK(fault_of(check(other_domain)) == BlockFault::BadSignature);

  // A field changed after signing.
  auto edited = net.block(net.genesis, 1, 10);
  edited.header.timestamp_ms += 1;
  CHECK(fault_of(check(edited)) == BlockFault::BadSignature);
}

TEST_CASE("rule: the transactions root must match the body", "[unit][chain][validation]") {
  Net net;
  const auto& producer = net.producer_of(1);
  auto wrong_root = net.block(net.genesis, 1);
  wrong_root.header.tx_root.bytes[0] ^= 0x01;
  resign(wrong_root, producer);
  auto ctx = net.at(wrong_root.header.timestamp_ms);
  REQUIRE(core::chain::check_header(wrong_root.header, net.genesis, ctx).has_value());
  auto r = core::chain::check_block(wrong_root, net.genesis, ctx);
  CHECK(fault_of(r) == BlockFault::BadTxRoot);
  CHECK_THAT(r.error().message(), Contains("bad_tx_root"));

  // A body changed after sealing, in a way the coinbase rules allow.
  auto memo = net.block(net.genesis, 1);
  memo.transactions[0].memo = {1, 2, 3};
  CHECK(fault_of(core::chain::check_block(memo, net.genesis, ctx)) == BlockFault::BadTxRoot);

  auto zero_root = net.block(net.genesis, 1);
  zero_root.header.tx_root = {};
  resign(zero_root, producer);
  CHECK(fault_of(core::chain::check_block(zero_root, net.genesis, ctx)) == BlockFault::BadTxRoot);
}

TEST_CASE("rule: the body must start with the only coinbase, paying the producer", "[unit][chain][validation]") {
  Net net;
  const auto& producer = net.producer_of(1);
  const auto good = net.block(net.genesis, 1);
  auto ctx = net.at(good.header.timestamp_ms);
  auto expect = [&](Block b, const std::string& detail) {
    reseal(b, producer);
    REQUIRE(core::chain::check_header(b.header, net.genesis, ctx).has_value());
    auto r = core::chain::check_block(b, net.genesis, ctx);
    CHECK(fault_of(r) == BlockFault::BadCoinbase);
    CHECK_THAT(r.error().message(), Contains("bad_coinbase: " + detail));
  };
  SECTION("no transactions") {
    Block b = good;
    b.transactions.clear();
    expect(b, "first transaction must be the coinbase");
  }
  SECTION("first transaction is not a coinbase") {
    Block b = good;
    b.transactions[0].kind = static_cast<TxKind>(7);
    expect(b, "first transaction must be the coinbase");
  }
  SECTION("a second coinbase") {
    Block b = good;
    b.transactions.push_back(b.transactions[0]);
    expect(b, "transaction 1 is a second coinbase");
  }
  SECTION("coinbase pays someone else") {
    Block b = good;
    b.transactions[0].to = net.keys[0].public_key();
    expect(b, "coinbase does not pay the producer");
  }
  SECTION("coinbase pays the wrong amount") {
    for (std::uint64_t amount : {std::uint64_t{0}, core::chain::kCoinbaseReward + 1, std::uint64_t{UINT64_MAX}}) {
      Block b = good;
      b.transactions[0].amount = amount;
      expect(b, "coinbase pays " + std::to_string(amount) + ", the reward is 50");
    }
  }
  SECTION("coinbase names another height") {
    Block b = good;
    b.transactions[0].height = 2;
    expect(b, "coinbase height 2 != block height 1");
  }
}

TEST_CASE("every fault has a stable, distinct name", "[unit][chain][validation]") {
  const std::pair<BlockFault, const char*> names[] = {
      {BlockFault::Malformed, "malformed"},
      {BlockFault::BadVersion, "bad_version"},
      {BlockFault::UnknownParent, "unknown_parent"},
      {BlockFault::BadHeight, "bad_height"},
      {BlockFault::SlotNotAfterParent, "slot_not_after_parent"},
      {BlockFault::WrongProducer, "wrong_producer"},
      {BlockFault::TimestampOutsideSlot, "timestamp_outside_slot"},
      {BlockFault::FromTheFuture, "from_the_future"},
      {BlockFault::FarFuture, "far_future"},
      {BlockFault::BadSignature, "bad_signature"},
      {BlockFault::BadTxRoot, "bad_tx_root"},
      {BlockFault::BadCoinbase, "bad_coinbase"},
  };
  std::set<std::string> seen;
  for (auto [fault, name] : names) {
    CHECK(std::string(core::chain::to_string(fault)) == name);
    seen.insert(name);
  }
  CHECK(seen.size() == std::size(names));
  CHECK(core::chain::BlockError{BlockFault::BadHeight, "x y"}.message() == "bad_height: x y");
}

// ============================================================== fork choice

namespace {
core::chain::TipRef tip(std::uint64_t height, std::uint8_t first_byte, std::uint8_t last_byte = 0) {
  core::chain::TipRef t;
  t.height = height;
  t.hash.bytes[0] = first_byte;
  t.hash.bytes[31] = last_byte;
  return t;
}
}  // namespace

TEST_CASE("fork choice: greater height wins whatever the hash", "[unit][chain][fork_choice]") {
  using core::chain::is_better_tip;
  CHECK(is_better_tip(tip(2, 0xff), tip(1, 0x00)));
  CHECK_FALSE(is_better_tip(tip(1, 0x00), tip(2, 0xff)));
  CHECK(is_better_tip(tip(1000, 0xff, 0xff), tip(999, 0)));
  CHECK(is_better_tip(tip(1, 0xff), tip(0, 0)));
}

TEST_CASE("fork choice: at equal height the smaller hash wins", "[unit][chain][fork_choice]") {
  using core::chain::is_better_tip;
  CHECK(is_better_tip(tip(5, 0x01), tip(5, 0x02)));
  CHECK_FALSE(is_better_tip(tip(5, 0x02), tip(5, 0x01)));
  // Compared byte by byte from the first: the first byte decides.
  CHECK(is_better_tip(tip(5, 0x00, 0xff), tip(5, 0x01, 0x00)));
  CHECK(is_better_tip(tip(5, 0x01, 0x00), tip(5, 0x01, 0x01)));
  CHECK_FALSE(is_better_tip(tip(5, 0x01, 0x01), tip(5, 0x01, 0x00)));
}

TEST_CASE("fork choice is irreflexive and a strict total order", "[unit][chain][fork_choice]") {
  using core::chain::is_better_tip;
  std::vector<core::chain::TipRef> tips;
  for (std::uint64_t h = 0; h < 3; ++h)
    for (std::uint8_t a : {0x00, 0x7f, 0xff})
      for (std::uint8_t b : {0x00, 0x01}) tips.push_back(tip(h, a, b));
  for (const auto& a : tips) {
    CHECK_FALSE(is_better_tip(a, a));
    for (const auto& b : tips) {
      if (a == b) continue;
      // Exactly one of two different tips is better.
      CHECK(is_better_tip(a, b) != is_better_tip(b, a));
      for (const auto& c : tips)
        if (is_better_tip(a, b) && is_better_tip(b, c)) CHECK(is_better_tip(a, c));
    }
  }
  // Every node picks the same best tip whatever order it saw them in.
  auto best = [&](std::vector<core::chain::TipRef> order) {
    core::chain::TipRef current = order.front();
    for (const auto& t : order)
      if (is_better_tip(t, current)) current = t;
    return current;
  };
  auto reversed = tips;
  std::reverse(reversed.begin(), reversed.end());
  CHECK(best(tips) == tip(2, 0x00, 0x00));
  CHECK(best(reversed) == tip(2, 0x00, 0x00));
  static_assert(core::chain::is_better_tip({2, {}}, {1, {}}));
}

TEST_CASE("signatures and bodies are checked in bulk, on a pool or not, with the same verdicts", "[unit][chain]") {
  Net net;
  std::vector<Block> blocks;
  BlockHeader parent = net.genesis;
  for (std::uint64_t slot = 1; slot <= 40; ++slot) {
    blocks.push_back(net.block(parent, slot));
    parent = blocks.back().header;
  }
  blocks[3].header.signature.bytes[7] ^= 0x10;  // bad signature
  blocks[17].transactions[0].amount += 1;       // bad body (root no longer matches)
  reseal(blocks[17], net.producer_of(blocks[17].header.slot));
  std::vector<BlockHeader> headers;
  for (const auto& b : blocks) headers.push_back(b.header);

  core::util::WorkerPool pool(2);
  for (auto* p : {static_cast<core::util::WorkerPool*>(nullptr), &pool}) {
    const auto signatures = core::chain::verify_signatures(headers, p);
    const auto checks = core::chain::precheck_blocks(blocks, p);
    REQUIRE(signatures.size() == blocks.size());
    REQUIRE(checks.size() == blocks.size());
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      INFO("block " << i);
      CHECK(bool(signatures[i]) == (i != 3));
      CHECK(checks[i].signature_ok == (i != 3));
      CHECK(checks[i].body.has_value() == (i != 17));
      CHECK(checks[i].ok() == (i != 3 && i != 17));
    }
    CHECK(fault_of(checks[17].body) == BlockFault::BadCoinbase);
  }
  // check_header is its rules, then its signature.
  CHECK(core::chain::check_header_rules(blocks[3].header, blocks[2].header, blocks[2].hash(),
                                        net.at(blocks[3].header.timestamp_ms))
            .has_value());
  CHECK(fault_of(core::chain::check_header(blocks[3].header, blocks[2].header,
                                           net.at(blocks[3].header.timestamp_ms))) == BlockFault::BadSignature);
}
