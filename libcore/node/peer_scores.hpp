#pragma once
// What misbehaviour costs (DESIGN.md 6 and 11): a score per node id and
// one per source IP, so a peer pays whether or not it announces a listen
// address, and fresh keys from one IP cannot escape by rotating. Pure: time
// passed in, no sockets, no logging.
//
// - Every event (p2p::ScoreEvent) goes to the node id's score; a node id
//   whose score reaches peer_quality.ban_threshold should be banned.
// - Misbehaviour (protocol violations, invalid blocks: steps at or below
//   kMisbehaviourStep) also goes to the source IP's score; an IP whose
//   score reaches ip_ban_threshold is refused for ip_ban_duration (before
//   any handshake), then forgiven: an IP may be a NAT of honest nodes.
// - Scores decay towards zero (score_half_life); at most max_entries ids
//   and IPs are kept (those nearest zero are forgotten first).
//
// Threads: owned by the node's strand.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "libcore/crypto/types.hpp"
#include "libcore/p2p/dial_policy.hpp"

namespace core::node {

// A step at or below this is misbehaviour, charged to the IP too.
inline constexpr double kMisbehaviourStep = p2p::kProtocolViolationStep;
// Ids and IPs whose scores are kept at once.
inline constexpr std::size_t kMaxScoredPeers = 4096;

struct PeerScoreSettings {
  std::int32_t ban_threshold = config::defaults::kBanThreshold;
  std::int32_t ip_ban_threshold = config::defaults::kIpBanThreshold;
  p2p::Millis ip_ban_duration = config::defaults::kIpBanDuration;
  p2p::Millis score_half_life = config::defaults::kScoreHalfLife;
  std::size_t max_entries = kMaxScoredPeers;
};

class PeerScores {
 public:
  using TimePoint = p2p::TimePoint;
  using NodeId = crypto::PublicKey;

  explicit PeerScores(PeerScoreSettings settings) : s_(settings) {}

  struct Verdict {
    bool ban_id = false;     // the id's score is at or below ban_threshold
    bool refuse_ip = false;  // the IP was just refused (it was not before)
  };
  // Charges `event` to `id` (and, for misbehaviour, to `ip` when given).
  Verdict charge(const NodeId& id, const std::string& ip, p2p::ScoreEvent event, TimePoint now);
  // Adds `step` to the id only (a reward, e.g. uptime).
  void reward(const NodeId& id, double step, TimePoint now);

  double score(const NodeId& id, TimePoint now) const;
  double ip_score(const std::string& ip, TimePoint now) const;
  // Whether `ip` is refused at `now`, and until when.
  std::optional<TimePoint> ip_refused_until(const std::string& ip, TimePoint now) const;
  // An operator's unban: the id starts again from zero.
  void forgive(const NodeId& id) { ids_.erase(id); }
  std::size_t refused_ips(TimePoint now) const;

 private:
  template <typename Map>
  void bound(Map& m, TimePoint now);

  PeerScoreSettings s_;
  std::map<NodeId, p2p::PeerScore> ids_;
  std::map<std::string, p2p::PeerScore> ips_;
  std::map<std::string, TimePoint> refused_;  // IP -> refused until
};

}  // namespace core::node
