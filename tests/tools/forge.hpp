#pragma once
// Forges valid chains from a genesis and its masternodes' keys.

#include <cstdint>
#include <map>
#include <vector>

#include "libcore/chain/block.hpp"
#include "libcore/chain/schedule.hpp"

namespace forge {

using KeyRing = std::map<core::crypto::PublicKey, core::crypto::KeyPair>;

struct ForgeOptions {
  std::uint64_t count = 0;       // blocks to make
  std::uint64_t first_slot = 0;  // 0: the slot after the parent's
  std::uint64_t skip_every = 0;  // leave every k-th slot empty (0: none)
};

// Blocks on top of `parent`, each in the next slot whose producer is in
// `keys` (other slots stay empty), timestamped at the start of its slot.
// Fails when the chain would need a slot that starts in the future.
core::util::Result<std::vector<core::chain::Block>> forge_chain(const core::chain::GenesisSpec& spec,
                                                                const KeyRing& keys,
                                                                const core::chain::BlockHeader& parent,
                                                                const ForgeOptions& options);

// Genesis and keys of a `tgenesis testnet` directory.
core::util::Result<std::pair<core::chain::GenesisSpec, KeyRing>> load_testnet(const std::string& dir);

}  // namespace forge
