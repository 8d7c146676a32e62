#pragma once
// Every default of tnode.toml, and the limits of the daemon that tnode.toml
// does not set (DESIGN.md sections 6, 7 and 9; documented in tnode.toml(5)),
// in one place. config::NodeConfig takes its defaults from here, and so do
// the settings structs of the libraries it is mapped onto
// (p2p::ReconnectSettings, p2p::PeerQualitySettings, node::NetworkSettings,
// node::SyncSettings, http::ServerLimits, ...), so a default is written once; a unit test
// (config_tests.cpp) proves that mapping NodeConfig{} gives each struct's
// defaults.
//
// Depends on nothing but the standard library, so any module may include it.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace core::config::defaults {

using Millis = std::chrono::milliseconds;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// ---- [network]
inline constexpr std::uint16_t kPeerPort = 24100;
inline constexpr std::uint16_t kHttpPort = 24101;
inline constexpr std::uint32_t kMaxInbound = 64;
inline constexpr std::uint32_t kMaxOutbound = 8;
inline constexpr std::uint32_t kMaxPerIp = 8;
inline constexpr Millis kCheckInterval = minutes(2);
inline constexpr Millis kHandshakeTimeout = seconds(10);
// A real link that dies goes silent rather than refusing: a ping every 5 s
// and 5 s to answer it notice that within 10 s (DESIGN.md 5).
inline constexpr Millis kPingInterval = seconds(5);
inline constexpr Millis kPingTimeout = seconds(5);
inline constexpr Millis kIdleTimeout = seconds(90);
inline constexpr Millis kStallTimeout = seconds(2);
inline constexpr std::uint64_t kMaxMessageSize = std::uint64_t{4} << 20;
// Hostile peers (DESIGN.md 11).
inline constexpr std::size_t kMaxAddressLength =
    255;  // network.external_address; the wire's bound (p2p::kMaxPeerAddress)
inline constexpr std::size_t kMaxAddressBook = 1024;               // known addresses, every class together
inline constexpr std::size_t kMaxAddressesPerSource = 128;         // introduced by one gossiping/inbound IP
inline constexpr std::uint32_t kMaxDialsPerSecond = 10;            // new outbound attempts, all addresses
inline constexpr std::uint32_t kMaxGenesisRequestsPerMinute = 20;  // per remote IP
inline constexpr std::uint32_t kMaxPingsPerSecond = 10;            // a peer's pings answered; more are ignored

// ---- [reconnect]
inline constexpr Millis kBaseDelay = seconds(5);
inline constexpr Millis kMaxDelay = minutes(10);
inline constexpr std::uint32_t kMaxAttempts = 10;
inline constexpr std::uint32_t kMaxAttemptsDiscovered = 3;
inline constexpr std::uint32_t kBreakerFailures = 5;
inline constexpr Millis kBreakerCooldown = minutes(1);
inline constexpr Millis kParkedRetry = hours(1);

// ---- [peer_quality]
inline constexpr std::int32_t kBanThreshold = -50;
inline constexpr Millis kBanDuration = hours(24);
inline constexpr Millis kScoreHalfLife = minutes(10);
inline constexpr std::int32_t kIpBanThreshold = -100;  // misbehaviour from one IP, every key together
inline constexpr Millis kIpBanDuration = minutes(10);

// ---- [chain]
inline constexpr Millis kMaxClockDrift = seconds(2);
inline constexpr std::uint64_t kMaxReorgDepth = 1000;

// ---- [http]
// Connections served at once; with the per-IP cap, at least 16 addresses
// are needed to fill the server, and a newcomer from another address then
// takes a slot from the most crowded one (http/admission.hpp).
inline constexpr std::uint32_t kHttpMaxConnections = 128;
inline constexpr std::uint32_t kHttpMaxConnectionsPerIp = 8;
// The request line and headers must arrive within this, from the first
// byte of the request (from accept for a connection's first request).
inline constexpr Millis kHttpHeaderTimeout = seconds(5);
// A keep-alive connection with no new request within this is closed.
inline constexpr Millis kHttpIdleTimeout = seconds(5);

// ---- fixed limits (not in tnode.toml)
// The least handshakes in progress at once (node::handshake_cap sizes the
// cap from the configured connections).
inline constexpr std::size_t kMaxHandshakes = 32;
// Bytes queued for one peer before it is dropped as slow_peer.
inline constexpr std::size_t kSendQueueLimit = std::size_t{16} << 20;
// The circuit breaker's cool-down doubles up to this.
inline constexpr Millis kBreakerCooldownCap = hours(1);
// A peer's sync request timeout doubles per stall up to this (a larger
// stall_timeout raises it).
inline constexpr Millis kMaxStallTimeout = seconds(64);
// HTTP request line + headers; beyond it the request gets 431.
inline constexpr std::size_t kHttpMaxHeaderBytes = 16 * 1024;
// HTTP request body; beyond it the request gets 413.
inline constexpr std::size_t kHttpMaxBodyBytes = 64 * 1024;
// Time for an HTTP request body to arrive once its headers have.
inline constexpr Millis kHttpBodyTimeout = seconds(10);
// Time to send one HTTP response.
inline constexpr Millis kHttpWriteTimeout = seconds(10);

}  // namespace core::config::defaults
