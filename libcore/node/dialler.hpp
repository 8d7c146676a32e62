#pragma once
// Dialling peers (DESIGN.md 6): which addresses to dial and when (the
// address book's due candidates, masternodes first and outside
// max_outbound, then static and discovered ones in free slots, best score
// first: p2p::select_dials), connecting and the initiator's side of the
// handshake, and what each attempt teaches the address book: success,
// failure (backoff, breaker, parking, score), this node itself, another
// network. Repeated failures of one address are logged once per
// kFailureLogPeriod. A connection whose handshake completed is handed to
// the connection manager.
//
// The loop sleeps until the next dial is due or check_interval, whichever
// comes first; poke() wakes it when something changed (a slot freed, an
// address learnt, a failure whose retry is sooner). However much is due,
// new attempts are capped at max_dials_per_second (a token bucket): the
// rest wait for the next token, masternodes first.
//
// Internal to node/ (Asio). Threads: the node's strand.

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include <spdlog/common.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "libcore/node/address_book.hpp"
#include "libcore/node/connection_manager.hpp"
#include "libcore/util/error.hpp"
#include "libcore/util/token_bucket.hpp"

namespace core::node {

struct DiallerSettings {
  Millis check_interval = config::defaults::kCheckInterval;
  Millis handshake_timeout = config::defaults::kHandshakeTimeout;
  std::uint32_t max_outbound = config::defaults::kMaxOutbound;
  Millis parked_retry = config::defaults::kParkedRetry;  // for the log: when a parked address is tried again
  // New outbound attempts per second, every address together, whatever the
  // book holds; a burst of `dial_burst` (the genesis masternodes and the
  // outbound slots) is allowed at once, so a network still forms at once.
  std::uint32_t max_dials_per_second = config::defaults::kMaxDialsPerSecond;
  std::uint32_t dial_burst = config::defaults::kMaxOutbound;
};

class Dialler {
 public:
  Dialler(asio::io_context& io, DiallerSettings settings, ConnectionManager& manager, AddressBook& book,
          metrics::NodeMetrics& metrics);

  void start();
  void stop();
  // Re-plans now (something changed that may make a dial due).
  void poke();
  // Where outbound connections leave from (dial_source()); nullopt: the
  // system's choice. Before start().
  void set_source(std::optional<asio::ip::address> source) { source_ = std::move(source); }
  // The operator's /admin/connect: `address` (added as static, source
  // admin, forgiven its past) is dialled at once unless a dial is in flight.
  util::Result<void> dial_now(const util::HostPort& address);

 private:
  asio::awaitable<void> loop();
  void dial_due(SteadyTime now, SteadyTime& next);
  void start_dial(const std::string& key, SteadyTime now);
  asio::awaitable<void> run_outbound(std::string key, util::HostPort address);
  void handshake_succeeded(const std::string& key, const NodeId& id);
  void outbound_failed(const ConnectionPtr& c, const Failure& f);
  void dial_failed(const std::string& key, const Failure& f);
  void log_dial_failure(AddressEntry& e, const std::string& key, const Failure& f, SteadyTime now);
  void log_final_failure(spdlog::level::level_enum level, const std::string& key, const Failure& f,
                         const std::string& message);

  asio::io_context& io_;
  DiallerSettings s_;
  ConnectionManager& manager_;
  AddressBook& book_;
  metrics::NodeMetrics& m_;
  asio::steady_timer timer_;
  util::TokenBucket dials_;
  std::mt19937_64 rng_;
  std::optional<asio::ip::address> source_;
  bool stopped_ = false;
};

}  // namespace core::node
