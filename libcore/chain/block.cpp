#include "libcore/chain/block.hpp"

#include "libcore/crypto/hash.hpp"

namespace core::chain {

namespace {
constexpr std::size_t kMinTxSize = 1 + 32 + 8 + 8 + 4;

void encode_unsigned(codec::Writer& w, const BlockHeader& h) {
  w.u32(h.version).u64(h.height).fixed(h.parent).u64(h.slot).i64(h.timestamp_ms);
  w.fixed(h.producer).fixed(h.tx_root);
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
  BlockHeader h;
  auto fail = [](const util::Error& e) { return util::fail("block header: " + e.message); };
  auto version = r.u32();
  if (!version) return fail(version.error());
  h.version = *version;
  auto height = r.u64();
  if (!height) return fail(height.error());
  h.height = *height;
  auto parent = r.fixed<32>();
  if (!parent) return fail(parent.error());
  h.parent = *parent;
  auto slot = r.u64();
  if (!slot) return fail(slot.error());
  h.slot = *slot;
  auto ts = r.i64();
  if (!ts) return fail(ts.error());
  h.timestamp_ms = *ts;
  auto producer = r.fixed<32>();
  if (!producer) return fail(producer.error());
  h.producer = *producer;
  auto root = r.fixed<32>();
  if (!root) return fail(root.error());
  h.tx_root = *root;
  auto sig = r.fixed<64>();
  if (!sig) return fail(sig.error());
  h.signature = *sig;
  return h;
}

util::Result<BlockHeader> decode_header(std::span<const std::uint8_t> bytes) {
  codec::Reader r(bytes);
  auto h = decode_header(r);
  if (!h) return h;
  if (auto f = r.finish(); !f) return util::fail("block header: " + f.error().message);
  return h;
}

util::Result<Block> decode_block(std::span<const std::uint8_t> bytes) {
  codec::Reader r(bytes);
  Block b;
  auto header = decode_header(r);
  if (!header) return tl::unexpected(header.error());
  b.header = *header;
  auto fail = [](const util::Error& e) { return util::fail("block body: " + e.message); };
  auto n = r.count(kMaxTransactionsPerBlock, kMinTxSize);
  if (!n) return fail(n.error());
  b.transactions.reserve(*n);
  for (std::uint32_t i = 0; i < *n; ++i) {
    Transaction tx;
    auto kind = r.u8();
    if (!kind) return fail(kind.error());
    if (*kind != static_cast<std::uint8_t>(TxKind::Coinbase))
      return util::fail("block body: transaction " + std::to_string(i) + " has unknown kind " + std::to_string(*kind));
    tx.kind = static_cast<TxKind>(*kind);
    auto to = r.fixed<32>();
    if (!to) return fail(to.error());
    tx.to = *to;
    auto amount = r.u64();
    if (!amount) return fail(amount.error());
    tx.amount = *amount;
    auto height = r.u64();
    if (!height) return fail(height.error());
    tx.height = *height;
    auto memo = r.bytes(kMaxMemo);
    if (!memo) return fail(memo.error());
    tx.memo = std::move(*memo);
    b.transactions.push_back(std::move(tx));
  }
  if (auto f = r.finish(); !f) return fail(f.error());
  return b;
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
