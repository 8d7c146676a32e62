#include "libcore/config/node_config.hpp"

#include <cstdio>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "libcore/util/files.hpp"
#include "libcore/util/toml_fields.hpp"

namespace core::config {

const char* to_string(Role r) { return r == Role::Masternode ? "masternode" : "regular"; }
const char* to_string(LogFormat f) { return f == LogFormat::Json ? "json" : "text"; }

std::filesystem::path NodeConfig::data_path() const { return util::resolve_path(data_dir, base_dir); }
std::filesystem::path NodeConfig::key_path() const { return util::resolve_path(key_file, data_path()); }
std::optional<std::filesystem::path> NodeConfig::genesis_path() const {
  if (genesis_file.empty()) return std::nullopt;
  return util::resolve_path(genesis_file, base_dir);
}

namespace {

const std::set<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

// Reads the keys of one [section], remembering which were read so that
// finish() can refuse the rest as unknown.
class Section {
 public:
  Section(const toml::table* table, std::string source, std::string name)
      : table_(table), source_(std::move(source)), name_(std::move(name)) {}

  util::Result<void> string(const char* key, std::string& out) {
    return with<std::string>(key, [&](const std::string& v) -> util::Result<void> {
      out = v;
      return {};
    });
  }
  util::Result<void> boolean(const char* key, bool& out) {
    return with<bool>(key, [&](bool v) -> util::Result<void> {
      out = v;
      return {};
    });
  }
  template <typename Int>
  util::Result<void> integer(const char* key, Int& out, std::int64_t min, std::int64_t max) {
    return with<std::int64_t>(key, [&](std::int64_t v) -> util::Result<void> {
      if (v < min || v > max)
        return fail(key, std::to_string(v) + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
      out = static_cast<Int>(v);
      return {};
    });
  }
  util::Result<void> duration(const char* key, Millis& out) {
    return with<std::string>(key, [&](const std::string& v) -> util::Result<void> {
      auto d = util::parse_duration(v);
      if (!d) return fail(key, d.error().message);
      out = *d;
      return {};
    });
  }
  util::Result<void> size(const char* key, std::uint64_t& out) {
    const toml::node* n = table_ ? table_->get(key) : nullptr;
    if (n && n->is_integer()) return integer(key, out, 1, std::numeric_limits<std::int64_t>::max());
    return with<std::string>(key, [&](const std::string& v) -> util::Result<void> {
      auto s = util::parse_size(v);
      if (!s) return fail(key, s.error().message);
      out = *s;
      return {};
    });
  }
  util::Result<void> address(const char* key, util::HostPort& out) {
    return with<std::string>(key, [&](const std::string& v) -> util::Result<void> {
      auto a = util::parse_host_port(v);
      if (!a) return fail(key, a.error().message);
      out = *a;
      return {};
    });
  }
  util::Result<void> address_list(const char* key, std::vector<std::string>& out) {
    read_.insert(key);
    const toml::node* n = table_ ? table_->get(key) : nullptr;
    if (!n) return {};
    const toml::array* arr = n->as_array();
    if (!arr) return fail(key, "must be an array of \"host:port\" strings, not " + util::type_name(*n));
    out.clear();
    for (std::size_t i = 0; i < arr->size(); ++i) {
      auto s = (*arr)[i].value_exact<std::string>();
      if (!s) return fail(key, "entry " + std::to_string(i) + " must be a \"host:port\" string");
      if (auto a = util::parse_host_port(*s); !a)
        return fail(key, "entry " + std::to_string(i) + ": " + a.error().message);
      out.push_back(*s);
    }
    return {};
  }
  // Refuses any key of the section that no call above read.
  util::Result<void> finish() const {
    if (!table_) return {};
    std::set<std::string> allowed(read_.begin(), read_.end());
    return util::reject_unknown_keys(*table_, allowed, source_, name_ + ".");
  }
  util::Error error(const char* key, const std::string& why) const {
    return util::Error{source_ + ": key '" + name_ + "." + key + "': " + why};
  }

 private:
  tl::unexpected<util::Error> fail(const char* key, const std::string& why) const {
    return tl::unexpected(error(key, why));
  }
  template <typename T, typename Fn>
  util::Result<void> with(const char* key, Fn&& fn) {
    read_.insert(key);
    if (!table_) return {};
    auto v = util::optional_field<T>(*table_, key, source_, name_ + ".");
    if (!v) return tl::unexpected(v.error());
    if (!*v) return {};
    return fn(**v);
  }

  const toml::table* table_;
  std::string source_;
  std::string name_;
  std::set<std::string> read_;
};

constexpr std::int64_t kMaxConnections = 100'000;
constexpr std::int64_t kMaxAttempts = 1'000'000;

}  // namespace

util::Result<void> validate(const NodeConfig& c) {
  auto bad = [](const std::string& key, const std::string& why) { return util::fail("key '" + key + "': " + why); };
  const std::pair<const char*, Millis> positive[] = {{"network.check_interval", c.check_interval},
                                                     {"network.handshake_timeout", c.handshake_timeout},
                                                     {"network.ping_interval", c.ping_interval},
                                                     {"network.ping_timeout", c.ping_timeout},
                                                     {"network.idle_timeout", c.idle_timeout},
                                                     {"network.stall_timeout", c.stall_timeout},
                                                     {"reconnect.base_delay", c.base_delay},
                                                     {"reconnect.max_delay", c.max_delay},
                                                     {"reconnect.breaker_cooldown", c.breaker_cooldown},
                                                     {"reconnect.parked_retry", c.parked_retry},
                                                     {"peer_quality.ban_duration", c.ban_duration},
                                                     {"peer_quality.score_half_life", c.score_half_life},
                                                     {"peer_quality.ip_ban_duration", c.ip_ban_duration},
                                                     {"http.header_timeout", c.http_header_timeout},
                                                     {"http.idle_timeout", c.http_idle_timeout}};
  for (const auto& [key, value] : positive)
    if (value.count() <= 0) return bad(key, "must be greater than zero");
  if (c.ping_interval >= c.idle_timeout)
    return bad("network.ping_interval",
               "must be shorter than network.idle_timeout (" + util::format_duration(c.idle_timeout) + ")");
  if (c.ping_timeout >= c.idle_timeout)
    return bad("network.ping_timeout",
               "must be shorter than network.idle_timeout (" + util::format_duration(c.idle_timeout) + ")");
  if (c.base_delay > c.max_delay)
    return bad("reconnect.base_delay",
               "must not exceed reconnect.max_delay (" + util::format_duration(c.max_delay) + ")");
  if (c.max_message_size < 1024) return bad("network.max_message_size", "must be at least 1KiB");
  if (c.max_message_size > (256u << 20)) return bad("network.max_message_size", "must be at most 256MiB");
  if (c.ban_threshold < -100 || c.ban_threshold >= 0)
    return bad("peer_quality.ban_threshold", "must be in -100..-1 (scores range over -100..100)");
  if (c.ip_ban_threshold < -100 || c.ip_ban_threshold >= 0)
    return bad("peer_quality.ip_ban_threshold", "must be in -100..-1 (scores range over -100..100)");
  if (c.max_addresses_per_source > c.max_address_book)
    return bad("network.max_addresses_per_source",
               "must not exceed network.max_address_book (" + std::to_string(c.max_address_book) + ")");
  if (!kLogLevels.count(c.log_level))
    return bad("log.level", "'" + c.log_level + "' is not one of trace, debug, info, warn, error, critical, off");
  if (c.data_dir.empty()) return bad("node.data_dir", "must not be empty");
  if (c.key_file.empty()) return bad("node.key_file", "must not be empty");
  if (c.genesis_file.empty() && !c.genesis_hash)
    return bad("genesis.file", "either genesis.file or genesis.hash must be set");
  if (c.bootstrap_node && c.genesis_file.empty())
    return bad("genesis.bootstrap_node", "a bootstrap node needs genesis.file (it serves genesis to others)");
  if (!c.external_address.empty()) {
    if (auto a = util::parse_host_port(c.external_address); !a)
      return bad("network.external_address", a.error().message);
    if (c.external_address.size() > defaults::kMaxAddressLength)
      return bad("network.external_address",
                 "longer than " + std::to_string(defaults::kMaxAddressLength) + " bytes (peers refuse it)");
  }
  return {};
}

namespace {
// Every key read and checked on its own; validate() (keys against each
// other) is left to the caller.
util::Result<NodeConfig> parse_fields(std::string_view text, const std::string& source,
                                      const std::filesystem::path& base_dir) {
  auto parsed = util::parse_toml(text, source);
  if (!parsed) return tl::unexpected(parsed.error());
  const toml::table& root = *parsed;
  NodeConfig c;
  c.base_dir = base_dir;

  static const std::set<std::string> kSections = {"node",  "network", "reconnect", "peer_quality",
                                                  "chain", "genesis", "http",      "log"};
  for (const auto& [key, value] : root) {
    std::string k(key.str());
    if (!kSections.count(k)) return util::fail(source + ": unknown key or section '" + k + "'");
    if (!value.is_table()) return util::fail(source + ": '" + k + "' must be a [" + k + "] section");
  }
  auto section = [&](const char* name) { return Section(root[name].as_table(), source, name); };

  Section node = section("node");
  std::string role = to_string(c.role);
  Section net = section("network");
  Section rc = section("reconnect");
  Section pq = section("peer_quality");
  Section ch = section("chain");
  Section gen = section("genesis");
  std::string genesis_hash;
  Section http = section("http");
  Section log = section("log");
  std::string log_format = to_string(c.log_format);

  const util::Result<void> results[] = {
      node.string("data_dir", c.data_dir),
      node.string("key_file", c.key_file),
      node.string("role", role),
      node.finish(),
      net.address("listen", c.listen),
      net.string("external_address", c.external_address),
      net.address_list("peers", c.peers),
      net.integer("max_inbound", c.max_inbound, 0, kMaxConnections),
      net.integer("max_outbound", c.max_outbound, 0, kMaxConnections),
      net.integer("max_per_ip", c.max_per_ip, 1, kMaxConnections),
      net.duration("check_interval", c.check_interval),
      net.duration("handshake_timeout", c.handshake_timeout),
      net.duration("ping_interval", c.ping_interval),
      net.duration("ping_timeout", c.ping_timeout),
      net.duration("idle_timeout", c.idle_timeout),
      net.duration("stall_timeout", c.stall_timeout),
      net.size("max_message_size", c.max_message_size),
      net.integer("max_address_book", c.max_address_book, 16, kMaxConnections * 10),
      net.integer("max_addresses_per_source", c.max_addresses_per_source, 1, kMaxConnections * 10),
      net.integer("max_dials_per_second", c.max_dials_per_second, 1, kMaxConnections),
      net.integer("max_genesis_requests_per_minute", c.max_genesis_requests_per_minute, 1, kMaxConnections),
      net.integer("max_pings_per_second", c.max_pings_per_second, 1, kMaxConnections),
      net.finish(),
      rc.duration("base_delay", c.base_delay),
      rc.duration("max_delay", c.max_delay),
      rc.integer("max_attempts", c.max_attempts, 1, kMaxAttempts),
      rc.integer("max_attempts_discovered", c.max_attempts_discovered, 1, kMaxAttempts),
      rc.integer("breaker_failures", c.breaker_failures, 1, kMaxAttempts),
      rc.duration("breaker_cooldown", c.breaker_cooldown),
      rc.duration("parked_retry", c.parked_retry),
      rc.finish(),
      pq.integer("ban_threshold", c.ban_threshold, -100, 100),
      pq.duration("ban_duration", c.ban_duration),
      pq.duration("score_half_life", c.score_half_life),
      pq.integer("ip_ban_threshold", c.ip_ban_threshold, -100, 100),
      pq.duration("ip_ban_duration", c.ip_ban_duration),
      pq.finish(),
      ch.duration("max_clock_drift", c.max_clock_drift),
      ch.integer("max_reorg_depth", c.max_reorg_depth, 1, std::numeric_limits<std::int64_t>::max()),
      ch.finish(),
      gen.string("file", c.genesis_file),
      gen.string("hash", genesis_hash),
      gen.boolean("bootstrap_node", c.bootstrap_node),
      gen.finish(),
      http.address("listen", c.http_listen),
      http.string("admin_token", c.admin_token),
      http.integer("max_connections", c.http_max_connections, 1, kMaxConnections),
      http.integer("max_connections_per_ip", c.http_max_connections_per_ip, 1, kMaxConnections),
      http.duration("header_timeout", c.http_header_timeout),
      http.duration("idle_timeout", c.http_idle_timeout),
      http.finish(),
      log.string("level", c.log_level),
      log.string("format", log_format),
      log.finish(),
  };
  for (const auto& r : results)
    if (!r) return tl::unexpected(r.error());

  if (role == "masternode")
    c.role = Role::Masternode;
  else if (role == "regular")
    c.role = Role::Regular;
  else
    return tl::unexpected(node.error("role", "'" + role + "' is not one of regular, masternode"));
  if (log_format == "json")
    c.log_format = LogFormat::Json;
  else if (log_format == "text")
    c.log_format = LogFormat::Text;
  else
    return tl::unexpected(log.error("format", "'" + log_format + "' is not one of text, json"));
  if (!genesis_hash.empty()) {
    auto h = crypto::Hash32::from_hex(genesis_hash);
    if (!h) return tl::unexpected(gen.error("hash", h.error().message));
    c.genesis_hash = *h;
    // A pinned hash alone means "fetch genesis from peers", unless a file is also named.
    const toml::table* g = root["genesis"].as_table();
    if (!g || !g->get("file")) c.genesis_file.clear();
  }
  return c;
}
}  // namespace

util::Result<NodeConfig> parse_node_config(std::string_view text, const std::string& source,
                                           const std::filesystem::path& base_dir) {
  auto c = parse_fields(text, source, base_dir);
  if (!c) return c;
  if (auto v = validate(*c); !v) return util::fail(source + ": " + v.error().message);
  return c;
}

util::Result<NodeConfig> load_node_config(const std::filesystem::path& path) {
  auto text = util::read_file(path, 1u << 20);
  if (!text) return tl::unexpected(text.error());
  auto dir = std::filesystem::absolute(path).parent_path();
  return parse_node_config(*text, path.string(), dir);
}

namespace {
// A TOML basic string in plain ASCII: control and non-ASCII characters are
// written as \uXXXX / \UXXXXXXXX escapes (the values are valid UTF-8: toml++
// decoded them).
std::string quote(const std::string& s) {
  std::string out = "\"";
  char buf[16];
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      std::uint32_t cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
      for (std::size_t k = 1; k < len && i + k < s.size(); ++k)
        cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      i += len - 1;
      std::snprintf(buf, sizeof buf, "\\U%08X", cp);
      out += buf;
    }
  }
  return out + "\"";
}
std::string dur(Millis d) { return quote(util::format_duration(d)); }
}  // namespace

std::string to_toml(const NodeConfig& c) {
  std::string peers = "[";
  for (std::size_t i = 0; i < c.peers.size(); ++i) peers += (i ? ", " : "") + quote(c.peers[i]);
  peers += "]";
  std::string o;
  o += "[node]\n";
  o += "data_dir = " + quote(c.data_dir) + "\n";
  o += "key_file = " + quote(c.key_file) + "\n";
  o += "role = " + quote(to_string(c.role)) + "\n";
  o += "\n[network]\n";
  o += "listen = " + quote(c.listen.to_string()) + "\n";
  o += "external_address = " + quote(c.external_address) + "\n";
  o += "peers = " + peers + "\n";
  o += "max_inbound = " + std::to_string(c.max_inbound) + "\n";
  o += "max_outbound = " + std::to_string(c.max_outbound) + "\n";
  o += "max_per_ip = " + std::to_string(c.max_per_ip) + "\n";
  o += "check_interval = " + dur(c.check_interval) + "\n";
  o += "handshake_timeout = " + dur(c.handshake_timeout) + "\n";
  o += "ping_interval = " + dur(c.ping_interval) + "\n";
  o += "ping_timeout = " + dur(c.ping_timeout) + "\n";
  o += "idle_timeout = " + dur(c.idle_timeout) + "\n";
  o += "stall_timeout = " + dur(c.stall_timeout) + "\n";
  o += "max_message_size = " + std::to_string(c.max_message_size) + "\n";
  o += "max_address_book = " + std::to_string(c.max_address_book) + "\n";
  o += "max_addresses_per_source = " + std::to_string(c.max_addresses_per_source) + "\n";
  o += "max_dials_per_second = " + std::to_string(c.max_dials_per_second) + "\n";
  o += "max_genesis_requests_per_minute = " + std::to_string(c.max_genesis_requests_per_minute) + "\n";
  o += "max_pings_per_second = " + std::to_string(c.max_pings_per_second) + "\n";
  o += "\n[reconnect]\n";
  o += "base_delay = " + dur(c.base_delay) + "\n";
  o += "max_delay = " + dur(c.max_delay) + "\n";
  o += "max_attempts = " + std::to_string(c.max_attempts) + "\n";
  o += "max_attempts_discovered = " + std::to_string(c.max_attempts_discovered) + "\n";
  o += "breaker_failures = " + std::to_string(c.breaker_failures) + "\n";
  o += "breaker_cooldown = " + dur(c.breaker_cooldown) + "\n";
  o += "parked_retry = " + dur(c.parked_retry) + "\n";
  o += "\n[peer_quality]\n";
  o += "ban_threshold = " + std::to_string(c.ban_threshold) + "\n";
  o += "ban_duration = " + dur(c.ban_duration) + "\n";
  o += "score_half_life = " + dur(c.score_half_life) + "\n";
  o += "ip_ban_threshold = " + std::to_string(c.ip_ban_threshold) + "\n";
  o += "ip_ban_duration = " + dur(c.ip_ban_duration) + "\n";
  o += "\n[chain]\n";
  o += "max_clock_drift = " + dur(c.max_clock_drift) + "\n";
  o += "max_reorg_depth = " + std::to_string(c.max_reorg_depth) + "\n";
  o += "\n[genesis]\n";
  o += "file = " + quote(c.genesis_file) + "\n";
  o += "hash = " + quote(c.genesis_hash ? c.genesis_hash->hex() : "") + "\n";
  o += std::string("bootstrap_node = ") + (c.bootstrap_node ? "true" : "false") + "\n";
  o += "\n[http]\n";
  o += "listen = " + quote(c.http_listen.to_string()) + "\n";
  o += "admin_token = " + quote(c.admin_token) + "\n";
  o += "max_connections = " + std::to_string(c.http_max_connections) + "\n";
  o += "max_connections_per_ip = " + std::to_string(c.http_max_connections_per_ip) + "\n";
  o += "header_timeout = " + dur(c.http_header_timeout) + "\n";
  o += "idle_timeout = " + dur(c.http_idle_timeout) + "\n";
  o += "\n[log]\n";
  o += "level = " + quote(c.log_level) + "\n";
  o += "format = " + quote(to_string(c.log_format)) + "\n";
  return o;
}

namespace {
struct KeyMeaning {
  const char* key;  // SECTION.KEY
  const char* meaning;
};
// One line per key, what tnode.toml(5) says at length.
constexpr KeyMeaning kMeanings[] = {
    {"node.data_dir", "Directory of the chain store, node key and address book (relative: to this file)."},
    {"node.key_file",
     "Ed25519 key file, the node's identity; relative to data_dir. A masternode's must be in the genesis."},
    {"node.role", "regular, or masternode (produces blocks; its key must be a genesis masternode)."},
    {"network.listen", "Peer-to-peer listen address, HOST:PORT (0.0.0.0: every IPv4 address)."},
    {"network.external_address",
     "HOST:PORT announced to peers when it differs from listen (NAT, 0.0.0.0); empty: none."},
    {"network.peers", "Static peers dialled at start and kept connected, e.g. [\"10.0.0.2:24100\"]."},
    {"network.max_inbound", "Most connections peers may open to this node (masternodes beyond it are let in)."},
    {"network.max_outbound",
     "Most connections this node opens to discovered peers (static peers and masternodes are extra)."},
    {"network.max_per_ip", "Most connections from one IP address."},
    {"network.check_interval", "How often the node reviews its connections and dials what is missing."},
    {"network.handshake_timeout", "A peer that has not finished the handshake by then is dropped."},
    {"network.ping_interval", "Silence on a connection after which it is pinged."},
    {"network.ping_timeout", "An unanswered ping after this long closes the connection (a silent dead peer)."},
    {"network.idle_timeout", "A connection with no traffic at all for this long is closed."},
    {"network.stall_timeout", "A block request unanswered for this long goes to another peer."},
    {"network.max_message_size", "Largest frame accepted from a peer (e.g. 4MiB); larger closes the connection."},
    {"network.max_address_book", "Most peer addresses remembered, all sources together."},
    {"network.max_addresses_per_source", "Most addresses one gossiping or inbound IP may add to the address book."},
    {"network.max_dials_per_second", "Most new outbound connection attempts per second."},
    {"network.max_genesis_requests_per_minute", "Genesis requests answered per remote IP and minute."},
    {"network.max_pings_per_second", "Pings answered per peer and second; more are ignored."},
    {"reconnect.base_delay", "First delay before redialling a lost peer; doubles per failure (with jitter)."},
    {"reconnect.max_delay", "Longest delay between redials."},
    {"reconnect.max_attempts", "Failed dials of a static peer or masternode before it is parked."},
    {"reconnect.max_attempts_discovered", "Failed dials of a gossiped address before it is forgotten."},
    {"reconnect.breaker_failures", "Consecutive failures that open an address's circuit breaker."},
    {"reconnect.breaker_cooldown", "How long an open breaker blocks dials (doubles while it keeps failing)."},
    {"reconnect.parked_retry", "How often a parked peer is tried again."},
    {"peer_quality.ban_threshold", "Misbehaviour score at which a peer is banned (-100..-1)."},
    {"peer_quality.ban_duration", "How long a ban lasts."},
    {"peer_quality.score_half_life", "Time after which half of a peer's misbehaviour score is forgiven."},
    {"peer_quality.ip_ban_threshold", "Score of one IP address, all its identities together, at which it is banned."},
    {"peer_quality.ip_ban_duration", "How long an IP ban lasts."},
    {"chain.max_clock_drift", "How far in the future a block's timestamp may be."},
    {"chain.max_reorg_depth", "Deepest reorganisation accepted; deeper forks are refused."},
    {"genesis.file", "The network's genesis.toml (relative: to this file); empty with hash set: fetched from peers."},
    {"genesis.hash", "Expected genesis hash (64 hex digits); empty: whatever genesis.file holds."},
    {"genesis.bootstrap_node", "Serve the genesis to nodes that only know its hash."},
    {"http.listen", "HTTP endpoints (/health, /metrics, /peers, ...), HOST:PORT; keep it off public addresses."},
    {"http.admin_token", "Bearer token for the admin endpoints (ban, unban); empty: admin endpoints are off."},
    {"http.max_connections", "Most HTTP connections open at once."},
    {"http.max_connections_per_ip", "Most HTTP connections from one IP address."},
    {"http.header_timeout", "A request whose headers have not arrived by then is closed."},
    {"http.idle_timeout", "An idle keep-alive HTTP connection is closed after this long."},
    {"log.level", "trace, debug, info, warn, error, critical or off."},
    {"log.format", "text (one readable line) or json (one object per line, with structured fields)."},
};

// "key = value" -> "key".
std::string_view line_key(std::string_view line) {
  const auto eq = line.find(" = ");
  return eq == std::string_view::npos ? std::string_view{} : line.substr(0, eq);
}
}  // namespace

std::string_view key_meaning(std::string_view section, std::string_view key) {
  for (const auto& m : kMeanings) {
    const std::string_view full = m.key;
    if (full.size() == section.size() + 1 + key.size() && full.starts_with(section) && full[section.size()] == '.' &&
        full.ends_with(key))
      return m.meaning;
  }
  return {};
}

std::string to_commented_toml(const NodeConfig& c) {
  // Walks to_toml line by line beside the defaults' rendering: both list
  // the same keys in the same order.
  const std::string mine = to_toml(c), defaults = to_toml(NodeConfig{});
  std::istringstream a(mine), b(defaults);
  std::string line, default_line, section;
  std::string out =
      "# tnode.toml: the configuration of one tnode (every key: tnode.toml(5)).\n"
      "# Lines starting with '#' show a key at its default; remove the '#' to change it.\n"
      "# At the least a node needs its network's genesis: genesis.file (relative\n"
      "# paths are taken from this file's directory; key_file from data_dir), or\n"
      "# genesis.hash with network.peers. A masternode also needs node.role\n"
      "# \"masternode\" and, at key_file, the key its genesis lists.\n"
      "# Check it with: tnode --config <this file> --check-config\n\n";
  while (std::getline(a, line)) {
    std::getline(b, default_line);
    if (line.starts_with('[')) {
      section = line.substr(1, line.size() - 2);
      out += line + "\n";
      continue;
    }
    const auto key = line_key(line);
    if (key.empty()) {
      out += line + "\n";
      continue;
    }
    out += "# " + std::string(key_meaning(section, key)) + "\n";
    // genesis.file counts by being there: with a hash, a missing file key
    // means "fetch the genesis from peers" (parse_node_config).
    const bool meaningful = section == "genesis" && key == "file" && c.genesis_hash && !c.genesis_file.empty();
    out += (line == default_line && !meaningful ? "# " : "") + line + "\n";
  }
  return out;
}

}  // namespace core::config

namespace core::config {

util::Result<NodeConfig> apply_overrides(const NodeConfig& c, const std::vector<std::string>& assignments) {
  if (assignments.empty()) return c;
  // Each assignment is checked as it is applied, with "--set ASSIGNMENT" as
  // the source a file error names ("tnode.toml: key 'x' ..."); the keys are
  // checked against each other once all are applied.
  std::string text = to_toml(c);
  std::string sources;
  for (const auto& a : assignments) {
    const std::string source = "--set " + a;
    sources += (sources.empty() ? "" : ", ") + source;
    const auto eq = a.find('=');
    const auto dot = a.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq)
      return util::fail(source + ": expected SECTION.KEY=VALUE, e.g. network.max_inbound=16");
    const std::string section = a.substr(0, dot), key = a.substr(dot + 1, eq - dot - 1), value = a.substr(eq + 1);
    const auto header = text.find("[" + section + "]\n");
    if (header == std::string::npos) return util::fail(source + ": unknown section '" + section + "'");
    const auto section_end = std::min(text.find("\n[", header + 1), text.size());
    const auto line = text.find("\n" + key + " = ", header);
    if (line == std::string::npos || line >= section_end)
      return util::fail(source + ": unknown key '" + section + "." + key + "'");
    // A value that is valid TOML (number, boolean, quoted string, array) is
    // used as written; anything else is taken as a string.
    const bool is_toml = !value.empty() && util::parse_toml("v = " + value, source);
    const std::string rendered = is_toml ? value : quote(value);
    const auto value_begin = line + 1 + key.size() + 3;
    const auto value_end = std::min(text.find('\n', value_begin), text.size());
    text.replace(value_begin, value_end - value_begin, rendered);
    if (auto checked = parse_fields(text, source, c.base_dir); !checked) return checked;
  }
  return parse_node_config(text, sources, c.base_dir);
}

}  // namespace core::config
