#include "libcore/store/verify.hpp"

#include "libcore/util/time.hpp"

namespace core::store {

namespace {
std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

VerifyReport verify_store(const ChainStore& store, const std::function<void(std::uint64_t, std::uint64_t)>& progress,
                          std::int64_t max_clock_drift_ms) {
  VerifyReport report;
  report.tip = store.tip();
  const std::uint64_t tip_height = report.tip.height;
  auto fault = [&](std::uint64_t height, std::string hash, std::string reason) {
    report.fault = VerifyFault{height, std::move(hash), std::move(reason)};
    return report;
  };
  chain::ValidationContext ctx{store.schedule(), util::now_ms(), max_clock_drift_ms};

  try {
    // Genesis.
    auto g = store.hash_at(0);
    if (!g) return fault(0, "", "main index has no genesis entry");
    if (*g != store.genesis_hash())
      return fault(0, g->hex(), "main index genesis differs from the store's genesis " + store.genesis_hash().hex());
    auto gh = store.header(*g);
    if (!gh || *gh != chain::genesis_header(store.genesis()))
      return fault(0, g->hex(), "genesis header is missing or does not match the genesis spec");
    ++report.blocks_checked;

    chain::BlockHeader parent = *gh;
    for (std::uint64_t h = 1; h <= tip_height; ++h) {
      auto hash = store.hash_at(h);
      if (!hash)
        return fault(h, "", "main index has no entry at this height (tip is " + std::to_string(tip_height) + ")");
      const std::string hex = hash->hex();
      auto raw_header =
          store.get_raw(Column::Headers, std::string_view(reinterpret_cast<const char*>(hash->data()), 32));
      if (!raw_header) return fault(h, hex, "header missing");
      auto header = chain::decode_header(bytes_of(*raw_header));
      if (!header) return fault(h, hex, "header does not decode: " + header.error().message);
      if (header->hash() != *hash)
        return fault(h, hex, "header hashes to " + header->hash().hex() + " (stored bytes altered)");
      if (header->height != h) return fault(h, hex, "header says height " + std::to_string(header->height));
      auto raw_block = store.get_raw(Column::Blocks, std::string_view(reinterpret_cast<const char*>(hash->data()), 32));
      if (!raw_block) return fault(h, hex, "block body missing");
      auto block = chain::decode_block(bytes_of(*raw_block));
      if (!block) return fault(h, hex, "block does not decode: " + block.error().message);
      if (block->header != *header)
        return fault(h, hex, "block's header differs from the indexed header (stored bytes altered)");
      if (auto r = chain::check_block(*block, parent, ctx); !r) return fault(h, hex, r.error().message());
      parent = *header;
      ++report.blocks_checked;
      if (progress && (h % 1024 == 0)) progress(h, tip_height);
    }
    if (parent.hash() != report.tip.hash)
      return fault(tip_height, report.tip.hash.hex(), "tip record does not match the main index");
    if (store.get_raw(Column::Main, height_key(tip_height + 1)))
      return fault(tip_height + 1, "", "main index has entries above the tip");

    // Every stored header has its block and hashes to its key.
    std::optional<VerifyFault> index_fault;
    store.for_each_raw(Column::Headers, [&](std::string_view key, std::string_view value) {
      auto header = chain::decode_header(bytes_of(value));
      auto key_hex = util::to_hex(bytes_of(key));
      if (!header || key.size() != 32 || header->hash().span().size() != 32 ||
          std::string_view(reinterpret_cast<const char*>(header->hash().data()), 32) != key) {
        index_fault = VerifyFault{header ? header->height : 0, key_hex, "headers index entry does not match its key"};
        return false;
      }
      if (!store.get_raw(Column::Blocks, key)) {
        index_fault = VerifyFault{header->height, key_hex, "header without a block body"};
        return false;
      }
      return true;
    });
    if (index_fault) {
      report.fault = index_fault;
      return report;
    }
  } catch (const StoreFailure& e) {
    return fault(report.blocks_checked, "", e.what());
  }
  if (progress) progress(tip_height, tip_height);
  return report;
}

}  // namespace core::store
