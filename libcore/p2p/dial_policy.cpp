#include "libcore/p2p/dial_policy.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <utility>

namespace core::p2p {

const char* to_string(PeerClass c) {
  switch (c) {
    case PeerClass::Masternode:
      return "masternode";
    case PeerClass::Static:
      return "static";
    case PeerClass::Discovered:
      return "discovered";
  }
  return "unknown";
}

const char* to_string(BreakerState s) {
  switch (s) {
    case BreakerState::Closed:
      return "closed";
    case BreakerState::Open:
      return "open";
    case BreakerState::HalfOpen:
      return "half_open";
  }
  return "unknown";
}

const char* to_string(ScoreEvent e) {
  switch (e) {
    case ScoreEvent::HandshakeCompleted:
      return "handshake_completed";
    case ScoreEvent::UptimeMinute:
      return "uptime_minute";
    case ScoreEvent::DialFailure:
      return "dial_failure";
    case ScoreEvent::Timeout:
      return "timeout";
    case ScoreEvent::Reset:
      return "reset";
    case ScoreEvent::Refused:
      return "refused";
    case ScoreEvent::Stalled:
      return "stalled";
    case ScoreEvent::ProtocolViolation:
      return "protocol_violation";
    case ScoreEvent::InvalidBlock:
      return "invalid_block";
  }
  return "unknown";
}

std::optional<std::uint32_t> attempt_limit(PeerClass c, const ReconnectSettings& s) {
  switch (c) {
    case PeerClass::Masternode:
      return std::nullopt;
    case PeerClass::Static:
      return s.max_attempts;
    case PeerClass::Discovered:
      return s.max_attempts_discovered;
  }
  return std::nullopt;
}

// ------------------------------------------------------------------ backoff

Millis backoff_ceiling(std::uint32_t attempt, Millis base, Millis max) {
  assert(base.count() >= 0 && max.count() >= 0);
  if (base.count() <= 0) return Millis{0};
  if (base >= max) return max;
  // base < max, so base * 2^attempt > max as soon as attempt reaches the bit
  // width; below that, compare against max >> attempt instead of shifting
  // base up, which could overflow.
  constexpr unsigned kBits = std::numeric_limits<Millis::rep>::digits;
  if (attempt >= kBits) return max;
  if (base.count() > (max.count() >> attempt)) return max;
  return Millis{base.count() << attempt};
}

Millis backoff_delay(std::uint32_t attempt, Millis base, Millis max, const Uniform01& uniform01) {
  const Millis ceiling = backoff_ceiling(attempt, base, max);
  double u = uniform01();
  // Clamp a misbehaving source rather than wait a negative or too long time.
  if (!(u >= 0.0)) u = 0.0;
  if (u >= 1.0) u = std::nextafter(1.0, 0.0);
  const double scaled = std::floor(u * (static_cast<double>(ceiling.count()) + 1.0));
  if (scaled >= static_cast<double>(ceiling.count())) return ceiling;
  return Millis{static_cast<Millis::rep>(scaled)};
}

// ------------------------------------------------------------ address state

AddressState::AddressState(PeerClass peer_class, const ReconnectSettings& settings)
    : class_(peer_class), settings_(settings), cooldown_(settings.breaker_cooldown) {}

BreakerState AddressState::breaker(TimePoint now) const {
  if (breaker_ == BreakerState::Open && now >= opened_at_ + cooldown_) return BreakerState::HalfOpen;
  return breaker_;
}

void AddressState::settle(TimePoint now) { breaker_ = breaker(now); }

void AddressState::open_breaker(TimePoint now, Millis cooldown) {
  breaker_ = BreakerState::Open;
  opened_at_ = now;
  cooldown_ = std::min(cooldown, settings_.breaker_cooldown_cap);
}

std::optional<TimePoint> AddressState::next_dial_at(TimePoint now) const {
  if (dialing_) return std::nullopt;
  TimePoint at = now;
  if (not_before_) at = std::max(at, *not_before_);
  if (parked_ && last_attempt_) at = std::max(at, *last_attempt_ + settings_.parked_retry);
  if (breaker_ == BreakerState::Open) at = std::max(at, opened_at_ + cooldown_);
  return at;
}

void AddressState::record_attempt(TimePoint now) {
  settle(now);
  dialing_ = true;
  ++attempts_;
  last_attempt_ = now;
}

void AddressState::record_success(TimePoint now) {
  settle(now);
  dialing_ = false;
  attempts_ = 0;
  consecutive_failures_ = 0;
  backoff_failures_ = 0;
  parked_ = false;
  not_before_.reset();
  breaker_ = BreakerState::Closed;
  cooldown_ = settings_.breaker_cooldown;
}

void AddressState::record_failure(TimePoint now, const Uniform01& uniform01) {
  settle(now);
  dialing_ = false;
  ++consecutive_failures_;
  ++backoff_failures_;
  not_before_ = now + backoff_delay(backoff_failures_ - 1, settings_.base_delay, settings_.max_delay, uniform01);

  if (breaker_ == BreakerState::Closed) {
    if (consecutive_failures_ >= settings_.breaker_failures) open_breaker(now, settings_.breaker_cooldown);
  } else {
    // A failed trial (or a dial the caller forced while open) re-opens it for
    // twice as long; halving the cap first keeps the doubling overflow-free.
    const Millis doubled =
        cooldown_ > settings_.breaker_cooldown_cap / 2 ? settings_.breaker_cooldown_cap : cooldown_ * 2;
    open_breaker(now, doubled);
  }

  if (const auto limit = attempt_limit(class_, settings_); limit && attempts_ >= *limit) parked_ = true;
}

void AddressState::record_busy(TimePoint now, const Uniform01& uniform01) {
  settle(now);
  dialing_ = false;
  if (attempts_ > 0) --attempts_;  // record_attempt counted it
  if (breaker_ == BreakerState::HalfOpen) breaker_ = BreakerState::Closed;
  const double u = std::clamp(uniform01(), 0.0, 1.0);
  not_before_ = now + std::chrono::duration_cast<Millis>(kBusyRetry * (0.5 + u));
}

void AddressState::record_fresh_evidence(TimePoint now) {
  settle(now);
  parked_ = false;
  attempts_ = 0;
  backoff_failures_ = 0;
  not_before_.reset();
}

void AddressState::reset_backoff(TimePoint now) {
  settle(now);
  backoff_failures_ = 0;
  not_before_.reset();
  if (breaker_ == BreakerState::Open) breaker_ = BreakerState::HalfOpen;
}

void AddressState::reclassify(PeerClass peer_class) {
  class_ = peer_class;
  const auto limit = attempt_limit(class_, settings_);
  if (!limit || attempts_ < *limit) parked_ = false;
}

AddressSnapshot AddressState::snapshot(TimePoint now) const {
  AddressSnapshot s;
  s.peer_class = class_;
  s.attempts = attempts_;
  s.consecutive_failures = consecutive_failures_;
  s.breaker = breaker(now);
  s.parked = parked_;
  s.dialing = dialing_;
  s.next_dial_at = next_dial_at(now);
  s.cooldown = cooldown_;
  s.last_attempt = last_attempt_;
  return s;
}

AddressStateRecord AddressState::save(TimePoint now, std::int64_t now_ms) const {
  const auto wall = [&](TimePoint t) { return now_ms + std::chrono::duration_cast<Millis>(t - now).count(); };
  AddressStateRecord r;
  r.peer_class = class_;
  r.attempts = attempts_;
  r.consecutive_failures = consecutive_failures_;
  r.backoff_failures = backoff_failures_;
  r.parked = parked_;
  if (not_before_) r.not_before_ms = wall(*not_before_);
  if (last_attempt_) r.last_attempt_ms = wall(*last_attempt_);
  r.breaker = breaker_;
  r.opened_at_ms = breaker_ == BreakerState::Closed ? 0 : wall(opened_at_);
  r.cooldown = cooldown_;
  return r;
}

AddressState AddressState::restore(const AddressStateRecord& r, const ReconnectSettings& settings, TimePoint now,
                                   std::int64_t now_ms) {
  const auto steady = [&](std::int64_t ms) { return now + Millis(ms - now_ms); };
  AddressState a(r.peer_class, settings);
  a.attempts_ = r.attempts;
  a.consecutive_failures_ = r.consecutive_failures;
  a.backoff_failures_ = r.backoff_failures;
  a.parked_ = r.parked;
  if (r.not_before_ms) a.not_before_ = steady(*r.not_before_ms);
  if (r.last_attempt_ms) a.last_attempt_ = steady(*r.last_attempt_ms);
  a.breaker_ = r.breaker;
  if (r.breaker != BreakerState::Closed) a.opened_at_ = steady(r.opened_at_ms);
  a.cooldown_ = std::clamp(r.cooldown, Millis(1), settings.breaker_cooldown_cap);
  return a;
}

// --------------------------------------------------------------- peer score

double score_step(ScoreEvent e) {
  switch (e) {
    case ScoreEvent::HandshakeCompleted:
      return kHandshakeCompletedStep;
    case ScoreEvent::UptimeMinute:
      return kUptimeMinuteStep;
    case ScoreEvent::DialFailure:
      return kDialFailureStep;
    case ScoreEvent::Timeout:
      return kTimeoutStep;
    case ScoreEvent::Reset:
      return kResetStep;
    case ScoreEvent::Refused:
      return kRefusedStep;
    case ScoreEvent::Stalled:
      return kStalledStep;
    case ScoreEvent::ProtocolViolation:
      return kProtocolViolationStep;
    case ScoreEvent::InvalidBlock:
      return kInvalidBlockStep;
  }
  return 0;
}

PeerScore::PeerScore(Millis half_life, double value, TimePoint as_of)
    : half_life_(half_life), value_(std::clamp(value, kMinScore, kMaxScore)), as_of_(as_of) {}

double PeerScore::value(TimePoint now) const {
  if (now <= as_of_ || value_ == 0) return value_;
  if (half_life_.count() <= 0) return 0;
  // Millisecond resolution is exact enough for a 10-minute half-life and
  // keeps whole half-lives exact: 0.5^1 == 0.5.
  const double elapsed = std::chrono::duration<double, std::milli>(now - as_of_).count();
  const double half_lives = elapsed / std::chrono::duration<double, std::milli>(half_life_).count();
  return value_ * std::exp2(-half_lives);
}

void PeerScore::add(double step, TimePoint now) {
  const double decayed = value(now);
  value_ = std::clamp(decayed + step, kMinScore, kMaxScore);
  as_of_ = std::max(as_of_, now);
}

// --------------------------------------------------------------- dial order

std::vector<DialCandidate> dial_order(std::vector<DialCandidate> candidates) {
  std::stable_sort(candidates.begin(), candidates.end(), [](const DialCandidate& a, const DialCandidate& b) {
    if (a.peer_class != b.peer_class) return a.peer_class < b.peer_class;  // enum order is priority order
    return a.score > b.score;
  });
  return candidates;
}

std::size_t free_outbound_slots(std::size_t max_outbound, std::size_t non_masternode_outbound) {
  return non_masternode_outbound >= max_outbound ? 0 : max_outbound - non_masternode_outbound;
}

std::vector<DialCandidate> select_dials(std::vector<DialCandidate> candidates, std::size_t free_slots) {
  std::vector<DialCandidate> chosen;
  for (auto& c : dial_order(std::move(candidates))) {
    if (c.peer_class == PeerClass::Masternode) {
      chosen.push_back(std::move(c));
    } else if (free_slots > 0) {
      chosen.push_back(std::move(c));
      --free_slots;
    }
  }
  return chosen;
}

}  // namespace core::p2p
