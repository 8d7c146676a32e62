#pragma once
// How blocks look in JSON, for `tchain block --json` and the node's
// GET /chain/block/{id} alike, and how a "height or hash" id is looked up.

#include <string_view>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "libcore/chain/block.hpp"
#include "libcore/store/chain_store.hpp"

namespace core::store {

// hash, height, parent, slot, timestamp (RFC 3339), timestamp_ms, producer,
// tx_root, version.
nlohmann::json header_json(const chain::BlockHeader& h);

// header_json plus main_chain, producer_name (from genesis), signature and
// transactions [{hash, kind, to, amount}].
nlohmann::json block_json(const ChainStore& store, const chain::Block& block);

// The genesis name of a producer key, its short hex if it is not a
// masternode, "-" for the zero key.
std::string producer_name(const ChainStore& store, const crypto::PublicKey& key);

enum class BlockIdError { Malformed, NotFound };
struct BlockIdFailure {
  BlockIdError kind;
  std::string message;  // names the id and what is wrong
};

// A decimal height on the main chain, or a 64-hex-digit block hash present
// in the store.
tl::expected<crypto::Hash32, BlockIdFailure> find_block(const ChainStore& store, std::string_view id);

}  // namespace core::store
