// libcore/config: tnode.toml -> NodeConfig and back; defaults, every key,
// and errors that name the file and the key.

#include <catch2/catch.hpp>

#include <span>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "libcore/config/node_config.hpp"
#include "libcore/crypto/hash.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::config::LogFormat;
using core::config::NodeConfig;
using core::config::parse_node_config;
using core::config::Role;
using core::util::Millis;
using test::error_of;

namespace fs = std::filesystem;

namespace {

const std::string kSource = "node-test.toml";

NodeConfig parse_ok(const std::string& text, const fs::path& base = "/etc/tnode") {
  auto c = parse_node_config(text, kSource, base);
  INFO(text);
  INFO((c ? std::string() : c.error().message));
  REQUIRE(c.has_value());
  return *c;
}

// Fails unless parsing `text` is refused with a message naming the source,
// the key and containing `why`.
void expect_error(const std::string& text, const std::string& key, const std::string& why) {
  INFO(text);
  auto msg = error_of(parse_node_config(text, kSource, "/etc/tnode"));
  CHECK_THAT(msg, Contains(kSource));
  CHECK_THAT(msg, Contains("'" + key + "'"));
  CHECK_THAT(msg, Contains(why));
}

// Every field of two configs, one CHECK each, so a failure names the field.
void check_same(const NodeConfig& a, const NodeConfig& b) {
  CHECK(a.data_dir == b.data_dir);
  CHECK(a.key_file == b.key_file);
  CHECK(a.role == b.role);
  CHECK(a.listen == b.listen);
  CHECK(a.external_address == b.external_address);
  CHECK(a.peers == b.peers);
  CHECK(a.max_inbound == b.max_inbound);
  CHECK(a.max_outbound == b.max_outbound);
  CHECK(a.max_per_ip == b.max_per_ip);
  CHECK(a.check_interval == b.check_interval);
  CHECK(a.handshake_timeout == b.handshake_timeout);
  CHECK(a.ping_interval == b.ping_interval);
  CHECK(a.ping_timeout == b.ping_timeout);
  CHECK(a.idle_timeout == b.idle_timeout);
  CHECK(a.stall_timeout == b.stall_timeout);
  CHECK(a.max_message_size == b.max_message_size);
  CHECK(a.base_delay == b.base_delay);
  CHECK(a.max_delay == b.max_delay);
  CHECK(a.max_attempts == b.max_attempts);
  CHECK(a.max_attempts_discovered == b.max_attempts_discovered);
  CHECK(a.breaker_failures == b.breaker_failures);
  CHECK(a.breaker_cooldown == b.breaker_cooldown);
  CHECK(a.parked_retry == b.parked_retry);
  CHECK(a.ban_threshold == b.ban_threshold);
  CHECK(a.ban_duration == b.ban_duration);
  CHECK(a.score_half_life == b.score_half_life);
  CHECK(a.max_clock_drift == b.max_clock_drift);
  CHECK(a.max_reorg_depth == b.max_reorg_depth);
  CHECK(a.genesis_file == b.genesis_file);
  CHECK(a.genesis_hash == b.genesis_hash);
  CHECK(a.bootstrap_node == b.bootstrap_node);
  CHECK(a.http_listen == b.http_listen);
  CHECK(a.admin_token == b.admin_token);
  CHECK(a.http_max_connections == b.http_max_connections);
  CHECK(a.http_max_connections_per_ip == b.http_max_connections_per_ip);
  CHECK(a.http_header_timeout == b.http_header_timeout);
  CHECK(a.http_idle_timeout == b.http_idle_timeout);
  CHECK(a.log_level == b.log_level);
  CHECK(a.log_format == b.log_format);
}

// A config where every key differs from its default.
NodeConfig everything_changed() {
  NodeConfig c;
  c.data_dir = "/var/lib/tnode data";
  c.key_file = "keys/id.key";
  c.role = Role::Masternode;
  c.listen = {"::", 24200};
  c.external_address = "203.0.113.7:24200";
  c.peers = {"10.0.0.1:24100", "[2001:db8::2]:24100", "node3.example:1"};
  c.max_inbound = 100;
  c.max_outbound = 16;
  c.max_per_ip = 2;
  c.check_interval = Millis(45'000);
  c.handshake_timeout = Millis(2'500);
  c.ping_interval = Millis(10'000);
  c.idle_timeout = Millis(40'000);
  c.stall_timeout = Millis(750);
  c.max_message_size = 8u << 20;
  c.base_delay = Millis(1'000);
  c.max_delay = Millis(5'400'000);
  c.max_attempts = 20;
  c.max_attempts_discovered = 4;
  c.breaker_failures = 7;
  c.breaker_cooldown = Millis(90'000);
  c.parked_retry = Millis(7'200'000);
  c.ban_threshold = -80;
  c.ban_duration = Millis(3'600'000);
  c.score_half_life = Millis(300'500);
  c.max_clock_drift = Millis(500);
  c.max_reorg_depth = 50;
  c.genesis_file = "/etc/tnode/genesis.toml";
  c.genesis_hash = core::crypto::Hash32::from_hex(std::string(62, 'a') + "01").value();
  c.bootstrap_node = true;
  c.http_listen = {"0.0.0.0", 8080};
  c.admin_token = "s3cr\"et\\token";
  c.http_max_connections = 300;
  c.http_max_connections_per_ip = 3;
  c.http_header_timeout = Millis(2'500);
  c.http_idle_timeout = Millis(15'000);
  c.log_level = "debug";
  c.log_format = LogFormat::Json;
  return c;
}

}  // namespace

// ================================================================= defaults

TEST_CASE("an empty config gives the documented defaults", "[unit][config]") {
  auto c = parse_ok("");
  CHECK(c.data_dir == "~/.local/share/tnode");
  CHECK(c.key_file == "node.key");
  CHECK(c.role == Role::Regular);
  CHECK(c.listen == core::util::HostPort{"0.0.0.0", 24100});
  CHECK(c.external_address.empty());
  CHECK(c.peers.empty());
  CHECK(c.max_inbound == 64);
  CHECK(c.max_outbound == 8);
  CHECK(c.max_per_ip == 8);
  CHECK(c.check_interval == Millis(120'000));
  CHECK(c.handshake_timeout == Millis(10'000));
  CHECK(c.ping_interval == Millis(5'000));
  CHECK(c.ping_timeout == Millis(5'000));
  CHECK(c.idle_timeout == Millis(90'000));
  CHECK(c.stall_timeout == Millis(2'000));
  CHECK(c.max_message_size == 4u << 20);
  CHECK(c.base_delay == Millis(5'000));
  CHECK(c.max_delay == Millis(600'000));
  CHECK(c.max_attempts == 10);
  CHECK(c.max_attempts_discovered == 3);
  CHECK(c.breaker_failures == 5);
  CHECK(c.breaker_cooldown == Millis(60'000));
  CHECK(c.parked_retry == Millis(3'600'000));
  CHECK(c.ban_threshold == -50);
  CHECK(c.ban_duration == Millis(86'400'000));
  CHECK(c.score_half_life == Millis(600'000));
  CHECK(c.max_clock_drift == Millis(2'000));
  CHECK(c.max_reorg_depth == 1000);
  CHECK(c.genesis_file == "genesis.toml");
  CHECK_FALSE(c.genesis_hash.has_value());
  CHECK_FALSE(c.bootstrap_node);
  CHECK(c.http_listen == core::util::HostPort{"127.0.0.1", 24101});
  CHECK(c.admin_token.empty());
  CHECK(c.http_max_connections == 128);
  CHECK(c.http_max_connections_per_ip == 8);
  CHECK(c.http_header_timeout == Millis(5'000));
  CHECK(c.http_idle_timeout == Millis(5'000));
  CHECK(c.log_level == "info");
  CHECK(c.log_format == LogFormat::Text);
  CHECK(c.base_dir == fs::path("/etc/tnode"));
  CHECK(core::config::validate(NodeConfig{}).has_value());
}

TEST_CASE("a missing or empty section keeps its defaults", "[unit][config]") {
  auto only_network = parse_ok("[network]\nmax_inbound = 3\n");
  CHECK(only_network.max_inbound == 3);
  NodeConfig expected;
  expected.max_inbound = 3;
  check_same(only_network, expected);

  auto empty_sections = parse_ok("[node]\n[network]\n[reconnect]\n[peer_quality]\n[chain]\n[genesis]\n[http]\n[log]\n");
  check_same(empty_sections, NodeConfig{});

  auto only_log = parse_ok("[log]\nlevel = \"warn\"\n");
  CHECK(only_log.log_level == "warn");
  CHECK(only_log.listen == NodeConfig{}.listen);
  CHECK(only_log.genesis_file == "genesis.toml");
}

// ============================================================== round trip

TEST_CASE("every key of every section round-trips through to_toml", "[unit][config]") {
  const auto original = everything_changed();
  REQUIRE(core::config::validate(original).has_value());
  const auto text = core::config::to_toml(original);
  INFO(text);
  auto back = parse_ok(text, "/somewhere");
  check_same(back, original);
  CHECK(core::config::to_toml(back) == text);
}

TEST_CASE("the default config round-trips through to_toml", "[unit][config]") {
  const NodeConfig defaults;
  auto back = parse_ok(core::config::to_toml(defaults));
  check_same(back, defaults);
}

TEST_CASE("to_toml writes every section and key", "[unit][config]") {
  const auto text = core::config::to_toml(NodeConfig{});
  for (const char* section :
       {"[node]", "[network]", "[reconnect]", "[peer_quality]", "[chain]", "[genesis]", "[http]", "[log]"})
    CHECK_THAT(text, Contains(section));
  for (const char* key : {"data_dir",
                          "key_file",
                          "role",
                          "listen",
                          "external_address",
                          "peers",
                          "max_inbound",
                          "max_outbound",
                          "max_per_ip",
                          "check_interval",
                          "handshake_timeout",
                          "ping_interval",
                          "ping_timeout",
                          "idle_timeout",
                          "stall_timeout",
                          "max_message_size",
                          "base_delay",
                          "max_delay",
                          "max_attempts",
                          "max_attempts_discovered",
                          "breaker_failures",
                          "breaker_cooldown",
                          "parked_retry",
                          "ban_threshold",
                          "ban_duration",
                          "score_half_life",
                          "max_clock_drift",
                          "max_reorg_depth",
                          "file",
                          "hash",
                          "bootstrap_node",
                          "admin_token",
                          "max_connections",
                          "max_connections_per_ip",
                          "header_timeout",
                          "level",
                          "format"})
    CHECK_THAT(text, Contains(std::string("\n") + key + " = "));
}

TEST_CASE("a pinned genesis hash without a file round-trips", "[unit][config]") {
  NodeConfig c;
  c.genesis_file.clear();
  c.genesis_hash = core::crypto::blake2b256(std::string_view("genesis"));
  auto back = parse_ok(core::config::to_toml(c));
  check_same(back, c);
  CHECK_FALSE(back.genesis_path().has_value());
}

TEST_CASE("strings with quotes, backslashes and control characters round-trip", "[unit][config]") {
  NodeConfig c;
  c.admin_token =
      "a\"b\\c\td\ne\x01"
      "f";
  c.data_dir = "/tmp/with \"quotes\"";
  auto back = parse_ok(core::config::to_toml(c));
  CHECK(back.admin_token == c.admin_token);
  CHECK(back.data_dir == c.data_dir);
}

// ==================================================================== errors

TEST_CASE("an unknown section or top-level key is refused by name", "[unit][config]") {
  expect_error("[bogus]\nx = 1\n", "bogus", "unknown key or section");
  expect_error("listen = \"0.0.0.0:1\"\n", "listen", "unknown key or section");
  expect_error("[Node]\n", "Node", "unknown key or section");
  expect_error("node = 5\n", "node", "must be a [node] section");
  expect_error("log = \"debug\"\n", "log", "must be a [log] section");
}

TEST_CASE("an unknown key in any section is refused by name", "[unit][config]") {
  for (const char* section : {"node", "network", "reconnect", "peer_quality", "chain", "genesis", "http", "log"}) {
    INFO(section);
    expect_error(std::string("[") + section + "]\ncolour = \"blue\"\n", std::string(section) + ".colour",
                 "unknown key");
  }
  expect_error("[network]\nlisten_port = 24100\n", "network.listen_port", "unknown key");
  expect_error("[network]\nmax_inbound = 3\n[network.extra]\nx = 1\n", "network.extra", "unknown key");
}

namespace {

// One "[section] key = value" line and the error it must produce.
struct KeyCase {
  const char* section;
  const char* key;
  const char* value;
  const char* why;
};

// Each case must be refused naming "<section>.<key>" and `why`.
void expect_key_errors(std::span<const KeyCase> cases) {
  for (const auto& c : cases)
    expect_error(std::string("[") + c.section + "]\n" + c.key + " = " + c.value + "\n",
                 std::string(c.section) + "." + c.key, c.why);
}

}  // namespace

TEST_CASE("a value of the wrong type is refused naming key and types", "[unit][config]") {
  const KeyCase cases[] = {
      {"node", "data_dir", "5", "must be a string, not an integer"},
      {"node", "key_file", "true", "must be a string, not a boolean"},
      {"node", "role", "1", "must be a string, not an integer"},
      {"network", "listen", "24100", "must be a string, not an integer"},
      {"network", "external_address", "[]", "must be a string, not an array"},
      {"network", "peers", "\"10.0.0.1:1\"", "must be an array of \"host:port\" strings, not a string"},
      {"network", "peers", "[1]", "entry 0 must be a \"host:port\" string"},
      {"network", "max_inbound", "\"64\"", "must be an integer, not a string"},
      {"network", "max_outbound", "8.5", "must be an integer, not a number"},
      {"network", "max_per_ip", "true", "must be an integer, not a boolean"},
      {"network", "check_interval", "120", "must be a string, not an integer"},
      {"network", "handshake_timeout", "10.0", "must be a string, not a number"},
      {"network", "ping_interval", "{ s = 1 }", "must be a string, not a table"},
      {"network", "idle_timeout", "90", "must be a string, not an integer"},
      {"network", "stall_timeout", "2", "must be a string, not an integer"},
      {"network", "max_message_size", "true", "must be a string, not a boolean"},
      {"reconnect", "base_delay", "5", "must be a string, not an integer"},
      {"reconnect", "max_delay", "false", "must be a string, not a boolean"},
      {"reconnect", "max_attempts", "\"10\"", "must be an integer, not a string"},
      {"reconnect", "max_attempts_discovered", "[3]", "must be an integer, not an array"},
      {"reconnect", "breaker_failures", "\"5\"", "must be an integer, not a string"},
      {"reconnect", "breaker_cooldown", "60", "must be a string, not an integer"},
      {"reconnect", "parked_retry", "1979-05-27T07:32:00Z", "must be a string, not a date/time"},
      {"peer_quality", "ban_threshold", "\"-50\"", "must be an integer, not a string"},
      {"peer_quality", "ban_duration", "24", "must be a string, not an integer"},
      {"peer_quality", "score_half_life", "600", "must be a string, not an integer"},
      {"chain", "max_clock_drift", "2000", "must be a string, not an integer"},
      {"chain", "max_reorg_depth", "\"1000\"", "must be an integer, not a string"},
      {"genesis", "file", "1", "must be a string, not an integer"},
      {"genesis", "hash", "0", "must be a string, not an integer"},
      {"genesis", "bootstrap_node", "\"yes\"", "must be a boolean, not a string"},
      {"genesis", "bootstrap_node", "1", "must be a boolean, not an integer"},
      {"http", "listen", "8080", "must be a string, not an integer"},
      {"http", "admin_token", "123", "must be a string, not an integer"},
      {"http", "max_connections", "\"128\"", "must be an integer, not a string"},
      {"http", "max_connections_per_ip", "8.0", "must be an integer, not a number"},
      {"http", "header_timeout", "5", "must be a string, not an integer"},
      {"http", "idle_timeout", "true", "must be a string, not a boolean"},
      {"log", "level", "3", "must be a string, not an integer"},
      {"log", "format", "false", "must be a string, not a boolean"},
  };
  expect_key_errors(cases);
}

TEST_CASE("a bad duration is refused naming the key", "[unit][config]") {
  const std::pair<const char*, const char*> keys[] = {
      {"network", "check_interval"}, {"network", "handshake_timeout"}, {"network", "ping_interval"},
      {"network", "idle_timeout"},   {"network", "ping_timeout"},      {"network", "stall_timeout"},
      {"reconnect", "base_delay"},   {"reconnect", "max_delay"},       {"reconnect", "breaker_cooldown"},
      {"reconnect", "parked_retry"}, {"peer_quality", "ban_duration"}, {"peer_quality", "score_half_life"},
      {"chain", "max_clock_drift"},  {"http", "header_timeout"},       {"http", "idle_timeout"},
  };
  for (auto [section, key] : keys) {
    const std::string name = std::string(section) + "." + key;
    const std::string head = std::string("[") + section + "]\n" + key + " = ";
    expect_error(head + "\"10\"\n", name, "bad duration '10': missing unit");
    expect_error(head + "\"10 s\"\n", name, "bad duration");
    expect_error(head + "\"5y\"\n", name, "unknown unit 'y'");
    expect_error(head + "\"\"\n", name, "empty duration");
    expect_error(head + "\"99999999999999999999d\"\n", name, "too large");
  }
}

TEST_CASE("zero durations are refused naming the key", "[unit][config]") {
  expect_error("[network]\nhandshake_timeout = \"0s\"\n", "network.handshake_timeout", "must be greater than zero");
  expect_error("[reconnect]\nparked_retry = \"0ms\"\n", "reconnect.parked_retry", "must be greater than zero");
  expect_error("[peer_quality]\nscore_half_life = \"0s\"\n", "peer_quality.score_half_life",
               "must be greater than zero");
  expect_error("[http]\nheader_timeout = \"0s\"\n", "http.header_timeout", "must be greater than zero");
  expect_error("[http]\nidle_timeout = \"0ms\"\n", "http.idle_timeout", "must be greater than zero");
  // A zero clock drift is allowed: a strict node.
  CHECK(parse_ok("[chain]\nmax_clock_drift = \"0s\"\n").max_clock_drift == Millis(0));
}

TEST_CASE("max_message_size takes sizes and integers within bounds", "[unit][config]") {
  CHECK(parse_ok("[network]\nmax_message_size = \"8MiB\"\n").max_message_size == 8u << 20);
  CHECK(parse_ok("[network]\nmax_message_size = \"64KB\"\n").max_message_size == 64'000);
  CHECK(parse_ok("[network]\nmax_message_size = 65536\n").max_message_size == 65536);
  CHECK(parse_ok("[network]\nmax_message_size = \"1KiB\"\n").max_message_size == 1024);
  CHECK(parse_ok("[network]\nmax_message_size = \"256MiB\"\n").max_message_size == 256u << 20);
  const std::string key = "network.max_message_size";
  expect_error("[network]\nmax_message_size = \"4XB\"\n", key, "bad size '4XB': unknown unit 'XB'");
  expect_error("[network]\nmax_message_size = \"MiB\"\n", key, "expected a number first");
  expect_error("[network]\nmax_message_size = \"\"\n", key, "empty size");
  expect_error("[network]\nmax_message_size = 0\n", key, "0 is out of range");
  expect_error("[network]\nmax_message_size = -1\n", key, "-1 is out of range");
  expect_error("[network]\nmax_message_size = \"1023\"\n", key, "must be at least 1KiB");
  expect_error("[network]\nmax_message_size = \"257MiB\"\n", key, "must be at most 256MiB");
  expect_error("[network]\nmax_message_size = \"99999999999999999999GiB\"\n", key, "too large");
}

TEST_CASE("a bad address is refused naming the key", "[unit][config]") {
  expect_error("[network]\nlisten = \"0.0.0.0\"\n", "network.listen", "bad address '0.0.0.0': missing port");
  expect_error("[network]\nlisten = \"0.0.0.0:0\"\n", "network.listen", "out of range 1-65535");
  expect_error("[network]\nlisten = \"::1:24100\"\n", "network.listen", "brackets");
  expect_error("[http]\nlisten = \"127.0.0.1:99999\"\n", "http.listen", "port 99999 out of range");
  expect_error("[http]\nlisten = \":8080\"\n", "http.listen", "empty host");
  expect_error("[network]\npeers = [\"10.0.0.1:24100\", \"10.0.0.2\"]\n", "network.peers",
               "entry 1: bad address '10.0.0.2': missing port");
  expect_error("[network]\npeers = [\"10.0.0.1:24100\", 7]\n", "network.peers", "entry 1 must be");
  expect_error("[network]\nexternal_address = \"example.com\"\n", "network.external_address", "missing port");
  expect_error("[network]\nexternal_address = \"example.com:abc\"\n", "network.external_address", "not a number");
  expect_error("[network]\nexternal_address = \"example.com:0\"\n", "network.external_address", "out of range");
  // It travels in the Hello: at most the wire's bound for an address.
  const std::string longest = std::string(core::config::defaults::kMaxAddressLength - 6, 'a') + ":24100";
  CHECK(parse_ok("[network]\nexternal_address = \"" + longest + "\"\n").external_address == longest);
  expect_error("[network]\nexternal_address = \"a" + longest + "\"\n", "network.external_address",
               "longer than 255 bytes");
  // Empty means "none".
  CHECK(parse_ok("[network]\nexternal_address = \"\"\npeers = []\n").external_address.empty());
}

TEST_CASE("an out-of-range integer is refused naming the key and the range", "[unit][config]") {
  const KeyCase cases[] = {
      {"network", "max_inbound", "-1", "-1 is out of range 0..100000"},
      {"network", "max_inbound", "100001", "100001 is out of range 0..100000"},
      {"network", "max_outbound", "4294967296", "is out of range 0..100000"},
      {"network", "max_per_ip", "0", "0 is out of range 1..100000"},
      {"reconnect", "max_attempts", "0", "0 is out of range 1..1000000"},
      {"reconnect", "max_attempts", "1000001", "out of range"},
      {"reconnect", "max_attempts_discovered", "-3", "out of range"},
      {"reconnect", "breaker_failures", "0", "out of range"},
      {"peer_quality", "ban_threshold", "-101", "-101 is out of range -100..100"},
      {"peer_quality", "ban_threshold", "101", "out of range"},
      {"peer_quality", "ban_threshold", "0", "must be in -100..-1"},
      {"peer_quality", "ban_threshold", "50", "must be in -100..-1"},
      {"chain", "max_reorg_depth", "0", "0 is out of range 1.."},
      {"chain", "max_reorg_depth", "-5", "out of range"},
      {"http", "max_connections", "0", "0 is out of range 1..100000"},
      {"http", "max_connections", "100001", "100001 is out of range 1..100000"},
      {"http", "max_connections_per_ip", "0", "0 is out of range 1..100000"},
      {"http", "max_connections_per_ip", "-8", "out of range"},
  };
  expect_key_errors(cases);
  // The edges of each range are accepted.
  auto edges = parse_ok(
      "[network]\nmax_inbound = 0\nmax_outbound = 100000\nmax_per_ip = 1\n"
      "[reconnect]\nmax_attempts = 1000000\nmax_attempts_discovered = 1\nbreaker_failures = 1\n"
      "[peer_quality]\nban_threshold = -100\n[chain]\nmax_reorg_depth = 1\n"
      "[http]\nmax_connections = 100000\nmax_connections_per_ip = 1\n");
  CHECK(edges.max_inbound == 0);
  CHECK(edges.max_outbound == 100'000);
  CHECK(edges.max_per_ip == 1);
  CHECK(edges.max_attempts == 1'000'000);
  CHECK(edges.ban_threshold == -100);
  CHECK(edges.max_reorg_depth == 1);
  CHECK(edges.http_max_connections == 100'000);
  CHECK(edges.http_max_connections_per_ip == 1);
  CHECK(parse_ok("[peer_quality]\nban_threshold = -1\n").ban_threshold == -1);
}

TEST_CASE("a bad role is refused", "[unit][config]") {
  CHECK(parse_ok("[node]\nrole = \"masternode\"\n").role == Role::Masternode);
  CHECK(parse_ok("[node]\nrole = \"regular\"\n").role == Role::Regular);
  expect_error("[node]\nrole = \"boss\"\n", "node.role", "'boss' is not one of regular, masternode");
  expect_error("[node]\nrole = \"Masternode\"\n", "node.role", "is not one of");
  expect_error("[node]\nrole = \"\"\n", "node.role", "is not one of");
}

TEST_CASE("a bad log level or format is refused", "[unit][config]") {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"})
    CHECK(parse_ok(std::string("[log]\nlevel = \"") + level + "\"\n").log_level == level);
  CHECK(parse_ok("[log]\nformat = \"json\"\n").log_format == LogFormat::Json);
  CHECK(parse_ok("[log]\nformat = \"text\"\n").log_format == LogFormat::Text);
  expect_error("[log]\nlevel = \"verbose\"\n", "log.level", "'verbose' is not one of trace");
  expect_error("[log]\nlevel = \"INFO\"\n", "log.level", "is not one of");
  expect_error("[log]\nlevel = \"warning\"\n", "log.level", "is not one of");
  expect_error("[log]\nformat = \"xml\"\n", "log.format", "'xml' is not one of text, json");
  expect_error("[log]\nformat = \"JSON\"\n", "log.format", "is not one of");
}

TEST_CASE("a bad genesis hash is refused", "[unit][config]") {
  expect_error("[genesis]\nhash = \"abcd\"\n", "genesis.hash", "expected 64 hex digits, got 4");
  expect_error("[genesis]\nhash = \"" + std::string(63, '0') + "z\"\n", "genesis.hash", "invalid hex character 'z'");
}

TEST_CASE("cross-field rules are refused naming the key", "[unit][config]") {
  expect_error("[node]\ndata_dir = \"\"\n", "node.data_dir", "must not be empty");
  expect_error("[node]\nkey_file = \"\"\n", "node.key_file", "must not be empty");
  expect_error("[genesis]\nfile = \"\"\n", "genesis.file", "either genesis.file or genesis.hash must be set");
  expect_error("[reconnect]\nbase_delay = \"11m\"\n", "reconnect.base_delay",
               "must not exceed reconnect.max_delay (10m)");
  expect_error("[genesis]\nfile = \"\"\nhash = \"" + std::string(64, 'a') + "\"\nbootstrap_node = true\n",
               "genesis.bootstrap_node", "needs genesis.file");
  CHECK(parse_ok("[reconnect]\nbase_delay = \"10m\"\n").base_delay == Millis(600'000));
}

TEST_CASE("ping_interval must be shorter than idle_timeout", "[unit][config]") {
  expect_error("[network]\nping_interval = \"90s\"\n", "network.ping_interval",
               "must be shorter than network.idle_timeout (1m30s)");
  expect_error("[network]\nping_interval = \"2m\"\nidle_timeout = \"1m\"\n", "network.ping_interval",
               "must be shorter than network.idle_timeout (1m)");
  auto ok = parse_ok("[network]\nping_interval = \"59s\"\nidle_timeout = \"1m\"\n");
  CHECK(ok.ping_interval == Millis(59'000));
  CHECK(ok.idle_timeout == Millis(60'000));
  expect_error("[network]\nping_timeout = \"2m\"\n", "network.ping_timeout",
               "must be shorter than network.idle_timeout (1m30s)");
}

TEST_CASE("a config TOML syntax error names the source and the line", "[unit][config]") {
  auto msg = error_of(parse_node_config("[network]\nmax_inbound = 3\nmax_outbound = \n", kSource, "/"));
  CHECK_THAT(msg, Contains(kSource + ":3:"));
  CHECK_THAT(msg, Contains("TOML syntax error"));
  auto dup = error_of(parse_node_config("[log]\nlevel = \"info\"\nlevel = \"debug\"\n", kSource, "/"));
  CHECK_THAT(dup, Contains(kSource + ":3:"));
}

TEST_CASE("a non-ASCII character in a config is refused naming its line and column", "[unit][config]") {
  auto msg = error_of(parse_node_config("[http]\nadmin_token = \"\xe2\x82\xac\"\n", kSource, "/"));
  CHECK_THAT(msg, Contains(kSource + ":2:16: non-ASCII character"));
}

// ===================================================================== paths

TEST_CASE("relative paths resolve against the config's directory", "[unit][config]") {
  auto c = parse_ok("[node]\ndata_dir = \"data\"\n[genesis]\nfile = \"net/genesis.toml\"\n", "/etc/tnode");
  CHECK(c.data_path() == fs::path("/etc/tnode/data"));
  CHECK(c.key_path() == fs::path("/etc/tnode/data/node.key"));
  CHECK(c.chain_path() == fs::path("/etc/tnode/data/chain"));
  CHECK(c.genesis_path() == fs::path("/etc/tnode/net/genesis.toml"));

  auto dotted = parse_ok("[node]\ndata_dir = \"../var/./tnode\"\nkey_file = \"/keys/a.key\"\n", "/etc/tnode");
  CHECK(dotted.data_path() == fs::path("/etc/var/tnode"));
  CHECK(dotted.key_path() == fs::path("/keys/a.key"));

  auto absolute = parse_ok("[node]\ndata_dir = \"/srv/tnode\"\n[genesis]\nfile = \"/etc/g.toml\"\n", "/etc/tnode");
  CHECK(absolute.data_path() == fs::path("/srv/tnode"));
  CHECK(absolute.genesis_path() == fs::path("/etc/g.toml"));
}

TEST_CASE("a data_dir under ~ resolves to the home directory", "[unit][config]") {
  test::EnvGuard home("HOME", "/home/op");
  auto c = parse_ok("", "/etc/tnode");
  CHECK(c.data_path() == fs::path("/home/op/.local/share/tnode"));
  CHECK(c.key_path() == fs::path("/home/op/.local/share/tnode/node.key"));
}

TEST_CASE("load_node_config resolves against the file's directory and names the file", "[unit][config]") {
  test::TempDir dir;
  auto path = dir / "tnode.toml";
  test::write_text(path, "[node]\ndata_dir = \"data\"\n");
  auto c = core::config::load_node_config(path);
  REQUIRE(c.has_value());
  CHECK(c->data_path() == (dir.path() / "data").lexically_normal());
  CHECK(c->genesis_path() == (dir.path() / "genesis.toml").lexically_normal());

  test::write_text(path, "[network]\nmax_inbound = \"many\"\n");
  auto bad = error_of(core::config::load_node_config(path));
  CHECK_THAT(bad, Contains(path.string()));
  CHECK_THAT(bad, Contains("'network.max_inbound'"));
  CHECK_THAT(error_of(core::config::load_node_config(dir / "absent.toml")), Contains("no such file"));
}

TEST_CASE("a genesis hash alone clears the genesis file", "[unit][config]") {
  const std::string hex = std::string(60, '1') + "abcd";
  auto pinned = parse_ok("[genesis]\nhash = \"" + hex + "\"\n");
  CHECK(pinned.genesis_hash == core::crypto::Hash32::from_hex(hex).value());
  CHECK(pinned.genesis_file.empty());
  CHECK_FALSE(pinned.genesis_path().has_value());

  auto both = parse_ok("[genesis]\nhash = \"" + hex + "\"\nfile = \"g.toml\"\n");
  CHECK(both.genesis_hash.has_value());
  CHECK(both.genesis_file == "g.toml");
  CHECK(both.genesis_path() == fs::path("/etc/tnode/g.toml"));

  auto empty_hash = parse_ok("[genesis]\nhash = \"\"\n");
  CHECK_FALSE(empty_hash.genesis_hash.has_value());
  CHECK(empty_hash.genesis_file == "genesis.toml");

  // A pinned hash with bootstrap_node needs the file explicitly.
  expect_error("[genesis]\nhash = \"" + hex + "\"\nbootstrap_node = true\n", "genesis.bootstrap_node",
               "needs genesis.file");
}

// ------------------------------------------------------------ --set overrides

TEST_CASE("command-line overrides change exactly the keys they name", "[unit][config]") {
  NodeConfig base = parse_ok("[network]\nmax_inbound = 10\n");
  auto c = core::config::apply_overrides(
      base, {"network.max_inbound=16", "reconnect.base_delay=250ms", "node.role=masternode",
             "network.peers=[\"127.0.0.1:24102\", \"[::1]:24104\"]", "genesis.bootstrap_node=false",
             "http.admin_token=s3cret \"quoted\""});
  REQUIRE(c);
  CHECK(c->max_inbound == 16);
  CHECK(c->base_delay == Millis(250));
  CHECK(c->role == Role::Masternode);
  CHECK(c->peers == std::vector<std::string>{"127.0.0.1:24102", "[::1]:24104"});
  CHECK(c->admin_token == "s3cret \"quoted\"");
  // Everything else is unchanged, including where relative paths resolve.
  NodeConfig expected = base;
  expected.max_inbound = 16;
  expected.base_delay = Millis(250);
  expected.role = Role::Masternode;
  expected.peers = c->peers;
  expected.admin_token = c->admin_token;
  CHECK(core::config::to_toml(*c) == core::config::to_toml(expected));
  CHECK(c->base_dir == base.base_dir);
}

TEST_CASE("a later override of the same key wins", "[unit][config]") {
  auto c = core::config::apply_overrides(NodeConfig{}, {"network.max_outbound=3", "network.max_outbound=5"});
  REQUIRE(c);
  CHECK(c->max_outbound == 5);
}

TEST_CASE("an override of a key that two sections have changes only its own section's", "[unit][config]") {
  auto c = core::config::apply_overrides(NodeConfig{}, {"http.idle_timeout=2s", "http.max_connections=32"});
  REQUIRE(c);
  CHECK(c->http_idle_timeout == Millis(2'000));
  CHECK(c->idle_timeout == NodeConfig{}.idle_timeout);  // [network] idle_timeout
  CHECK(c->http_max_connections == 32);
  auto n = core::config::apply_overrides(NodeConfig{}, {"network.idle_timeout=2m"});
  REQUIRE(n);
  CHECK(n->idle_timeout == Millis(120'000));
  CHECK(n->http_idle_timeout == NodeConfig{}.http_idle_timeout);
}

TEST_CASE("bad overrides are refused naming the --set option and the key", "[unit][config]") {
  struct Case {
    std::string assignment;
    std::string expected;  // the whole message
  };
  const Case cases[] = {
      // malformed: no '=', no section
      {"network.max_inbound", "--set network.max_inbound: expected SECTION.KEY=VALUE, e.g. network.max_inbound=16"},
      {"max_inbound=3", "--set max_inbound=3: expected SECTION.KEY=VALUE, e.g. network.max_inbound=16"},
      {"netwrk.max_inbound=3", "--set netwrk.max_inbound=3: unknown section 'netwrk'"},
      {"network.max_inbund=3", "--set network.max_inbund=3: unknown key 'network.max_inbund'"},
      {"network.max_inbound=abc",
       "--set network.max_inbound=abc: key 'network.max_inbound' must be an integer, not a string"},
      {"network.max_inbound=-1",
       "--set network.max_inbound=-1: key 'network.max_inbound': -1 is out of range 0..100000"},
      {"genesis.bootstrap_node=1",
       "--set genesis.bootstrap_node=1: key 'genesis.bootstrap_node' must be a boolean, "
       "not an integer"},
  };
  for (const auto& k : cases) {
    INFO(k.assignment);
    auto c = core::config::apply_overrides(NodeConfig{}, {k.assignment});
    REQUIRE_FALSE(c);
    CHECK(c.error().message == k.expected);
  }
}

TEST_CASE("a bad override reads like the same bad value in tnode.toml", "[unit][config]") {
  struct Case {
    std::string assignment;  // SECTION.KEY=VALUE
    std::string file;        // the same value in a file
  };
  const Case cases[] = {
      {"network.max_inbound=lots", "[network]\nmax_inbound = \"lots\"\n"},
      {"network.max_inbound=-1", "[network]\nmax_inbound = -1\n"},
      {"reconnect.base_delay=soon", "[reconnect]\nbase_delay = \"soon\"\n"},
      {"network.listen=nowhere", "[network]\nlisten = \"nowhere\"\n"},
      {"network.peers=[1]", "[network]\npeers = [1]\n"},
      {"node.role=boss", "[node]\nrole = \"boss\"\n"},
      {"http.max_connections_per_ip=0", "[http]\nmax_connections_per_ip = 0\n"},
      {"http.header_timeout=0s", "[http]\nheader_timeout = \"0s\"\n"},
      {"network.ping_interval=5m", "[network]\nping_interval = \"5m\"\n"},  // must stay below idle_timeout
  };
  for (const auto& k : cases) {
    INFO(k.assignment);
    auto from_set = core::config::apply_overrides(NodeConfig{}, {k.assignment});
    auto from_file = parse_node_config(k.file, "tnode.toml", "/etc/tnode");
    REQUIRE_FALSE(from_set);
    REQUIRE_FALSE(from_file);
    const std::string file_message = from_file.error().message;
    REQUIRE(file_message.rfind("tnode.toml: ", 0) == 0);
    CHECK(from_set.error().message == "--set " + k.assignment + file_message.substr(std::string("tnode.toml").size()));
  }
}

TEST_CASE("an override is blamed for its own error, not for an earlier good one", "[unit][config]") {
  auto c = core::config::apply_overrides(NodeConfig{}, {"network.max_inbound=16", "network.max_outbound=many"});
  REQUIRE_FALSE(c);
  CHECK_THAT(c.error().message, Catch::Matchers::StartsWith("--set network.max_outbound=many: key "
                                                            "'network.max_outbound' must be an integer"));
  // Keys checked against each other only once all overrides are in: raising
  // idle_timeout first lets a longer ping_interval through.
  auto both = core::config::apply_overrides(NodeConfig{}, {"network.ping_interval=5m", "network.idle_timeout=10m"});
  INFO((both ? std::string() : both.error().message));
  CHECK(both.has_value());
}

// ---- the commented template (tnode init)

TEST_CASE("to_commented_toml parses back to the same configuration", "[unit][config]") {
  NodeConfig defaults;
  NodeConfig custom;
  custom.data_dir = "/var/lib/tnode";
  custom.role = Role::Masternode;
  custom.peers = {"10.0.0.2:24100", "10.0.0.3:24100"};
  custom.max_inbound = 16;
  custom.log_format = LogFormat::Json;
  NodeConfig pinned;  // the default genesis.file, and a hash: both must stay
  pinned.genesis_hash = core::crypto::Hash32::from_hex(std::string(64, 'a')).value();
  NodeConfig hash_only = pinned;  // no file: fetched from peers
  hash_only.genesis_file.clear();
  hash_only.peers = {"10.0.0.2:24100"};
  for (const NodeConfig* c : {&defaults, &custom, &pinned, &hash_only}) {
    const auto text = core::config::to_commented_toml(*c);
    auto parsed = parse_node_config(text, kSource, "/etc/tnode");
    REQUIRE(parsed);
    CHECK(core::config::to_toml(*parsed) == core::config::to_toml(*c));
  }
}

TEST_CASE("to_commented_toml shows every key, with its meaning, commented out at its default", "[unit][config]") {
  NodeConfig c;
  c.max_inbound = 16;
  const auto text = core::config::to_commented_toml(c);
  // Every key of to_toml is there once, after one line of meaning.
  std::istringstream keys(core::config::to_toml(c));
  std::string line, section;
  int count = 0;
  while (std::getline(keys, line)) {
    if (line.starts_with('[')) {
      section = line.substr(1, line.size() - 2);
      CHECK_THAT(text, Contains("\n" + line + "\n"));
      continue;
    }
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    const auto key = line.substr(0, eq);
    const auto meaning = core::config::key_meaning(section, key);
    INFO(section << "." << key);
    CHECK(!meaning.empty());
    const bool at_default = key != "max_inbound";
    CHECK_THAT(text, Contains("# " + std::string(meaning) + "\n" + (at_default ? "# " : "") + line + "\n"));
    ++count;
  }
  CHECK(count >= 45);
  CHECK(core::config::key_meaning("network", "no_such_key").empty());
  CHECK(core::config::key_meaning("node", "listen").empty());
}
