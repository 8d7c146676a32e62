#pragma once
// The one step that turns tnode.toml's [reconnect] and [peer_quality]
// (config::NodeConfig) into the plain settings structs of the dial policy.
// Header-only and included by node code (and its tests) only: the policy in
// dial_policy.hpp never sees the config module, so it stays testable and
// usable without a config file, while the mapping sits next to nothing but
// the two structs it fills, so a new setting is wired in one place.

#include "libcore/config/node_config.hpp"
#include "libcore/p2p/dial_policy.hpp"

namespace core::p2p {

// breaker_cooldown_cap is not a tnode.toml key (DESIGN.md fixes it at 1 h)
// and keeps its default.
inline ReconnectSettings reconnect_settings_from(const config::NodeConfig& c) {
  ReconnectSettings s;
  s.base_delay = c.base_delay;
  s.max_delay = c.max_delay;
  s.max_attempts = c.max_attempts;
  s.max_attempts_discovered = c.max_attempts_discovered;
  s.breaker_failures = c.breaker_failures;
  s.breaker_cooldown = c.breaker_cooldown;
  s.parked_retry = c.parked_retry;
  return s;
}

inline PeerQualitySettings peer_quality_settings_from(const config::NodeConfig& c) {
  PeerQualitySettings s;
  s.ban_threshold = c.ban_threshold;
  s.ban_duration = c.ban_duration;
  s.score_half_life = c.score_half_life;
  s.ip_ban_threshold = c.ip_ban_threshold;
  s.ip_ban_duration = c.ip_ban_duration;
  return s;
}

}  // namespace core::p2p
