#pragma once
// Connection management policy (DESIGN.md section 6), pure: no sockets, no
// clock reads, no sleeps. The caller passes the steady time `now` into every
// call and injects randomness (a uniform [0,1) source), so every decision is
// deterministic and testable. Values of these classes are owned by the node's
// executor; none is thread-safe.
//
//   PeerClass        masternode / static / discovered and their dial rules;
//   backoff_*        min(max_delay, base_delay * 2^n) with full jitter;
//   AddressState     one per dialable address: backoff, attempt limit and
//                    parking, circuit breaker; what /addrbook shows;
//   PeerScore        quality score in [-100, 100] with half-life decay;
//   dial_order       who is dialled first; free_outbound_slots.
//
// The settings structs mirror [reconnect] and [peer_quality] of tnode.toml;
// their defaults are config/defaults.hpp's (the one place defaults are
// written) and settings_from_config.hpp fills them from a
// config::NodeConfig (this header does not see NodeConfig).

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "libcore/config/defaults.hpp"
#include "libcore/util/address.hpp"

namespace core::p2p {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;
// A source of uniform doubles in [0, 1) (values outside are clamped).
using Uniform01 = std::function<double()>;

// ------------------------------------------------------------------ classes

// In dial priority order: masternodes first, then static, then discovered.
enum class PeerClass { Masternode, Static, Discovered };
// "masternode", "static", "discovered": /peers, /addrbook and metric labels.
const char* to_string(PeerClass c);

// [reconnect] of tnode.toml, plus the fixed cap on the breaker's cool-down.
struct ReconnectSettings {
  Millis base_delay = config::defaults::kBaseDelay;
  Millis max_delay = config::defaults::kMaxDelay;
  std::uint32_t max_attempts = config::defaults::kMaxAttempts;                       // static peers
  std::uint32_t max_attempts_discovered = config::defaults::kMaxAttemptsDiscovered;  // discovered peers
  std::uint32_t breaker_failures = config::defaults::kBreakerFailures;
  Millis breaker_cooldown = config::defaults::kBreakerCooldown;
  Millis breaker_cooldown_cap = config::defaults::kBreakerCooldownCap;  // DESIGN.md 6: "capped at 1 h"
  Millis parked_retry = config::defaults::kParkedRetry;

  friend bool operator==(const ReconnectSettings&, const ReconnectSettings&) = default;
};

// [peer_quality] of tnode.toml.
struct PeerQualitySettings {
  std::int32_t ban_threshold = config::defaults::kBanThreshold;
  Millis ban_duration = config::defaults::kBanDuration;
  Millis score_half_life = config::defaults::kScoreHalfLife;
  std::int32_t ip_ban_threshold = config::defaults::kIpBanThreshold;
  Millis ip_ban_duration = config::defaults::kIpBanDuration;

  friend bool operator==(const PeerQualitySettings&, const PeerQualitySettings&) = default;
};

// How many attempts since the last success (or fresh evidence) a class gets
// before its address is parked: max_attempts for static peers,
// max_attempts_discovered for discovered ones, nullopt (unlimited) for
// masternodes.
std::optional<std::uint32_t> attempt_limit(PeerClass c, const ReconnectSettings& s);

// ------------------------------------------------------------------ backoff

// min(max, base * 2^attempt), exact and overflow-free for every attempt
// (large attempts give `max`). base and max must not be negative.
Millis backoff_ceiling(std::uint32_t attempt, Millis base, Millis max);

// Full jitter: a delay in [0, backoff_ceiling(attempt, base, max)], whole
// milliseconds, floor(u * (ceiling + 1ms)) for u = uniform01(). u = 0 gives 0,
// u just below 1 gives the ceiling.
Millis backoff_delay(std::uint32_t attempt, Millis base, Millis max, const Uniform01& uniform01);

// ------------------------------------------------------------ address state

enum class BreakerState { Closed, Open, HalfOpen };
// "closed", "open", "half_open": /addrbook and logs.
const char* to_string(BreakerState s);

// What /addrbook shows for one address at `now`.
struct AddressSnapshot {
  PeerClass peer_class = PeerClass::Discovered;
  std::uint32_t attempts = 0;              // since the last success or fresh evidence
  std::uint32_t consecutive_failures = 0;  // since the last success
  BreakerState breaker = BreakerState::Closed;
  bool parked = false;
  bool dialing = false;                   // an attempt is in flight
  std::optional<TimePoint> next_dial_at;  // nullopt while dialing
  Millis cooldown{0};                     // the breaker's current (or next) cool-down
  std::optional<TimePoint> last_attempt;
};

// What of an AddressState survives a restart (DESIGN.md 6: breaker states
// and scores are kept across restarts). Times are wall-clock unix ms, so a
// record means the same to the next process; restore() maps them onto its
// steady clock. An attempt in flight is not kept: it died with the process.
struct AddressStateRecord {
  PeerClass peer_class = PeerClass::Discovered;
  std::uint32_t attempts = 0;
  std::uint32_t consecutive_failures = 0;
  std::uint32_t backoff_failures = 0;
  bool parked = false;
  std::optional<std::int64_t> not_before_ms;  // end of the backoff wait
  std::optional<std::int64_t> last_attempt_ms;
  BreakerState breaker = BreakerState::Closed;  // as stored (Open stays Open until read after its cool-down)
  std::int64_t opened_at_ms = 0;
  Millis cooldown{0};
  friend bool operator==(const AddressStateRecord&, const AddressStateRecord&) = default;
};

// The dial policy of one address. Protocol for the caller: dial only when
// may_dial(now); call record_attempt(now) when the dial starts, then exactly
// one of record_success (handshake completed) or record_failure (refused,
// reset, timed out, handshake failed). A connection closed as a duplicate
// counts as a success: the address answered.
//
// Rules, each enforced by next_dial_at / may_dial:
// - Backoff: after the k-th failure in a row the next dial waits
//   backoff_delay(k - 1, base_delay, max_delay): ceilings 5 s, 10 s, 20 s, ...
//   up to max_delay. Success, fresh evidence and reset_backoff restart it.
// - One dial at a time: no dial while an attempt is in flight.
// - Parking: a failure that leaves `attempts` at or over the class's
//   attempt_limit parks the address (masternodes never park). A parked
//   address may be dialled once per parked_retry (from its last attempt), or
//   at once after record_fresh_evidence. Parking is never terminal: a success
//   or fresh evidence unparks it.
// - Circuit breaker: Closed -> Open after breaker_failures consecutive
//   failures; no dials while Open. After the cool-down it is HalfOpen: one
//   trial dial (the in-flight rule makes it exactly one). Trial success ->
//   Closed and the cool-down returns to breaker_cooldown; any failure while
//   not Closed -> Open again with the cool-down doubled, capped at
//   breaker_cooldown_cap. Fresh evidence does not bypass the breaker: gossip
//   is unverified and the breaker is what stops hammering an address.
// The wait after a `capacity` refusal (record_busy), before jitter.
inline constexpr Millis kBusyRetry{2000};

class AddressState {
 public:
  AddressState(PeerClass peer_class, const ReconnectSettings& settings);

  // The earliest time, not before `now`, at which may_dial becomes true if
  // nothing else happens; nullopt while an attempt is in flight.
  std::optional<TimePoint> next_dial_at(TimePoint now) const;
  // Backoff, breaker, parking and the in-flight rule all allow a dial now.
  bool may_dial(TimePoint now) const { return next_dial_at(now) == now; }

  // A dial to this address starts now.
  void record_attempt(TimePoint now);
  // The handshake completed: backoff, attempts and failures reset, unparked,
  // breaker closed with its cool-down back at breaker_cooldown.
  void record_success(TimePoint now);
  // The dial failed: schedules the next attempt with jittered backoff, steps
  // the breaker and parks the address at its class's limit.
  void record_failure(TimePoint now, const Uniform01& uniform01);
  // The peer answered but refused for `capacity` (its slots or handshakes
  // are full, DESIGN.md 6): "try again shortly", not a failure. The attempt
  // is not counted, no backoff, breaker or parking step (a half-open breaker
  // closes: the address answered); the next dial waits kBusyRetry with
  // +-50 % jitter, so peers refused together do not retry together.
  void record_busy(TimePoint now, const Uniform01& uniform01);
  // The address is alive (it connected to us, or a peer reported it): unparks
  // it, resets the attempt counter and the backoff, so it may be dialled now
  // unless its breaker is open.
  void record_fresh_evidence(TimePoint now);
  // A node that had no peers regained one (DESIGN.md 6): the backoff wait and
  // exponent are cleared and an open breaker goes half-open, so the address
  // gets one dial at once. The caller does this for masternodes. Parking and
  // counters are untouched.
  void reset_backoff(TimePoint now);
  // The address turned out to belong to another class (e.g. a discovered
  // address is a masternode's). Unparks it if the new class's limit allows.
  void reclassify(PeerClass peer_class);

  PeerClass peer_class() const { return class_; }
  std::uint32_t attempts() const { return attempts_; }
  std::uint32_t consecutive_failures() const { return consecutive_failures_; }
  bool parked() const { return parked_; }
  bool dialing() const { return dialing_; }
  BreakerState breaker(TimePoint now) const;
  // The cool-down the breaker is serving, or will serve when it next opens.
  Millis cooldown() const { return cooldown_; }
  std::optional<TimePoint> last_attempt() const { return last_attempt_; }
  AddressSnapshot snapshot(TimePoint now) const;

  // The persistent form at (now, now_ms: the same instant on the steady and
  // the wall clock), and back. restore() with another process's record maps
  // its wall times onto this process's steady clock; a cool-down or backoff
  // that ran out while the node was down is simply over.
  AddressStateRecord save(TimePoint now, std::int64_t now_ms) const;
  static AddressState restore(const AddressStateRecord& record, const ReconnectSettings& settings, TimePoint now,
                              std::int64_t now_ms);

 private:
  // Makes the time-driven Open -> HalfOpen transition explicit.
  void settle(TimePoint now);
  void open_breaker(TimePoint now, Millis cooldown);

  PeerClass class_;
  ReconnectSettings settings_;
  std::uint32_t attempts_ = 0;
  std::uint32_t consecutive_failures_ = 0;
  std::uint32_t backoff_failures_ = 0;  // failures since the backoff last restarted
  bool parked_ = false;
  bool dialing_ = false;
  std::optional<TimePoint> not_before_;  // end of the backoff wait
  std::optional<TimePoint> last_attempt_;
  BreakerState breaker_ = BreakerState::Closed;
  TimePoint opened_at_{};
  Millis cooldown_;
};

// --------------------------------------------------------------- peer score

enum class ScoreEvent {
  HandshakeCompleted,
  UptimeMinute,  // one more minute connected
  DialFailure,
  Timeout,
  Reset,
  Refused,
  Stalled,  // a sync request not answered within stall_timeout
  ProtocolViolation,
  InvalidBlock,
};
const char* to_string(ScoreEvent e);

inline constexpr double kMinScore = -100;
inline constexpr double kMaxScore = 100;
// Steps per event. Failures are small steps; misbehaviour is large: two
// protocol violations in a row reach the default ban threshold (-50), and an
// invalid block goes from any score straight to kMinScore, at or below every
// valid ban_threshold (-100..-1).
inline constexpr double kHandshakeCompletedStep = 5;
inline constexpr double kUptimeMinuteStep = 1;
inline constexpr double kDialFailureStep = -2;
inline constexpr double kTimeoutStep = -3;
inline constexpr double kResetStep = -2;
inline constexpr double kRefusedStep = -2;
inline constexpr double kStalledStep = -2;
inline constexpr double kProtocolViolationStep = -25;
inline constexpr double kInvalidBlockStep = kMinScore - kMaxScore;
double score_step(ScoreEvent e);

// A peer's quality score in [kMinScore, kMaxScore]. It decays towards zero,
// value * 0.5^(dt / half_life), computed lazily from the `now` of each call;
// time never runs backwards for it (an earlier `now` sees no decay). To
// persist it, store value(t) with the wall time; to restore, construct with
// that value and as_of = now - (wall time elapsed since) so the downtime
// decays too.
class PeerScore {
 public:
  PeerScore() : PeerScore(PeerQualitySettings{}.score_half_life) {}
  // `value` is clamped; half_life must be positive (a non-positive one
  // decays to zero at once).
  explicit PeerScore(Millis half_life, double value = 0, TimePoint as_of = TimePoint{});

  double value(TimePoint now) const;
  // Decays to `now`, adds score_step(e), clamps.
  void apply(ScoreEvent e, TimePoint now) { add(score_step(e), now); }
  void add(double step, TimePoint now);
  // The score as operators see it (rounded to a whole number) is at or
  // below ban_threshold: two steps of -25 a second apart (-49.97) reach -50.
  bool should_ban(TimePoint now, std::int32_t ban_threshold) const { return std::lround(value(now)) <= ban_threshold; }

  Millis half_life() const { return half_life_; }
  // The stored value and the time it was last updated (decay is computed
  // from there): what the node persists, so an unchanged score is not
  // rewritten as it decays.
  double stored_value() const { return value_; }
  TimePoint as_of() const { return as_of_; }

 private:
  Millis half_life_;
  double value_;
  TimePoint as_of_;
};

// --------------------------------------------------------------- dial order

struct DialCandidate {
  util::HostPort address;
  PeerClass peer_class = PeerClass::Discovered;
  double score = 0;  // PeerScore::value(now)
};

// Masternodes first, then static, then discovered; within a class the best
// score first; equal candidates keep their input order. The caller passes
// only addresses that may be dialled now (may_dial, should_skip_dial, bans).
std::vector<DialCandidate> dial_order(std::vector<DialCandidate> candidates);

// Outbound slots left for static and discovered peers. Masternodes are not
// counted against max_outbound: pass the outbound connections (and dials in
// progress) to non-masternodes only. Never negative.
std::size_t free_outbound_slots(std::size_t max_outbound, std::size_t non_masternode_outbound);

// What to dial now: every masternode candidate, then the best static and
// discovered ones, at most `free_slots` of them; in dial_order.
std::vector<DialCandidate> select_dials(std::vector<DialCandidate> candidates, std::size_t free_slots);

}  // namespace core::p2p
