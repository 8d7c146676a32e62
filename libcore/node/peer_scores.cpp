#include "libcore/node/peer_scores.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace core::node {

PeerScores::Verdict PeerScores::charge(const NodeId& id, const std::string& ip, p2p::ScoreEvent event, TimePoint now) {
  Verdict v;
  const double step = p2p::score_step(event);
  auto [it, added] = ids_.try_emplace(id, s_.score_half_life);
  it->second.add(step, now);
  v.ban_id = it->second.should_ban(now, s_.ban_threshold);
  if (added) bound(ids_, now);
  if (step > kMisbehaviourStep || ip.empty()) return v;
  auto [ipit, ip_added] = ips_.try_emplace(ip, s_.score_half_life);
  ipit->second.add(step, now);
  if (ipit->second.should_ban(now, s_.ip_ban_threshold) && !ip_refused_until(ip, now)) {
    if (refused_.size() >= s_.max_entries) std::erase_if(refused_, [now](const auto& r) { return r.second <= now; });
    if (refused_.size() < s_.max_entries) {
      refused_[ip] = now + s_.ip_ban_duration;
      v.refuse_ip = true;
    }
    // Served its time when it comes back: it starts again from zero.
    ips_.erase(ipit);
    return v;
  }
  if (ip_added) bound(ips_, now);
  return v;
}

void PeerScores::reward(const NodeId& id, double step, TimePoint now) {
  auto [it, added] = ids_.try_emplace(id, s_.score_half_life);
  it->second.add(step, now);
  if (added) bound(ids_, now);
}

double PeerScores::score(const NodeId& id, TimePoint now) const {
  auto it = ids_.find(id);
  return it == ids_.end() ? 0 : it->second.value(now);
}

double PeerScores::ip_score(const std::string& ip, TimePoint now) const {
  auto it = ips_.find(ip);
  return it == ips_.end() ? 0 : it->second.value(now);
}

std::optional<PeerScores::TimePoint> PeerScores::ip_refused_until(const std::string& ip, TimePoint now) const {
  auto it = refused_.find(ip);
  if (it == refused_.end() || it->second <= now) return std::nullopt;
  return it->second;
}

std::size_t PeerScores::refused_ips(TimePoint now) const {
  return static_cast<std::size_t>(
      std::count_if(refused_.begin(), refused_.end(), [now](const auto& r) { return r.second > now; }));
}

// Over max_entries: the scores nearest zero are forgotten first (they
// carry the least information).
template <typename Map>
void PeerScores::bound(Map& m, TimePoint now) {
  if (m.size() <= s_.max_entries) return;
  std::vector<std::pair<double, typename Map::key_type>> by_weight;
  by_weight.reserve(m.size());
  for (const auto& [k, v] : m) by_weight.emplace_back(std::abs(v.value(now)), k);
  std::sort(by_weight.begin(), by_weight.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < by_weight.size() && m.size() > s_.max_entries * 3 / 4; ++i) m.erase(by_weight[i].second);
}

}  // namespace core::node
