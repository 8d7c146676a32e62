#pragma once
// The progress log of a catch-up (DESIGN.md 7: "sync logs progress (height,
// blocks/s, ETA)"): one line when a catch-up of kCatchUpGap blocks or more
// starts, one per `interval` while it runs, one when it is over. Pure but
// for logging; time passed in.
//
// Threads: the owner of its ChainSync.

#include <chrono>
#include <cstdint>
#include <string>

namespace core::node {

// A node this many blocks behind is "catching up" (and logs progress).
inline constexpr std::uint64_t kCatchUpGap = 10;

// "42s", "3m5s", "2h7m"; "unknown" for negative or absurd values.
std::string format_eta(double seconds);

class SyncProgress {
 public:
  using Clock = std::chrono::steady_clock;
  explicit SyncProgress(std::chrono::milliseconds interval) : interval_(interval) {}

  // Called after every sync step: our `height`, the `goal` height of the
  // best chain known, whether we are `behind` it, and how many peers are
  // serving requests now.
  void update(Clock::time_point now, std::uint64_t height, std::uint64_t goal, bool behind, std::size_t serving);

 private:
  std::chrono::milliseconds interval_;
  bool catching_up_ = false;
  Clock::time_point started_{}, last_log_{};
  std::uint64_t from_ = 0, height_at_last_log_ = 0;
};

}  // namespace core::node
