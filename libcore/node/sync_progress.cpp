#include "libcore/node/sync_progress.hpp"

#include <algorithm>

#include "libcore/util/log_event.hpp"

namespace core::node {

namespace {

// ETAs beyond this many seconds (about four months) are "unknown".
constexpr double kMaxEtaSeconds = 1e7;

void log_report(const SyncReport& r) {
  using Kind = SyncReport::Kind;
  const auto info = spdlog::level::info;
  switch (r.kind) {
    case Kind::Started:
      util::log_event(info, "sync_started", {{"from", r.from}, {"height", r.height}, {"target", r.target}},
                      "sync: catching up from height {} to {} ({} blocks behind)", r.height, r.target,
                      r.target - r.height);
      break;
    case Kind::Done:
      util::log_event(info, "sync_done",
                      {{"from", r.from},
                       {"height", r.height},
                       {"target", r.target},
                       {"blocks", r.height - std::min(r.height, r.from)},
                       {"seconds", r.seconds}},
                      "sync: caught up at height {}: {} blocks in {:.1f}s", r.height,
                      r.height - std::min(r.height, r.from), r.seconds);
      break;
    case Kind::Progress: {
      const auto eta = r.eta_seconds ? format_eta(*r.eta_seconds) : std::string("unknown");
      util::log_event(info, "sync_progress",
                      {{"from", r.from},
                       {"height", r.height},
                       {"target", r.target},
                       {"percent", r.percent},
                       {"blocks_per_s", r.blocks_per_second},
                       {"eta_s", r.eta_seconds},
                       {"peers", r.serving}},
                      "sync: height {} of {} ({:.1f}%), {:.0f} blocks/s, ETA {}, {} peers serving", r.height, r.target,
                      r.percent, r.blocks_per_second, eta, r.serving);
      break;
    }
  }
}

}  // namespace

std::string format_eta(double seconds) {
  if (seconds < 0 || seconds > kMaxEtaSeconds) return "unknown";
  auto s = static_cast<std::int64_t>(seconds + 0.5);
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s / 60 % 60) + "m";
}

double catch_up_percent(std::uint64_t from, std::uint64_t height, std::uint64_t target) {
  if (height >= target) return 100.0;
  if (height <= from) return 0.0;
  return 100.0 * static_cast<double>(height - from) / static_cast<double>(target - from);
}

std::optional<SyncReport> SyncProgress::update(Clock::time_point now, std::uint64_t height, std::uint64_t goal,
                                               bool behind, std::size_t serving) {
  SyncReport r;
  r.height = height;
  r.target = goal;
  r.serving = serving;
  if (!catching_up_) {
    if (!(behind && goal >= height + kCatchUpGap)) return std::nullopt;
    catching_up_ = true;
    started_ = last_log_ = now;
    from_ = height_at_last_log_ = height;
    r.kind = SyncReport::Kind::Started;
    r.from = from_;
    r.percent = catch_up_percent(from_, height, goal);
    log_report(r);
    return r;
  }
  r.from = from_;
  r.percent = catch_up_percent(from_, height, goal);
  if (!behind) {
    catching_up_ = false;
    r.kind = SyncReport::Kind::Done;
    r.seconds = std::chrono::duration<double>(now - started_).count();
    r.blocks_per_second = r.seconds > 0 ? static_cast<double>(height - std::min(height, from_)) / r.seconds : 0;
    log_report(r);
    return r;
  }
  if (now - last_log_ < interval_) return std::nullopt;
  const double secs = std::chrono::duration<double>(now - last_log_).count();
  r.kind = SyncReport::Kind::Progress;
  r.blocks_per_second = secs > 0 ? static_cast<double>(height - std::min(height, height_at_last_log_)) / secs : 0;
  const auto left = goal > height ? goal - height : 0;
  if (r.blocks_per_second > 0) {
    const double eta = static_cast<double>(left) / r.blocks_per_second;
    if (eta <= kMaxEtaSeconds) r.eta_seconds = eta;
  }
  last_log_ = now;
  height_at_last_log_ = height;
  log_report(r);
  return r;
}

}  // namespace core::node
