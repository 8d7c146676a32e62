#include "libcore/node/ban_list.hpp"

#include <algorithm>

namespace core::node {

std::optional<Ban> BanList::active(const NodeId& id, std::int64_t now_ms) const {
  auto it = bans_.find(id);
  if (it == bans_.end() || it->second.until_ms <= now_ms) return std::nullopt;
  return it->second;
}

void BanList::add(const NodeId& id, Ban ban) { bans_[id] = std::move(ban); }

bool BanList::remove(const NodeId& id) { return bans_.erase(id) > 0; }

std::vector<BanList::NodeId> BanList::expire(std::int64_t now_ms) {
  std::vector<NodeId> out;
  for (auto it = bans_.begin(); it != bans_.end();) {
    if (it->second.until_ms <= now_ms) {
      out.push_back(it->first);
      it = bans_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::size_t BanList::active_count(std::int64_t now_ms) const {
  return static_cast<std::size_t>(
      std::count_if(bans_.begin(), bans_.end(), [now_ms](const auto& b) { return b.second.until_ms > now_ms; }));
}

}  // namespace core::node
