#include "libcore/store/block_json.hpp"

#include <charconv>
#include <string>

#include "libcore/util/time.hpp"

namespace core::store {

nlohmann::json header_json(const chain::BlockHeader& h) {
  return {{"hash", h.hash().hex()},
          {"height", h.height},
          {"parent", h.parent.hex()},
          {"slot", h.slot},
          {"timestamp", util::format_rfc3339(h.timestamp_ms)},
          {"timestamp_ms", h.timestamp_ms},
          {"producer", h.producer.hex()},
          {"tx_root", h.tx_root.hex()},
          {"version", h.version}};
}

std::string producer_name(const ChainStore& store, const crypto::PublicKey& key) {
  for (const auto& mn : store.genesis().masternodes)
    if (mn.pubkey == key) return mn.name;
  return key.is_zero() ? "-" : key.short_hex();
}

nlohmann::json block_json(const ChainStore& store, const chain::Block& block) {
  const auto& h = block.header;
  auto j = header_json(h);
  auto on_main = store.hash_at(h.height);
  j["main_chain"] = on_main && *on_main == block.hash();
  j["producer_name"] = producer_name(store, h.producer);
  j["signature"] = h.signature.hex();
  auto txs = nlohmann::json::array();
  for (const auto& tx : block.transactions)
    txs.push_back({{"hash", chain::transaction_hash(tx).hex()},
                   {"kind", "coinbase"},
                   {"to", tx.to.hex()},
                   {"amount", tx.amount}});
  j["transactions"] = std::move(txs);
  return j;
}

tl::expected<crypto::Hash32, BlockIdFailure> find_block(const ChainStore& store, std::string_view id) {
  std::uint64_t height = 0;
  auto [ptr, ec] = std::from_chars(id.data(), id.data() + id.size(), height);
  if (!id.empty() && ec == std::errc() && ptr == id.data() + id.size()) {
    if (auto hash = store.hash_at(height)) return *hash;
    return tl::unexpected(BlockIdFailure{BlockIdError::NotFound, "no block at height " + std::string(id) + " (tip is " +
                                                                     std::to_string(store.tip().height) + ")"});
  }
  auto parsed = crypto::Hash32::from_hex(id);
  if (!parsed)
    return tl::unexpected(BlockIdFailure{
        BlockIdError::Malformed,
        "'" + std::string(id) + "' is neither a height nor a block hash (" + parsed.error().message + ")"});
  if (!store.has_block(*parsed))
    return tl::unexpected(BlockIdFailure{BlockIdError::NotFound, "block " + parsed->hex() + " is not in the store"});
  return *parsed;
}

}  // namespace core::store
