#include "libcore/node/peer_store.hpp"

#include <algorithm>
#include <cmath>
#include <span>

#include "libcore/store/chain_store.hpp"
#include "libcore/util/hex.hpp"

namespace core::node {

namespace {

std::span<const std::uint8_t> bytes_of(std::string_view v) {
  return {reinterpret_cast<const std::uint8_t*>(v.data()), v.size()};
}

std::string printable_ban_key(std::string_view k) {
  if (k.size() == 32) return util::to_hex(bytes_of(k));
  return "(" + std::to_string(k.size()) + "-byte key)";
}

}  // namespace

std::string PeerStore::ban_key(const crypto::PublicKey& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), 32);
}

std::vector<StoredAddress> PeerStore::addresses(std::vector<UnreadableRecord>& unreadable) const {
  std::vector<StoredAddress> out;
  store_.for_each_raw(store::Column::Peers, [&](std::string_view k, std::string_view v) {
    auto r = p2p::decode_address_record(bytes_of(v));
    if (!r)
      unreadable.push_back({"peers", std::string(k), r.error().message});
    else if (r->address != k)
      unreadable.push_back({"peers", std::string(k), "the record is for address " + r->address});
    else
      out.push_back({std::string(k), std::string(v), std::move(*r)});
    return true;
  });
  return out;
}

std::vector<StoredBan> PeerStore::bans(std::vector<UnreadableRecord>& unreadable) const {
  std::vector<StoredBan> out;
  store_.for_each_raw(store::Column::Bans, [&](std::string_view k, std::string_view v) {
    auto b = p2p::decode_ban_record(bytes_of(v));
    if (!b)
      unreadable.push_back({"bans", printable_ban_key(k), b.error().message});
    else if (ban_key(b->node_id) != k)
      unreadable.push_back({"bans", printable_ban_key(k), "the record is for node " + b->node_id.hex()});
    else
      out.push_back({std::string(k), std::move(*b)});
    return true;
  });
  return out;
}

void PeerStore::write_addresses(const std::vector<std::pair<std::string, std::string>>& puts,
                                const std::vector<std::string>& erases) {
  if (puts.empty() && erases.empty()) return;
  store_.write_records(store::Column::Peers, puts, erases);
}

void PeerStore::write_ban(const p2p::BanRecord& ban) {
  const auto bytes = p2p::encode(ban);
  store_.write_records(store::Column::Bans, {{ban_key(ban.node_id), std::string(bytes.begin(), bytes.end())}}, {});
}

void PeerStore::erase_bans(const std::vector<crypto::PublicKey>& ids) {
  if (ids.empty()) return;
  std::vector<std::string> keys(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) keys[i] = ban_key(ids[i]);
  store_.write_records(store::Column::Bans, {}, keys);
}

double decayed_score(const p2p::AddressRecord& r, std::int64_t half_life_ms, std::int64_t now_ms) {
  const double age = static_cast<double>(std::max<std::int64_t>(0, now_ms - r.score_as_of_ms));
  return r.score * std::pow(0.5, age / static_cast<double>(std::max<std::int64_t>(1, half_life_ms)));
}

p2p::BreakerState breaker_at(const p2p::AddressRecord& r, std::int64_t now_ms) {
  if (r.dial.breaker == p2p::BreakerState::Open && now_ms >= r.dial.opened_at_ms + r.dial.cooldown.count())
    return p2p::BreakerState::HalfOpen;
  return r.dial.breaker;
}

}  // namespace core::node
