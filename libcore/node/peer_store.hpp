#pragma once
// The node's peer memory in the chain store (DESIGN.md 4 and 6), typed:
// address records in the `peers` column family (key: the address,
// "host:port") and ban records in `bans` (key: the 32 raw bytes of the node
// id), encoded by p2p/peer_records. tnode writes and reads them through
// this; `tchain peers` and `tchain bans` read them through it too.
//
// Skip and keep: a record that does not decode (damaged, or written by a
// newer version) or whose key does not match its content is reported as
// unreadable and left in the store untouched, never deleted and never fatal.
//
// Threads: whoever owns the ChainStore (the node's strand; tchain's main).
// Store failures throw store::StoreFailure, as the store does.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "libcore/crypto/types.hpp"
#include "libcore/p2p/peer_records.hpp"

namespace core::store {
class ChainStore;
}

namespace core::node {

struct StoredAddress {
  std::string key;
  std::string raw;  // the stored bytes
  p2p::AddressRecord record;
};

struct StoredBan {
  std::string key;
  p2p::BanRecord record;
};

struct UnreadableRecord {
  std::string column;  // "peers" | "bans"
  std::string key;     // printable: the address, or the node id in hex when it is 32 bytes
  std::string error;
};

class PeerStore {
 public:
  explicit PeerStore(store::ChainStore& store) : store_(store) {}

  // Every readable record of its column, in key order; unreadable ones are
  // appended to `unreadable`.
  std::vector<StoredAddress> addresses(std::vector<UnreadableRecord>& unreadable) const;
  std::vector<StoredBan> bans(std::vector<UnreadableRecord>& unreadable) const;

  // One write batch: `puts` (key, encoded record) and `erases`.
  void write_addresses(const std::vector<std::pair<std::string, std::string>>& puts,
                       const std::vector<std::string>& erases);
  void write_ban(const p2p::BanRecord& ban);
  void erase_bans(const std::vector<crypto::PublicKey>& ids);

  static std::string ban_key(const crypto::PublicKey& id);

 private:
  store::ChainStore& store_;
};

// A stored score decayed to `now_ms` with `half_life_ms` (what the node
// would show), and a stored breaker state as it reads at `now_ms` (an open
// breaker whose cool-down is over is half-open). For readers of records
// that hold no AddressState (tchain).
double decayed_score(const p2p::AddressRecord& r, std::int64_t half_life_ms, std::int64_t now_ms);
p2p::BreakerState breaker_at(const p2p::AddressRecord& r, std::int64_t now_ms);

}  // namespace core::node
