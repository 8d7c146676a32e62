#include "forge.hpp"

#include <filesystem>

#include "libcore/crypto/keys.hpp"
#include "libcore/util/time.hpp"

namespace forge {

core::util::Result<std::vector<core::chain::Block>> forge_chain(const core::chain::GenesisSpec& spec,
                                                                const KeyRing& keys,
                                                                const core::chain::BlockHeader& parent,
                                                                const ForgeOptions& options) {
  core::chain::Schedule schedule(spec);
  std::vector<core::chain::Block> out;
  out.reserve(options.count);
  core::chain::BlockHeader prev = parent;
  std::uint64_t slot = options.first_slot ? options.first_slot : parent.slot + 1;
  const auto now = core::util::now_ms();
  while (out.size() < options.count) {
    if (schedule.slot_start(slot) > now)
      return core::util::fail("slot " + std::to_string(slot) + " starts in the future: the genesis is too recent for " +
                              std::to_string(options.count) + " blocks (made " + std::to_string(out.size()) + ")");
    bool skip = options.skip_every && slot % options.skip_every == 0;
    auto key = keys.find(schedule.producer(slot));
    if (!skip && key != keys.end()) {
      out.push_back(core::chain::make_block(prev, slot, schedule.slot_start(slot), key->second));
      prev = out.back().header;
    }
    ++slot;
  }
  return out;
}

core::util::Result<std::pair<core::chain::GenesisSpec, KeyRing>> load_testnet(const std::string& dir) {
  namespace fs = std::filesystem;
  auto spec = core::chain::load_genesis_file(fs::path(dir) / "genesis.toml");
  if (!spec) return tl::unexpected(spec.error());
  KeyRing keys;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    auto key_path = entry.path() / "node.key";
    if (!fs::exists(key_path)) continue;
    auto key = core::crypto::load_key_file(key_path);
    if (!key) return tl::unexpected(key.error());
    keys.emplace(key->public_key(), *key);
  }
  return std::make_pair(*spec, keys);
}

}  // namespace forge
