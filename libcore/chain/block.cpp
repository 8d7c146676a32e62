#include "libcore/chain/block.hpp"

#include "libcore/codec/field_reader.hpp"
#include "libcore/crypto/hash.hpp"

namespace core::chain {

namespace {
constexpr std::size_t kMinTxSize = 1 + 32 + 8 + 8 + 4;
// The names errors carry: "block header: <field>: ..." and "block body: ...".
constexpr std::string_view kHeaderRecord = "block header";
constexpr std::string_view kBodyRecord = "block body";

void encode_unsigned(codec::Writer& w, const BlockHeader& h) {
  w.u32(h.version).u64(h.height).fixed(h.parent).u64(h.slot).i64(h.timestamp_ms);
  w.fixed(h.producer).fixed(h.tx_root);
}

void read_header(codec::FieldReader& in, BlockHeader& h) {
  in.u32("version", h.version).u64("height", h.height).fixed("parent", h.parent).u64("slot", h.slot);
  in.i64("timestamp", h.timestamp_ms).fixed("producer", h.producer).fixed("tx_root", h.tx_root);
  in.fixed("signature", h.signature);
}

// Transaction `index` of a body. Its kind is checked as a rule that names the
// transaction: "block body: transaction 2 has unknown kind 9".
void read_transaction(codec::FieldReader& in, std::uint32_t index, Transaction& tx) {
  std::uint8_t kind = 0;
  in.u8("transaction kind", kind).check([&]() -> util::Result<void> {
    if (kind == static_cast<std::uint8_t>(TxKind::Coinbase)) return {};
    return util::fail("transaction " + std::to_string(index) + " has unknown kind " + std::to_string(kind));
  });
  tx.kind = static_cast<TxKind>(kind);
  in.fixed("transaction to", tx.to).u64("transaction amount", tx.amount).u64("transaction height", tx.height);
  in.bytes("transaction memo", tx.memo, kMaxMemo);
}
}  // namespace

codec::Bytes BlockHeader::signing_bytes() const {
  codec::Writer w;
  encode_unsigned(w, *this);
  return w.take();
}

crypto::Hash32 BlockHeader::hash() const { return crypto::blake2b256(encode(*this)); }

void encode(codec::Writer& w, const BlockHeader& h) {
  encode_unsigned(w, h);
  w.fixed(h.signature);
}

void encode(codec::Writer& w, const Transaction& tx) {
  w.u8(static_cast<std::uint8_t>(tx.kind)).fixed(tx.to).u64(tx.amount).u64(tx.height).bytes(tx.memo);
}

codec::Bytes encode(const BlockHeader& h) {
  codec::Writer w;
  encode(w, h);
  return w.take();
}

codec::Bytes encode(const Block& b) {
  codec::Writer w;
  encode(w, b.header);
  w.u32(static_cast<std::uint32_t>(b.transactions.size()));
  for (const auto& tx : b.transactions) encode(w, tx);
  return w.take();
}

util::Result<BlockHeader> decode_header(codec::Reader& r) {
  codec::FieldReader in(r, kHeaderRecord);
  BlockHeader h;
  read_header(in, h);
  return in.result(h);
}

util::Result<BlockHeader> decode_header(std::span<const std::uint8_t> bytes) {
  codec::FieldReader in(bytes, kHeaderRecord);
  BlockHeader h;
  read_header(in, h);
  return in.finish(h);
}

util::Result<Block> decode_block(std::span<const std::uint8_t> bytes) {
  // Header and body are two records over one input, so an error says which
  // part of the block it is in.
  codec::Reader r(bytes);
  auto header = decode_header(r);
  if (!header) return tl::unexpected(header.error());
  Block b{*header, {}};
  codec::FieldReader in(r, kBodyRecord);
  std::uint32_t n = 0;
  in.count("number of transactions", n, kMaxTransactionsPerBlock, kMinTxSize);
  b.transactions.resize(n);
  for (std::uint32_t i = 0; i < n && in.ok(); ++i) read_transaction(in, i, b.transactions[i]);
  return in.finish(std::move(b));
}

crypto::Hash32 transaction_hash(const Transaction& tx) {
  codec::Writer w;
  encode(w, tx);
  return crypto::blake2b256(w.data());
}

crypto::Hash32 transactions_root(std::span<const Transaction> txs) {
  if (txs.empty()) return {};
  std::vector<crypto::Hash32> level;
  level.reserve(txs.size());
  for (const auto& tx : txs) {
    static constexpr std::uint8_t kLeaf = 0x00;
    level.push_back(crypto::Hasher().update(std::span(&kLeaf, 1)).update(transaction_hash(tx).span()).finish());
  }
  while (level.size() > 1) {
    std::vector<crypto::Hash32> next;
    for (std::size_t i = 0; i < level.size(); i += 2) {
      if (i + 1 == level.size()) {
        next.push_back(level[i]);
        continue;
      }
      static constexpr std::uint8_t kNode = 0x01;
      next.push_back(
          crypto::Hasher().update(std::span(&kNode, 1)).update(level[i].span()).update(level[i + 1].span()).finish());
    }
    level = std::move(next);
  }
  return level[0];
}

BlockHeader genesis_header(const GenesisSpec& spec) {
  BlockHeader h;
  h.version = kBlockVersion;
  h.height = 0;
  h.slot = 0;
  h.timestamp_ms = spec.timestamp_ms;
  h.tx_root = crypto::Hasher().update("tnode/genesis/v1").update(encode(spec)).finish();
  return h;
}

Block genesis_block(const GenesisSpec& spec) { return Block{genesis_header(spec), {}}; }

crypto::Hash32 genesis_hash(const GenesisSpec& spec) { return genesis_header(spec).hash(); }

Block make_block(const BlockHeader& parent, std::uint64_t slot, std::int64_t timestamp_ms, const crypto::KeyPair& key) {
  Block b;
  b.header.version = kBlockVersion;
  b.header.height = parent.height + 1;
  b.header.parent = parent.hash();
  b.header.slot = slot;
  b.header.timestamp_ms = timestamp_ms;
  b.header.producer = key.public_key();
  b.transactions.push_back(Transaction{TxKind::Coinbase, key.public_key(), kCoinbaseReward, b.header.height, {}});
  b.header.tx_root = transactions_root(b.transactions);
  b.header.signature = key.sign(kHeaderSignDomain, b.header.signing_bytes());
  return b;
}

}  // namespace core::chain
