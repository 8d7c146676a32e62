#include "libcore/node/sync_progress.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace core::node {

namespace {

// ETAs beyond this many seconds (about four months) are "unknown".
constexpr double kMaxEtaSeconds = 1e7;

}  // namespace

std::string format_eta(double seconds) {
  if (seconds < 0 || seconds > kMaxEtaSeconds) return "unknown";
  auto s = static_cast<std::int64_t>(seconds + 0.5);
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s / 60 % 60) + "m";
}

void SyncProgress::update(Clock::time_point now, std::uint64_t height, std::uint64_t goal, bool behind,
                          std::size_t serving) {
  if (!catching_up_) {
    if (behind && goal >= height + kCatchUpGap) {
      catching_up_ = true;
      started_ = last_log_ = now;
      from_ = height_at_last_log_ = height;
      spdlog::info("sync: catching up from height {} to {} ({} blocks behind)", height, goal, goal - height);
    }
    return;
  }
  if (!behind) {
    catching_up_ = false;
    const double secs = std::chrono::duration<double>(now - started_).count();
    spdlog::info("sync: caught up at height {}: {} blocks in {:.1f}s", height, height - from_, secs);
    return;
  }
  if (now - last_log_ < interval_) return;
  const double secs = std::chrono::duration<double>(now - last_log_).count();
  const double rate = secs > 0 ? static_cast<double>(height - std::min(height, height_at_last_log_)) / secs : 0;
  const auto left = goal > height ? goal - height : 0;
  spdlog::info("sync: height {} of {} ({:.1f}%), {:.0f} blocks/s, ETA {}, {} peers serving", height, goal,
               goal ? 100.0 * static_cast<double>(height) / static_cast<double>(goal) : 100.0, rate,
               rate > 0 ? format_eta(static_cast<double>(left) / rate) : std::string("unknown"), serving);
  last_log_ = now;
  height_at_last_log_ = height;
}

}  // namespace core::node
