#pragma once
// The progress log of a catch-up (DESIGN.md 7: "sync logs progress (height,
// blocks/s, ETA)"): one line when a catch-up of kCatchUpGap blocks or more
// starts, one per `interval` while it runs, one when it is over. Progress
// counts from the height where this catch-up started: a node at 9,000
// catching up to 10,000 is at 0%, not 90%. Pure but for logging (events
// sync_started, sync_progress, sync_done); time passed in.
//
// Threads: the owner of its ChainSync.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace core::node {

// A node this many blocks behind is "catching up" (and logs progress).
inline constexpr std::uint64_t kCatchUpGap = 10;

// "42s", "3m5s", "2h7m"; "unknown" for negative or absurd values.
std::string format_eta(double seconds);

// How far a catch-up from height `from` to `target` is at `height`, in
// percent: 0 at `from` (or below it, after a reorganisation), 100 at or
// past `target` (also when there was nothing to catch up).
double catch_up_percent(std::uint64_t from, std::uint64_t height, std::uint64_t target);

// What one update() logged.
struct SyncReport {
  enum class Kind { Started, Progress, Done };
  Kind kind = Kind::Started;
  std::uint64_t from = 0;    // the height the catch-up started at
  std::uint64_t height = 0;  // ours now
  std::uint64_t target = 0;  // the best chain's height known now
  double percent = 0;        // catch_up_percent(from, height, target)
  // Progress: blocks a second since the last report, and the time left at
  // that rate (nullopt when unknown). Done: the whole catch-up's average.
  double blocks_per_second = 0;
  std::optional<double> eta_seconds;
  double seconds = 0;       // Done: the catch-up's duration
  std::size_t serving = 0;  // peers serving requests now
};

class SyncProgress {
 public:
  using Clock = std::chrono::steady_clock;
  explicit SyncProgress(std::chrono::milliseconds interval) : interval_(interval) {}

  // Called after every sync step: our `height`, the `goal` height of the
  // best chain known, whether we are `behind` it, and how many peers are
  // serving requests now. Logs and returns a report when a catch-up starts,
  // when `interval` has passed since the last report while it runs, and
  // when it ends; nullopt otherwise.
  std::optional<SyncReport> update(Clock::time_point now, std::uint64_t height, std::uint64_t goal, bool behind,
                                   std::size_t serving);

 private:
  std::chrono::milliseconds interval_;
  bool catching_up_ = false;
  Clock::time_point started_{}, last_log_{};
  std::uint64_t from_ = 0, height_at_last_log_ = 0;
};

}  // namespace core::node
