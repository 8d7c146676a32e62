#include "libcore/chain/schedule.hpp"

#include <algorithm>

namespace core::chain {

Schedule::Schedule(const GenesisSpec& spec) : genesis_ms_(spec.timestamp_ms), block_time_ms_(spec.block_time_ms) {
  for (const auto& mn : spec.masternodes) producers_.push_back(mn.pubkey);
}

std::optional<std::uint64_t> Schedule::slot_at(util::UnixMillis t) const {
  if (t < genesis_ms_) return std::nullopt;
  return static_cast<std::uint64_t>((t - genesis_ms_) / block_time_ms_);
}

util::UnixMillis Schedule::slot_start(std::uint64_t slot) const {
  return genesis_ms_ + static_cast<std::int64_t>(slot) * block_time_ms_;
}

const crypto::PublicKey& Schedule::producer(std::uint64_t slot) const { return producers_[slot % producers_.size()]; }

bool Schedule::is_masternode(const crypto::PublicKey& key) const {
  return std::find(producers_.begin(), producers_.end(), key) != producers_.end();
}

}  // namespace core::chain
