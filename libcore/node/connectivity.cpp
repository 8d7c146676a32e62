#include "libcore/node/connectivity.hpp"

namespace core::node {

MasternodeCounts masternode_counts(const ConnectivityInputs& in) {
  const std::size_t self = in.self_is_masternode ? 1 : 0;
  return {in.masternodes_connected + self, in.other_masternodes + self};
}

ConnectivityVerdict connectivity(const ConnectivityInputs& in) {
  if (in.peers_expected && in.peers == 0) return {true, "no peers"};
  const auto [seen, total] = masternode_counts(in);
  if (total > 0 && seen * 2 < total)
    return {true, "sees " + std::to_string(seen) + " of " + std::to_string(total) + " masternodes (fewer than half)"};
  return {false, ""};
}

PartitionTracker::Transition PartitionTracker::update(bool now_partitioned, Clock::time_point now) {
  if (now_partitioned == partitioned_) {
    change_since_.reset();
    return Transition::None;
  }
  if (now_partitioned) {
    if (!change_since_) change_since_ = now;
    if (now - *change_since_ < settle_) return Transition::None;
  }
  change_since_.reset();
  partitioned_ = now_partitioned;
  if (!partitioned_) {
    const bool counts = ever_connected_;
    ever_connected_ = true;
    return counts ? Transition::Left : Transition::None;
  }
  return ever_connected_ ? Transition::Entered : Transition::None;
}

}  // namespace core::node
