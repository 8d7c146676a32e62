// The crawler's map of a network (see network_map.hpp).
#include "libcore/p2p/network_map.hpp"

#include <algorithm>
#include <numeric>

namespace core::p2p {

namespace {

using crypto::PublicKey;

// Union-find over node ids, for the components.
class Components {
 public:
  explicit Components(const std::map<PublicKey, MapNode>& nodes) {
    for (const auto& [id, n] : nodes) index_.emplace(id, index_.size());
    parent_.resize(index_.size());
    std::iota(parent_.begin(), parent_.end(), std::size_t{0});
  }
  void join(const PublicKey& a, const PublicKey& b) { parent_[find(index_.at(a))] = find(index_.at(b)); }
  std::vector<std::vector<PublicKey>> groups() {
    std::map<std::size_t, std::vector<PublicKey>> by_root;
    for (const auto& [id, i] : index_) by_root[find(i)].push_back(id);  // ids in order within each
    std::vector<std::vector<PublicKey>> out;
    for (auto& [root, members] : by_root) out.push_back(std::move(members));
    std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
      return x.size() != y.size() ? x.size() > y.size() : x.front() < y.front();
    });
    return out;
  }

 private:
  std::size_t find(std::size_t i) {
    while (parent_[i] != i) i = parent_[i] = parent_[parent_[i]];
    return i;
  }
  std::map<PublicKey, std::size_t> index_;
  std::vector<std::size_t> parent_;
};

MapNode& node_of(NetworkMap& m, const PublicKey& id) {
  auto [it, fresh] = m.nodes.try_emplace(id);
  if (fresh) it->second.id = id;
  return it->second;
}

void add_edge(std::map<std::pair<PublicKey, PublicKey>, MapEdge>& edges, const PublicKey& from,
              const ConnectionEntry& c) {
  if (from == c.node_id) return;  // a node listing itself draws no edge
  const bool from_is_a = from < c.node_id;
  const auto key = from_is_a ? std::pair(from, c.node_id) : std::pair(c.node_id, from);
  auto& e = edges[key];
  e.a = key.first;
  e.b = key.second;
  (from_is_a ? e.claimed_by_a : e.claimed_by_b) = true;
  if (c.outbound) (from_is_a ? e.a_dialled_b : e.b_dialled_a) = true;
}

}  // namespace

bool MapEdge::confirmed(const std::map<PublicKey, MapNode>& nodes) const {
  auto reached = [&](const PublicKey& id) {
    auto it = nodes.find(id);
    return it != nodes.end() && it->second.reached && it->second.reported_connections;
  };
  return claimed_by_a && claimed_by_b && reached(a) && reached(b);
}

std::string_view to_string(MasternodeState s) {
  switch (s) {
    case MasternodeState::seen:
      return "seen";
    case MasternodeState::reported:
      return "reported";
    case MasternodeState::missing:
      return "missing";
  }
  return "missing";
}

std::size_t NetworkMap::reached() const {
  return static_cast<std::size_t>(
      std::count_if(nodes.begin(), nodes.end(), [](const auto& kv) { return kv.second.reached; }));
}

std::size_t NetworkMap::missing_masternodes() const {
  return static_cast<std::size_t>(std::count_if(masternodes.begin(), masternodes.end(),
                                                [](const auto& m) { return m.state != MasternodeState::seen; }));
}

bool NetworkMap::split_tips() const {
  return std::count_if(tips.begin(), tips.end(), [this](const auto& g) { return g.height == best_height; }) > 1;
}

bool NetworkMap::healthy() const { return components.size() == 1 && missing_masternodes() == 0; }

NetworkMap build_network_map(const std::vector<CrawlVisit>& visits, const std::vector<chain::Masternode>* masternodes) {
  NetworkMap m;
  std::map<std::pair<PublicKey, PublicKey>, MapEdge> edges;
  std::map<std::string, const CrawlVisit*> failed_at;  // address -> visit

  // Reached nodes first: what they said of themselves is the best we know.
  for (const auto& v : visits) {
    if (!v.hello) {
      failed_at[v.address] = &v;
      continue;
    }
    auto& n = node_of(m, v.hello->node_id);
    n.reached = true;
    n.role = v.hello->role;
    n.addresses.insert(v.address);
    n.height = v.hello->best_height;
    n.tip = v.hello->best_hash;
    n.user_agent = v.hello->user_agent;
    n.protocol_version = v.hello->protocol_version;
    n.reported_connections = v.connections.has_value();
  }
  // Then what they said of their peers.
  for (const auto& v : visits) {
    if (!v.hello || !v.connections) continue;
    for (const auto& c : *v.connections) {
      if (c.node_id == v.hello->node_id) continue;
      auto& n = node_of(m, c.node_id);
      if (!c.address.empty() && !n.reached) n.addresses.insert(c.address);
      if (!n.reached) {
        n.role = c.role == Role::Masternode ? Role::Masternode : n.role;
        n.height = std::max(n.height.value_or(0), c.best_height);
      }
      add_edge(edges, v.hello->node_id, c);
    }
  }
  for (auto& [key, e] : edges) m.edges.push_back(e);

  // An address whose visit failed is unreachable unless a reached node was
  // found there another way (the same node under a second address).
  std::set<std::string> reached_at;
  for (const auto& [id, n] : m.nodes)
    if (n.reached) reached_at.insert(n.addresses.begin(), n.addresses.end());
  for (const auto& [address, v] : failed_at)
    if (!reached_at.count(address)) m.unreachable.push_back({address, v->failure_class, v->failure_detail});

  if (masternodes) {
    for (const auto& mn : *masternodes) {
      MasternodeStatus st{mn.name, mn.pubkey, mn.address, MasternodeState::missing, {}};
      if (auto it = m.nodes.find(mn.pubkey); it != m.nodes.end()) {
        it->second.name = mn.name;
        it->second.role = Role::Masternode;
        st.state = it->second.reached ? MasternodeState::seen : MasternodeState::reported;
      }
      if (st.state != MasternodeState::seen)
        if (auto f = failed_at.find(mn.address); f != failed_at.end()) st.failure_class = f->second->failure_class;
      m.masternodes.push_back(std::move(st));
    }
  }

  Components uf(m.nodes);
  for (const auto& e : m.edges) uf.join(e.a, e.b);
  m.components = uf.groups();
  for (std::size_t i = 0; i < m.components.size(); ++i)
    for (const auto& id : m.components[i]) m.nodes.at(id).component = i;

  std::map<std::pair<std::uint64_t, crypto::Hash32>, std::vector<PublicKey>> by_tip;
  for (const auto& [id, n] : m.nodes) {
    if (n.height) m.best_height = std::max(m.best_height, *n.height);
    if (n.reached) by_tip[{*n.height, *n.tip}].push_back(id);
  }
  for (auto it = by_tip.rbegin(); it != by_tip.rend(); ++it)
    m.tips.push_back(TipGroup{it->first.first, it->first.second, it->second});
  for (std::size_t i = 0; i < m.tips.size(); ++i)
    for (const auto& id : m.tips[i].members) m.nodes.at(id).tip_group = i;
  for (auto& [id, n] : m.nodes) n.behind = n.height ? m.best_height - *n.height : 0;
  return m;
}

}  // namespace core::p2p
