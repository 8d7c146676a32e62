#pragma once
// What ChainSync keeps per peer (sync.cpp): its best shown tip, whether its
// claim is trusted, its outstanding GetHeaders and GetBlocks requests, its
// adaptive request timeout, what it lacks, and the hashes it knows. Every
// collection here is bounded by a named limit. Internal to sync.cpp.
//
// Threads: the owner of its ChainSync.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libcore/chain/fork_choice.hpp"
#include "libcore/crypto/types.hpp"

namespace core::node {

// Hashes remembered per peer as known to it (announced by it or to it).
inline constexpr std::size_t kKnownHashesPerPeer = 4096;
// Hashes remembered per peer as missing from its answers.
inline constexpr std::size_t kLacksPerPeer = 8192;
// Stalled block requests kept per peer for a late answer; older ones are forgotten.
inline constexpr std::size_t kMaxStalledRequests = 4;
// Headers answers in a row that connect to nothing we know before the peer
// is penalised (one can be our fault: a locator naming a dropped header).
inline constexpr std::uint32_t kMaxUnconnectedHeaders = 3;

// Hashes a peer is known to have: bounded, oldest forgotten first.
class KnownHashes {
 public:
  bool contains(const crypto::Hash32& h) const { return set_.count(h) > 0; }
  void insert(const crypto::Hash32& h) {
    if (!set_.insert(h).second) return;
    order_.push_back(h);
    if (order_.size() > kKnownHashesPerPeer) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }

 private:
  std::set<crypto::Hash32> set_;
  std::deque<crypto::Hash32> order_;
};

struct BlockRequest {
  std::vector<crypto::Hash32> hashes;
  std::chrono::steady_clock::time_point sent;
  std::chrono::steady_clock::time_point deadline;
  bool stalled = false;
};

struct PeerSync {
  using Clock = std::chrono::steady_clock;

  // The best tip it claims (Hello, NewBlock): a hint, used only to decide
  // whom to ask for headers.
  chain::TipRef tip;
  // The best tip it has shown: headers it sent that we validated (or
  // knew), blocks it served us or we served it, a locator naming our
  // blocks. Only this makes it a source of bodies.
  chain::TipRef proven;
  std::string source;  // its IP, for distrust that survives a new key
  // False after the peer stalled or could not back its claim with headers;
  // true again when it announces a new block or delivers.
  bool claim_trusted = true;
  // The outstanding GetHeaders (at most one); after a stall it is dropped
  // but a late answer is still taken (late_headers_ok).
  std::optional<Clock::time_point> headers_sent, headers_deadline;
  bool late_headers_ok = false;
  std::deque<BlockRequest> requests;     // outstanding, oldest first; stalled ones kept (bounded) for late answers
  std::chrono::milliseconds timeout{0};  // its current request timeout (set from SyncSettings)
  Clock::time_point resting_until{};
  std::set<crypto::Hash32> lacks;  // hashes it answered without (at most kLacksPerPeer)
  std::uint32_t unconnected = 0;   // Headers answers in a row that did not connect
  KnownHashes known;
  std::uint64_t blocks_served = 0;

  // Requests still within their deadline: what counts against requests_per_peer.
  std::size_t active_requests() const {
    std::size_t n = 0;
    for (const auto& r : requests) n += r.stalled ? 0 : 1;
    return n;
  }
  void note_lacks(const crypto::Hash32& h) {
    if (lacks.size() >= kLacksPerPeer) lacks.clear();
    lacks.insert(h);
  }
};

}  // namespace core::node
