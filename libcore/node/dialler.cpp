#include "libcore/node/dialler.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "libcore/metrics/node_metrics.hpp"
#include "libcore/node/spawn.hpp"
#include "libcore/p2p/duplicates.hpp"
#include "libcore/util/log_event.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"

namespace core::node {

namespace {

using p2p::PeerClass;
using p2p::RejectCode;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Failures that say the address is not a peer of ours at all (another
// network): dialling it again can never succeed.
bool is_wrong_network(const Failure& f) {
  if (f.kind == FailureKind::rejected)
    return f.code == "genesis_mismatch" || f.code == "network_mismatch" || f.code == "version";
  // A reply in another network's framing (bad magic) is another network too.
  return f.kind == FailureKind::protocol_error && f.code == "bad_magic";
}

// The peer is alive and full (its slots or handshakes): not a failure.
bool is_busy(const Failure& f) { return f.kind == FailureKind::rejected && f.code == "capacity"; }

// What a failed dial costs the address's score.
p2p::ScoreEvent score_event_of(FailureKind kind) {
  switch (kind) {
    case FailureKind::refused:
      return p2p::ScoreEvent::Refused;
    case FailureKind::timeout:
      return p2p::ScoreEvent::Timeout;
    case FailureKind::protocol_error:
      return p2p::ScoreEvent::ProtocolViolation;
    default:
      return p2p::ScoreEvent::DialFailure;
  }
}

}  // namespace

Dialler::Dialler(asio::io_context& io, DiallerSettings settings, ConnectionManager& manager, AddressBook& book,
                 metrics::NodeMetrics& metrics)
    : io_(io),
      s_(std::move(settings)),
      manager_(manager),
      book_(book),
      m_(metrics),
      timer_(io),
      dials_(s_.max_dials_per_second, std::max<double>(s_.max_dials_per_second, s_.dial_burst)),
      rng_(std::random_device{}()) {}

void Dialler::start() { spawn(io_, loop(), "p2p dialler"); }

void Dialler::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Dialler::poke() {
  if (!stopped_) timer_.cancel();
}

asio::awaitable<void> Dialler::loop() {
  while (!stopped_) {
    const auto now = Clock::now();
    auto next = now + s_.check_interval;
    dial_due(now, next);
    timer_.expires_at(next);
    co_await timer_.async_wait(kTuple);  // cancelled by poke()
  }
}

// Starts every dial that is due and lowers `next` to the earliest time a
// dial we would make becomes due.
void Dialler::dial_due(SteadyTime now, SteadyTime& next) {
  // Outbound slots in use: connected non-masternode outbound peers plus
  // non-masternode dials in flight (not yet connections).
  const std::size_t in_use = manager_.outbound_non_masternodes() + book_.dialing_non_masternodes();
  const std::size_t free_slots = p2p::free_outbound_slots(s_.max_outbound, in_use);
  auto due = book_.due(now, free_slots, [this](const NodeId& id) {
    return manager_.is_banned(id) ||
           p2p::should_skip_dial(id, [this](const NodeId& other) { return manager_.is_connected(other); });
  });
  if (due.next) next = std::min(next, *due.next);
  for (const auto& d : p2p::select_dials(std::move(due.candidates), free_slots)) {
    if (!dials_.take(now)) {
      // Over max_dials_per_second: the rest wait for the next token.
      next = std::min(next, dials_.next_token(now));
      break;
    }
    start_dial(d.address.to_string(), now);
  }
}

void Dialler::start_dial(const std::string& k, SteadyTime now) {
  auto* e = book_.find(k);
  if (!e) return;
  book_.record_attempt(*e, now, util::now_ms());
  m_.reconnect_attempts.with({p2p::to_string(e->state.peer_class())}).inc();
  util::log_event(spdlog::level::debug, "dial_started",
                  {{"addr", k}, {"class", p2p::to_string(e->state.peer_class())}, {"attempts", e->state.attempts()}},
                  "p2p: dialling {} ({}, attempt {})", k, p2p::to_string(e->state.peer_class()), e->state.attempts());
  spawn(io_, run_outbound(k, e->address), "p2p dial " + k);
}

util::Result<void> Dialler::dial_now(const util::HostPort& address) {
  auto* e = book_.add(address, PeerClass::Static, "admin");
  if (!e) return util::fail("address book full");
  if (e->self) return util::fail(address.to_string() + " is this node");
  const auto now = Clock::now();
  e->wrong_network = false;
  e->state.record_fresh_evidence(now);
  e->state.reset_backoff(now);
  if (!e->state.dialing()) start_dial(address.to_string(), now);  // the operator's own: not rate-limited
  return {};
}

asio::awaitable<void> Dialler::run_outbound(std::string k, util::HostPort address) {
  const auto started_at = Clock::now();
  const auto deadline = started_at + s_.handshake_timeout;
  auto socket = co_await connect_to(address, deadline, source_);
  if (!socket) {
    m_.dial_errors.with({socket.error().reason()}).inc();
    dial_failed(k, socket.error());
    co_return;
  }
  if (stopped_ || manager_.stopping()) co_return;
  auto c = manager_.make_connection(std::move(*socket), true);
  c->set_dial_key(k);
  const p2p::Hello hello = manager_.our_hello();
  auto result =
      co_await initiate_handshake(c->wire(), hello, manager_.local().key, manager_.local().identity, deadline);
  if (!result) {
    m_.dial_errors.with({result.error().reason()}).inc();
    outbound_failed(c, result.error());
    co_return;
  }
  c->set_handshake(*result);
  // The banned check the responder made for its side.
  if (manager_.is_banned(c->id())) {
    outbound_failed(c, local_failure(FailureKind::rejected, {RejectCode::banned, "this node has banned you"}));
    co_return;
  }
  if (manager_.stopping()) {
    c->goodbye(RejectCode::shutdown, "node is shutting down");
    co_return;
  }
  handshake_succeeded(k, c->id());
  co_await manager_.adopt(c, started_at);
}

// The dialled address answered with a completed handshake.
void Dialler::handshake_succeeded(const std::string& k, const NodeId& id) {
  auto* e = book_.find(k);
  if (!e) return;
  if (e->unlogged_failures > 0 || e->state.consecutive_failures() > 0)
    util::log_event(spdlog::level::info, "dial_recovered",
                    {{"addr", k}, {"peer", id.hex()}, {"failures", e->state.consecutive_failures()}},
                    "p2p: {} reachable again after {} failed attempts", k, e->state.consecutive_failures());
  book_.record_success(*e, id, Clock::now(), util::now_ms());
}

// A handshake we initiated failed: counted, recorded against the address
// (summarised there), and the connection says goodbye.
void Dialler::outbound_failed(const ConnectionPtr& c, const Failure& f) {
  manager_.handshake_failed(*c, f);
  dial_failed(c->dial_key(), f);
  c->goodbye(f);
}

// A dial that never produced a connection (or whose handshake failed).
void Dialler::dial_failed(const std::string& k, const Failure& f) {
  auto* e = book_.find(k);
  if (!e) return;
  const auto now = Clock::now();
  const auto uniform01 = [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); };
  if (is_busy(f)) {
    book_.record_busy(*e, f.label() + ": " + f.detail, now, uniform01);
    util::log_event(spdlog::level::debug, "dial_busy", {{"addr", k}, {"reason", f.reason()}, {"detail", f.detail}},
                    "p2p: {} is busy ({}); retrying shortly", k, f.detail);
    poke();
    return;
  }
  book_.record_failure(*e, score_event_of(f.kind), f.label() + ": " + f.detail, now, uniform01);
  if (f.kind == FailureKind::rejected && f.code == "self") {
    e->self = true;
    log_final_failure(spdlog::level::info, k, f,
                      fmt::format("p2p: {} is this node itself; it will not be dialled again", k));
    return;
  }
  if (is_wrong_network(f)) {
    e->wrong_network = true;
    log_final_failure(spdlog::level::warn, k, f,
                      fmt::format("p2p: {} is on another network ({}); it will not be dialled again", k, f.detail));
    return;
  }
  log_dial_failure(*e, k, f, now);
  poke();  // its next_dial_at may be sooner than the dialler's wake-up
}

// One line for the first failure after a success, then at most one summary
// per kFailureLogPeriod: a dead peer never floods the log.
void Dialler::log_dial_failure(AddressEntry& e, const std::string& k, const Failure& f, SteadyTime now) {
  auto next = e.state.next_dial_at(now);
  const bool parked = e.state.parked();
  const auto next_dial_ms = parked ? std::optional<Millis>(s_.parked_retry)
                            : next ? std::optional<Millis>(std::chrono::duration_cast<Millis>(*next - now))
                                   : std::nullopt;
  std::string retry = parked         ? "parked (retry in " + util::format_duration(s_.parked_retry) + ")"
                      : next_dial_ms ? "next attempt in " + util::format_duration(*next_dial_ms)
                                     : "no retry scheduled";
  auto level = spdlog::level::debug;
  std::string message;
  if (!e.last_failure_log || now - *e.last_failure_log >= kFailureLogPeriod || parked) {
    level = spdlog::level::info;
    if (e.unlogged_failures > 0)
      message = fmt::format("p2p: {} still failing: {} more failed attempts since last report, last {}; {}; breaker {}",
                            k, e.unlogged_failures, f.label(), retry, p2p::to_string(e.state.breaker(now)));
    else
      message = fmt::format("p2p: dial {} failed: {} ({}); {}", k, f.label(), f.detail, retry);
  } else {
    ++e.unlogged_failures;
    message = fmt::format("p2p: dial {} failed: {} ({}); {}", k, f.label(), f.detail, retry);
  }
  util::log_event(level, "dial_failed",
                  {{"addr", k},
                   {"class", p2p::to_string(e.state.peer_class())},
                   {"reason", f.reason()},
                   {"kind", to_string(f.kind)},
                   {"by_peer", f.by_peer},
                   {"detail", f.detail},
                   {"attempts", e.state.attempts()},
                   {"failures", e.state.consecutive_failures()},
                   {"suppressed", level == spdlog::level::info ? e.unlogged_failures : 0},
                   {"redial", parked || next_dial_ms.has_value()},
                   {"parked", parked},
                   {"next_dial_ms", next_dial_ms ? std::optional<std::int64_t>(next_dial_ms->count()) : std::nullopt},
                   {"breaker", p2p::to_string(e.state.breaker(now))}},
                  "{}", message);
  if (level == spdlog::level::info) {
    e.unlogged_failures = 0;
    e.last_failure_log = now;
  }
}

// A dial that will not be repeated (the address is this node, or another
// network): one line with the failure.
void Dialler::log_final_failure(spdlog::level::level_enum level, const std::string& k, const Failure& f,
                                const std::string& message) {
  util::log_event(level, "dial_failed",
                  {{"addr", k},
                   {"reason", f.reason()},
                   {"kind", to_string(f.kind)},
                   {"by_peer", f.by_peer},
                   {"detail", f.detail},
                   {"redial", false}},
                  "{}", message);
}

}  // namespace core::node
