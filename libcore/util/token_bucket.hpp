#pragma once
// A token bucket: at most `burst` events at once, refilled at `per_second`
// tokens a second. Pure: the caller passes the steady time. Used to bound
// work a peer can cause (pings answered, genesis requests served) and the
// node's own dial rate.
//
// Threads: a bucket is owned by one strand.

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace core::util {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // per_second > 0 and burst >= 1 (smaller values are raised to them).
  TokenBucket(double per_second, double burst)
      : per_second_(std::max(per_second, 1e-9)), burst_(std::max(burst, 1.0)), tokens_(burst_) {}

  // Takes one token if there is one at `now`.
  bool take(Clock::time_point now) {
    refill(now);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }
  // When the next token is there (now if one is).
  Clock::time_point next_token(Clock::time_point now) {
    refill(now);
    if (tokens_ >= 1.0) return now;
    const auto wait = std::chrono::duration<double>((1.0 - tokens_) / per_second_);
    return now + std::chrono::duration_cast<Clock::duration>(wait) + Clock::duration(1);
  }

 private:
  void refill(Clock::time_point now) {
    if (started_ && now > last_)
      tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * per_second_);
    if (!started_ || now > last_) last_ = now;
    started_ = true;
  }

  double per_second_, burst_, tokens_;
  Clock::time_point last_{};
  bool started_ = false;
};

}  // namespace core::util
