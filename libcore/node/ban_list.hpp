#pragma once
// The node's bans (DESIGN.md 6): node id -> until when, since when and why.
// Pure: no clock reads (wall-clock unix ms are passed in), no store, no
// logging. Lookups are const and never change the list: a ban whose time
// is over simply stops counting; it leaves the list only where expire() is
// called explicitly (the network does that once a second, and writes the
// removal to the store).
//
// Threads: owned by the node's strand, like everything in node/.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libcore/crypto/types.hpp"

namespace core::node {

struct Ban {
  std::int64_t until_ms = 0;  // unix ms; the ban counts while now < until_ms
  std::string reason;
  std::int64_t since_ms = 0;
  friend bool operator==(const Ban&, const Ban&) = default;
};

class BanList {
 public:
  using NodeId = crypto::PublicKey;

  // The ban of `id` in force at `now_ms`; nullopt when there is none or it
  // has run out (an expired ban stays listed until expire()).
  std::optional<Ban> active(const NodeId& id, std::int64_t now_ms) const;
  bool is_banned(const NodeId& id, std::int64_t now_ms) const { return active(id, now_ms).has_value(); }

  // Bans `id` (replacing any ban it had).
  void add(const NodeId& id, Ban ban);
  // Lifts the ban of `id`; true if it was listed (expired or not).
  bool remove(const NodeId& id);
  // Removes every ban over at `now_ms` and returns their ids.
  std::vector<NodeId> expire(std::int64_t now_ms);

  // Every listed ban, expired ones included, in node id order.
  const std::map<NodeId, Ban>& all() const { return bans_; }
  // Bans in force at `now_ms` (what /bans and tnode_bans_active show).
  std::size_t active_count(std::int64_t now_ms) const;
  std::size_t size() const { return bans_.size(); }

 private:
  std::map<NodeId, Ban> bans_;
};

}  // namespace core::node
