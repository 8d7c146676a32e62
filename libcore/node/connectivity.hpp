#pragma once
// One verdict on this node's connectivity (DESIGN.md 8), used by both GET
// /health ("degraded" and its reason) and the partition counter
// (tnode_partition_events_total), so the two can never disagree.
//
// Pure: counts in, verdict out; PartitionTracker takes the time.
//
// The rule. A node is partitioned when
//   - peers are expected (genesis lists masternodes other than this node, or
//     static peers are configured) and it has none; or
//   - it sees fewer than half of the network's masternodes.
// Who counts as a masternode of the network: every genesis masternode other
// than this node's key, plus this node itself only when it runs as a
// masternode (role = masternode; its key is then in genesis). A genesis key
// running as a regular node is decided explicitly: it does not produce, so
// it neither counts itself as seen nor among the masternodes to see.
//
// Threads: any (pure functions); a PartitionTracker is owned by one strand.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace core::node {

struct ConnectivityInputs {
  std::size_t peers = 0;                  // connected peers, every class
  bool peers_expected = false;            // other genesis masternodes, or static peers configured
  std::size_t masternodes_connected = 0;  // connected peers that are genesis masternodes
  std::size_t other_masternodes = 0;      // genesis masternodes other than this node's key
  bool self_is_masternode = false;        // this node runs as a masternode
};

struct ConnectivityVerdict {
  bool partitioned = false;
  std::string reason;  // empty unless partitioned: "no peers", "sees 1 of 4 masternodes (fewer than half)"
};

ConnectivityVerdict connectivity(const ConnectivityInputs& in);

// The masternode counts the rule compares: `seen` of `total` (this node
// included in both when it runs as a masternode). Exported as
// tnode_masternodes_seen and tnode_masternodes.
struct MasternodeCounts {
  std::size_t seen = 0;
  std::size_t total = 0;
};
MasternodeCounts masternode_counts(const ConnectivityInputs& in);

// Turns the verdict, checked every few hundred ms, into counted
// transitions. Entering "partitioned" counts once it has held for `settle`
// (a connection being replaced is not a partition); leaving counts at once.
// Nothing counts before the node has first been connected.
class PartitionTracker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Transition { None, Entered, Left };

  explicit PartitionTracker(std::chrono::milliseconds settle) : settle_(settle) {}
  // Entered and Left are only returned once the node has been connected
  // (the first connection itself is not "Left").
  Transition update(bool partitioned, Clock::time_point now);
  bool partitioned() const { return partitioned_; }

 private:
  std::chrono::milliseconds settle_;
  bool partitioned_ = true;
  bool ever_connected_ = false;
  std::optional<Clock::time_point> change_since_;  // the other state seen since then
};

}  // namespace core::node
