#pragma once
// Genesis: the TOML file that fully determines a network's first block.
// Same file contents (as values, not formatting) => same canonical encoding
// => same genesis hash, on every machine, at any time.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "libcore/codec/codec.hpp"
#include "libcore/crypto/types.hpp"
#include "libcore/util/error.hpp"
#include "libcore/util/time.hpp"

namespace core::chain {

struct Masternode {
  std::string name;
  crypto::PublicKey pubkey;
  std::string address;  // "host:port" where it can be dialled; may be empty
  friend bool operator==(const Masternode&, const Masternode&) = default;
};

struct Allocation {
  crypto::PublicKey pubkey;
  std::uint64_t amount = 0;
  friend bool operator==(const Allocation&, const Allocation&) = default;
};

struct GenesisSpec {
  std::string network;
  util::UnixMillis timestamp_ms = 0;
  std::int64_t block_time_ms = 0;
  std::vector<Masternode> masternodes;
  std::vector<Allocation> allocations;
  friend bool operator==(const GenesisSpec&, const GenesisSpec&) = default;
};

// Limits a genesis must respect (also bound the decoder).
inline constexpr std::size_t kMaxNetworkName = 64;
inline constexpr std::size_t kMaxMasternodes = 1024;
inline constexpr std::size_t kMaxAllocations = 100'000;
inline constexpr std::size_t kMaxMasternodeName = 64;
inline constexpr std::size_t kMaxAddress = 255;
inline constexpr std::uint64_t kMaxSupply = INT64_MAX;  // total of all allocations
inline constexpr std::int64_t kMinBlockTimeMs = 100;
inline constexpr std::int64_t kMaxBlockTimeMs = 3'600'000;

// Checks every rule (names, uniqueness, ranges, addresses). The message names
// the offending field, e.g. "masternodes[2].pubkey: ...".
util::Result<void> validate(const GenesisSpec& spec);

// The rule validate() applies to one masternode name: 1 to kMaxMasternodeName
// letters, digits, '.', '-' and '_'. The message begins with `field`
// ("name: invalid character ' ' (allowed: ...)"). Any thread.
util::Result<void> check_masternode_name(std::string_view name, const std::string& field);

// Parses and validates genesis TOML. `source` (a file name) prefixes every
// error: "<source>: masternodes[1].pubkey: expected 64 hex digits, got 12".
// Unknown keys are refused.
util::Result<GenesisSpec> parse_genesis_toml(std::string_view text, const std::string& source);
util::Result<GenesisSpec> load_genesis_file(const std::filesystem::path& path);

// Renders a spec as genesis.toml (canonical layout; parses back to `spec`).
std::string to_toml(const GenesisSpec& spec);

// Canonical binary encoding, and its strict decoder (validates the result).
// Decoding errors start "genesis encoding: " and name the field:
// "genesis encoding: network: length 70 ...", or validate()'s
// "genesis encoding: masternodes[1].name: duplicate name ...".
codec::Bytes encode(const GenesisSpec& spec);
util::Result<GenesisSpec> decode_genesis(std::span<const std::uint8_t> bytes);

// The 4-byte wire magic: the first bytes of BLAKE2b(network name), little-endian.
std::uint32_t network_magic(std::string_view network);

}  // namespace core::chain
