#pragma once
// The slot schedule of proof of authority:
//   slot = floor((now - genesis.timestamp) / block_time)
//   producer(slot) = masternodes[slot mod N], in genesis order.

#include <cstdint>
#include <optional>

#include "libcore/chain/genesis.hpp"

namespace core::chain {

class Schedule {
 public:
  explicit Schedule(const GenesisSpec& spec);

  // The slot containing time t; nullopt before the genesis timestamp.
  std::optional<std::uint64_t> slot_at(util::UnixMillis t) const;
  util::UnixMillis slot_start(std::uint64_t slot) const;
  util::UnixMillis slot_end(std::uint64_t slot) const { return slot_start(slot + 1); }
  const crypto::PublicKey& producer(std::uint64_t slot) const;
  std::int64_t block_time_ms() const { return block_time_ms_; }
  bool is_masternode(const crypto::PublicKey& key) const;

 private:
  util::UnixMillis genesis_ms_;
  std::int64_t block_time_ms_;
  std::vector<crypto::PublicKey> producers_;
};

}  // namespace core::chain
