#include "libcore/store/verify.hpp"

#include "libcore/util/time.hpp"

namespace core::store {

namespace {
std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Blocks whose signatures and bodies are checked together on the pool.
constexpr std::uint64_t kVerifyBatch = 1024;

// The main-chain block at `h`, read through the indexes, with the checks
// that need no parent: the index entry, the header and block decode, the
// header hashes to its key, the block's header is the indexed one.
tl::expected<std::pair<crypto::Hash32, chain::Block>, VerifyFault> read_block(const ChainStore& store, std::uint64_t h,
                                                                              std::uint64_t tip_height) {
  auto fail = [&](std::string hash, std::string reason) {
    return tl::unexpected(VerifyFault{h, std::move(hash), std::move(reason)});
  };
  auto hash = store.hash_at(h);
  if (!hash) return fail("", "main index has no entry at this height (tip is " + std::to_string(tip_height) + ")");
  const std::string hex = hash->hex();
  const std::string_view key(reinterpret_cast<const char*>(hash->data()), 32);
  auto raw_header = store.get_raw(Column::Headers, key);
  if (!raw_header) return fail(hex, "header missing");
  auto header = chain::decode_header(bytes_of(*raw_header));
  if (!header) return fail(hex, "header does not decode: " + header.error().message);
  if (header->hash() != *hash) return fail(hex, "header hashes to " + header->hash().hex() + " (stored bytes altered)");
  if (header->height != h) return fail(hex, "header says height " + std::to_string(header->height));
  auto raw_block = store.get_raw(Column::Blocks, key);
  if (!raw_block) return fail(hex, "block body missing");
  auto block = chain::decode_block(bytes_of(*raw_block));
  if (!block) return fail(hex, "block does not decode: " + block.error().message);
  if (block->header != *header)
    return fail(hex, "block's header differs from the indexed header (stored bytes altered)");
  return std::pair{*hash, std::move(*block)};
}
}  // namespace

VerifyReport verify_store(const ChainStore& store, const std::function<void(std::uint64_t, std::uint64_t)>& progress,
                          std::int64_t max_clock_drift_ms, util::WorkerPool* pool) {
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

    // Batch by batch: read and decode in height order, check signatures
    // and bodies on the pool, then the rules against each parent in order
    // (so the fault reported is still the lowest one).
    chain::BlockHeader parent = *gh;
    crypto::Hash32 parent_hash = *g;
    std::vector<chain::Block> blocks;
    std::vector<crypto::Hash32> hashes;
    for (std::uint64_t start = 1; start <= tip_height; start += kVerifyBatch) {
      const std::uint64_t last = std::min(tip_height, start + kVerifyBatch - 1);
      blocks.clear();
      hashes.clear();
      std::optional<VerifyFault> read_fault;
      for (std::uint64_t h = start; h <= last && !read_fault; ++h) {
        auto read = read_block(store, h, tip_height);
        if (!read) {
          read_fault = read.error();
          break;
        }
        hashes.push_back(read->first);
        blocks.push_back(std::move(read->second));
      }
      const auto checks = chain::precheck_blocks(blocks, pool);
      for (std::size_t i = 0; i < blocks.size(); ++i) {
        const std::uint64_t h = start + i;
        const auto& b = blocks[i];
        auto r = chain::check_header_rules(b.header, parent, parent_hash, ctx);
        if (r && !checks[i].signature_ok) r = chain::check_signature(b.header);
        if (r) r = checks[i].body;
        if (!r) return fault(h, hashes[i].hex(), r.error().message());
        parent = b.header;
        parent_hash = hashes[i];
        ++report.blocks_checked;
        if (progress && (h % 1024 == 0)) progress(h, tip_height);
      }
      if (read_fault) {
        report.fault = read_fault;
        return report;
      }
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
