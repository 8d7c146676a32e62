#pragma once
// tnode.toml: every setting of the daemon with its default (DESIGN.md
// section 9, documented in tnode.toml(5); the defaults are config/defaults.hpp's). Parsing is strict: unknown keys,
// bad durations, sizes and addresses are refused with the file, the key and
// what is wrong. Relative paths are resolved against the directory of the
// config file; "~" is the user's home.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "libcore/config/defaults.hpp"
#include "libcore/crypto/types.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/error.hpp"
#include "libcore/util/units.hpp"

namespace core::config {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using util::Millis;

enum class Role { Regular, Masternode };
enum class LogFormat { Text, Json };
const char* to_string(Role r);
const char* to_string(LogFormat f);

struct NodeConfig {
  // [node]
  std::string data_dir = "~/.local/share/tnode";
  std::string key_file = "node.key";  // relative to data_dir
  Role role = Role::Regular;

  // [network]
  util::HostPort listen{"0.0.0.0", defaults::kPeerPort};
  std::string external_address;
  std::vector<std::string> peers;
  std::uint32_t max_inbound = defaults::kMaxInbound;
  std::uint32_t max_outbound = defaults::kMaxOutbound;
  std::uint32_t max_per_ip = defaults::kMaxPerIp;
  Millis check_interval = defaults::kCheckInterval;
  Millis handshake_timeout = defaults::kHandshakeTimeout;
  Millis ping_interval = defaults::kPingInterval;
  Millis ping_timeout = defaults::kPingTimeout;
  Millis idle_timeout = defaults::kIdleTimeout;
  Millis stall_timeout = defaults::kStallTimeout;
  std::uint64_t max_message_size = defaults::kMaxMessageSize;
  std::uint32_t max_address_book = defaults::kMaxAddressBook;
  std::uint32_t max_addresses_per_source = defaults::kMaxAddressesPerSource;
  std::uint32_t max_dials_per_second = defaults::kMaxDialsPerSecond;
  std::uint32_t max_genesis_requests_per_minute = defaults::kMaxGenesisRequestsPerMinute;
  std::uint32_t max_pings_per_second = defaults::kMaxPingsPerSecond;

  // [reconnect]
  Millis base_delay = defaults::kBaseDelay;
  Millis max_delay = defaults::kMaxDelay;
  std::uint32_t max_attempts = defaults::kMaxAttempts;
  std::uint32_t max_attempts_discovered = defaults::kMaxAttemptsDiscovered;
  std::uint32_t breaker_failures = defaults::kBreakerFailures;
  Millis breaker_cooldown = defaults::kBreakerCooldown;
  Millis parked_retry = defaults::kParkedRetry;

  // [peer_quality]
  std::int32_t ban_threshold = defaults::kBanThreshold;
  Millis ban_duration = defaults::kBanDuration;
  Millis score_half_life = defaults::kScoreHalfLife;
  std::int32_t ip_ban_threshold = defaults::kIpBanThreshold;
  Millis ip_ban_duration = defaults::kIpBanDuration;

  // [chain]
  Millis max_clock_drift = defaults::kMaxClockDrift;
  std::uint64_t max_reorg_depth = defaults::kMaxReorgDepth;

  // [genesis]
  std::string genesis_file = "genesis.toml";  // empty when only a hash is pinned
  std::optional<crypto::Hash32> genesis_hash;
  bool bootstrap_node = false;

  // [http]
  util::HostPort http_listen{"127.0.0.1", defaults::kHttpPort};
  std::string admin_token;
  std::uint32_t http_max_connections = defaults::kHttpMaxConnections;
  std::uint32_t http_max_connections_per_ip = defaults::kHttpMaxConnectionsPerIp;
  Millis http_header_timeout = defaults::kHttpHeaderTimeout;
  Millis http_idle_timeout = defaults::kHttpIdleTimeout;

  // [log]
  std::string log_level = "info";
  LogFormat log_format = LogFormat::Text;

  // Resolved locations (set by load_node_config / resolve_paths).
  std::filesystem::path data_path() const;
  std::filesystem::path key_path() const;
  std::filesystem::path chain_path() const { return data_path() / "chain"; }
  std::optional<std::filesystem::path> genesis_path() const;

  // The directory relative paths are resolved against (the config file's).
  std::filesystem::path base_dir = ".";
};

// Cross-field rules (ranges, ping < idle, base <= max delay, genesis file or
// hash...). The message names the key.
util::Result<void> validate(const NodeConfig& c);

// Parses config text; `source` names the file in every error and `base_dir`
// anchors relative paths.
util::Result<NodeConfig> parse_node_config(std::string_view text, const std::string& source,
                                           const std::filesystem::path& base_dir);
util::Result<NodeConfig> load_node_config(const std::filesystem::path& path);

// Renders every key (defaults included) as tnode.toml; parses back to `c`.
std::string to_toml(const NodeConfig& c);

// tnode.toml as `tnode init` writes it: every key of to_toml, each after one
// line saying what it means. A key at its default is written commented out
// ("# max_inbound = 64"), so the file shows every default and a later
// version's defaults still apply; keys `c` sets otherwise are active lines.
// Parses back to `c`, like to_toml.
std::string to_commented_toml(const NodeConfig& c);

// The one line to_commented_toml writes above SECTION.KEY; empty for a key
// that does not exist (a unit test proves every key of to_toml has one).
std::string_view key_meaning(std::string_view section, std::string_view key);

// `c` with command-line overrides applied, each "SECTION.KEY=VALUE" (e.g.
// "network.max_inbound=16", "network.peers=[\"127.0.0.1:24102\"]"). A
// VALUE that is not valid TOML is taken as a string ("reconnect.base_delay=1s").
// The result is parsed and validated like a file; errors name the key.
// Relative paths stay relative to c.base_dir.
util::Result<NodeConfig> apply_overrides(const NodeConfig& c, const std::vector<std::string>& assignments);

}  // namespace core::config
