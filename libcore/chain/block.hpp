#pragma once
// Blocks, headers and their canonical encodings.
//
// Header: version, height, parent hash, slot, timestamp (ms), producer id,
// transactions root, producer signature over the header's other fields.
// Body: a coinbase paying the producer, then transactions.
// A header's hash is BLAKE2b-256 over its full encoding, signature included.

#include <cstdint>
#include <span>
#include <vector>

#include "libcore/chain/genesis.hpp"
#include "libcore/codec/codec.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/crypto/types.hpp"

namespace core::chain {

inline constexpr std::uint32_t kBlockVersion = 1;
inline constexpr std::uint32_t kMaxTransactionsPerBlock = 10'000;
inline constexpr std::size_t kMaxMemo = 256;
// What a coinbase pays the block's producer.
inline constexpr std::uint64_t kCoinbaseReward = 50;
inline constexpr std::size_t kHeaderSize = 4 + 8 + 32 + 8 + 8 + 32 + 32 + 64;
// Domain string of block-header signatures.
inline constexpr std::string_view kHeaderSignDomain = "tnode/block-header/v1";

enum class TxKind : std::uint8_t { Coinbase = 0 };

struct Transaction {
  TxKind kind = TxKind::Coinbase;
  crypto::PublicKey to;
  std::uint64_t amount = 0;
  std::uint64_t height = 0;  // coinbase: the block height, so every coinbase is unique
  codec::Bytes memo;
  friend bool operator==(const Transaction&, const Transaction&) = default;
};

struct BlockHeader {
  std::uint32_t version = kBlockVersion;
  std::uint64_t height = 0;
  crypto::Hash32 parent;
  std::uint64_t slot = 0;
  std::int64_t timestamp_ms = 0;
  crypto::PublicKey producer;
  crypto::Hash32 tx_root;
  crypto::Signature signature;

  // The bytes the producer signs: every field but the signature.
  codec::Bytes signing_bytes() const;
  crypto::Hash32 hash() const;
  friend bool operator==(const BlockHeader&, const BlockHeader&) = default;
};

struct Block {
  BlockHeader header;
  std::vector<Transaction> transactions;
  crypto::Hash32 hash() const { return header.hash(); }
  friend bool operator==(const Block&, const Block&) = default;
};

void encode(codec::Writer& w, const BlockHeader& h);
void encode(codec::Writer& w, const Transaction& tx);
codec::Bytes encode(const BlockHeader& h);
codec::Bytes encode(const Block& b);

// Strict decoders: bounded counts and lengths, no trailing bytes. Errors name
// the part and the field (codec::FieldReader): "block header: slot: ...",
// "block body: transaction memo: ...", "block body: transaction 0 has
// unknown kind 9". The Reader overload reads a header inside a longer input
// and leaves what follows to the caller.
util::Result<BlockHeader> decode_header(codec::Reader& r);
util::Result<BlockHeader> decode_header(std::span<const std::uint8_t> bytes);
util::Result<Block> decode_block(std::span<const std::uint8_t> bytes);

crypto::Hash32 transaction_hash(const Transaction& tx);
// Binary Merkle root of the transaction hashes with domain-separated leaves
// and inner nodes (an odd node is carried up, never duplicated). Empty: zero.
crypto::Hash32 transactions_root(std::span<const Transaction> txs);

// The genesis block is fully determined by the spec: height 0, zero parent,
// slot 0, the genesis timestamp, no producer, no body, and a tx root that
// commits to the whole canonical spec (masternodes, allocations, timing).
BlockHeader genesis_header(const GenesisSpec& spec);
Block genesis_block(const GenesisSpec& spec);
crypto::Hash32 genesis_hash(const GenesisSpec& spec);

// Builds and signs a block with a single coinbase paying `key`'s owner.
Block make_block(const BlockHeader& parent, std::uint64_t slot, std::int64_t timestamp_ms, const crypto::KeyPair& key);

}  // namespace core::chain
