#include "tpeer-probe/tpeer_probe.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/config/node_config.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/p2p/frame.hpp"
#include "libcore/p2p/handshake.hpp"
#include "libcore/p2p/messages.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/resources.hpp"
#include "libcore/util/units.hpp"

namespace tpeer_probe {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace p2p = core::p2p;
using core::node::Failure;
using core::node::FailureKind;
using core::node::rejected_by_peer;
using core::node::WireStream;
using core::util::HostPort;
using core::util::Millis;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kTool = "tpeer-probe";
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// The largest /health response body read; the node's is a few hundred bytes.
constexpr std::uint64_t kMaxHealthBody = 1 << 20;
// Messages a peer may send between our Ping and its Pong (announcements,
// its own requests) before we stop waiting: the step's deadline bounds the
// time, this bounds the work.
constexpr int kMaxMessagesBeforePong = 1000;

int usage_error(const std::string& m) { return app::report_error(kTool, m, app::kUsage); }
int failure(const std::string& m) { return app::report_error(kTool, m, app::kFailure); }

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}
double ms_since(Clock::time_point from) { return ms_between(from, Clock::now()); }
// Milliseconds rounded to microseconds, for JSON.
double round_ms(double ms) { return std::round(ms * 1000.0) / 1000.0; }

std::string fmt_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.2f ms" : "%.1f ms", ms);
  return buf;
}

// Width of the result column in the human output: fits
// "rejected:genesis_mismatch" and most other classes.
constexpr std::size_t kClassWidth = 28;

// Left-aligned label column of the human output.
std::string col(const std::string& label, std::size_t width = 12) {
  return label.size() >= width ? label + " " : label + std::string(width - label.size(), ' ');
}

// ------------------------------------------------------------ network identity

// The network the probe says it is on, and checks replies against.
struct Network {
  std::string name;
  core::crypto::Hash32 genesis_hash;
  // Known when the genesis itself was given: masternode claims are checked
  // against its list. Absent with only a hash.
  std::optional<core::chain::GenesisSpec> spec;
  std::size_t max_message_size = p2p::kDefaultMaxMessageSize;
  std::string source;  // where it came from, for the output
};

core::util::Result<Network> network_of_genesis_file(const std::filesystem::path& path) {
  auto spec = core::chain::load_genesis_file(path);
  if (!spec) return tl::unexpected(spec.error());
  Network n;
  n.name = spec->network;
  n.genesis_hash = core::chain::genesis_hash(*spec);
  n.spec = std::move(*spec);
  n.source = path.string();
  return n;
}

core::util::Result<core::crypto::Hash32> parse_genesis_hash(const std::string& text) {
  auto h = core::crypto::Hash32::from_hex(text);
  if (!h) return core::util::fail("--genesis-hash '" + text + "': " + h.error().message);
  return *h;
}

core::util::Result<void> check_network_name(const std::string& name) {
  if (name.empty()) return core::util::fail("--network: the network name is empty");
  if (name.size() > p2p::kMaxNetworkName)
    return core::util::fail("--network: the name is longer than " + std::to_string(p2p::kMaxNetworkName) + " bytes");
  return {};
}

// The network from --genesis, --config or --network with --genesis-hash;
// nullopt when none was given (connect then stops after the TCP step).
core::util::Result<std::optional<Network>> resolve_network(const Settings& s) {
  if (!s.genesis_file.empty()) {
    auto n = network_of_genesis_file(s.genesis_file);
    if (!n) return tl::unexpected(n.error());
    return std::optional<Network>(std::move(*n));
  }
  if (!s.config_file.empty()) {
    auto cfg = core::config::load_node_config(s.config_file);
    if (!cfg) return tl::unexpected(cfg.error());
    Network n;
    if (auto path = cfg->genesis_path()) {
      auto from_file = network_of_genesis_file(*path);
      if (!from_file) return tl::unexpected(from_file.error());
      n = std::move(*from_file);
      if (cfg->genesis_hash && *cfg->genesis_hash != n.genesis_hash)
        return core::util::fail(s.config_file + ": genesis.hash " + cfg->genesis_hash->hex() + " does not match " +
                                path->string() + " (hash " + n.genesis_hash.hex() + ")");
      if (!s.network.empty() && s.network != n.name)
        return core::util::fail("--network '" + s.network + "' differs from the network '" + n.name + "' of " +
                                path->string());
      n.source = path->string() + " (from " + s.config_file + ")";
    } else {
      // The node pins only the hash; the wire also needs the network name.
      if (s.network.empty())
        return core::util::fail(s.config_file + " pins only genesis.hash: give the network name with --network NAME");
      if (auto ok = check_network_name(s.network); !ok) return tl::unexpected(ok.error());
      n.name = s.network;
      n.genesis_hash = *cfg->genesis_hash;
      n.source = s.config_file + " (genesis.hash)";
    }
    n.max_message_size = cfg->max_message_size;
    return std::optional<Network>(std::move(n));
  }
  if (!s.network.empty() || !s.genesis_hash.empty()) {
    if (s.network.empty() || s.genesis_hash.empty())
      return core::util::fail("--network and --genesis-hash go together (or use --genesis FILE or --config FILE)");
    if (auto ok = check_network_name(s.network); !ok) return tl::unexpected(ok.error());
    auto h = parse_genesis_hash(s.genesis_hash);
    if (!h) return tl::unexpected(h.error());
    Network n;
    n.name = s.network;
    n.genesis_hash = *h;
    n.source = "--network/--genesis-hash";
    return std::optional<Network>(std::move(n));
  }
  return std::optional<Network>();
}

json network_json(const std::optional<Network>& n) {
  if (!n) return nullptr;
  return {{"name", n->name},
          {"genesis_hash", n->genesis_hash.hex()},
          {"source", n->source},
          {"masternodes_known", n->spec.has_value()}};
}

// Who the probe is for one connection: a fresh random key (role regular, not
// listening, at height 0 on the genesis block) and what it checks replies
// against.
struct ProbeIdentity {
  core::crypto::KeyPair key;
  p2p::Hello hello;
  p2p::LocalIdentity local;
};

ProbeIdentity make_probe_identity(const Network& n) {
  ProbeIdentity id{core::crypto::KeyPair::generate(), {}, {}};
  auto& h = id.hello;
  h.network = n.name;
  h.genesis_hash = n.genesis_hash;
  h.node_id = id.key.public_key();
  h.role = p2p::Role::Regular;
  h.listen_port = 0;
  h.best_height = 0;
  h.best_hash = n.genesis_hash;  // the genesis block is the tip of an empty chain
  h.session_nonce = p2p::new_session_nonce();
  h.user_agent = std::string(kTool) + "/" + app::version();
  if (n.spec) {
    id.local = p2p::make_local_identity(*n.spec, id.key.public_key());
  } else {
    id.local.network = n.name;
    id.local.genesis_hash = n.genesis_hash;
    id.local.node_id = id.key.public_key();
    // With only the genesis hash the probe does not know the masternode
    // list, so it cannot check a masternode claim: it accepts the claim (the
    // signature still proves the peer holds the key it names) and the
    // output says the role was not checked.
    id.local.is_masternode = [](const core::crypto::PublicKey&) { return true; };
  }
  return id;
}

// ------------------------------------------------------------ steps

enum class StepStatus { ok, failed, skipped };

struct Step {
  std::string name;  // connect | handshake | ping
  StepStatus status = StepStatus::ok;
  double ms = 0;
  std::optional<Failure> failure;
  std::string skip_reason;
};

// How a failure is explained to a human: whose decision a rejection was.
std::string explain(const Failure& f) {
  if (f.kind == FailureKind::rejected) return (f.by_peer ? "the peer said: " : "we refused the peer: ") + f.detail;
  if (f.kind == FailureKind::protocol_error && f.code == "bad_magic")
    return "the peer sent: " + f.detail + " (a node of another network, or not a tnode)";
  if (f.kind == FailureKind::protocol_error && f.to_send) return "the peer sent: " + f.detail;
  return f.detail;
}

json failure_json(const Failure& f) {
  json j = {{"class", f.label()}, {"kind", core::node::to_string(f.kind)}, {"detail", f.detail}};
  if (!f.code.empty()) j["code"] = f.code;
  if (f.kind == FailureKind::rejected) j["by_peer"] = f.by_peer;
  return j;
}

json step_json(const Step& st) {
  json j = {{"step", st.name}, {"ok", st.status == StepStatus::ok}};
  switch (st.status) {
    case StepStatus::ok:
      j["status"] = "ok";
      j["ms"] = round_ms(st.ms);
      break;
    case StepStatus::failed:
      j["status"] = "failed";
      j["ms"] = round_ms(st.ms);
      j.update(failure_json(*st.failure));
      break;
    case StepStatus::skipped:
      j["status"] = "skipped";
      j["reason"] = st.skip_reason;
      break;
  }
  return j;
}

// Closes a connection whose step failed: a locally found fault is told to
// the peer (it reads a reason, not a reset); after the peer's own Reject we
// shut down our side and wait for its close; a broken socket is just closed.
asio::awaitable<void> close_after(WireStream& wire, const Failure& f) {
  if (f.to_send)
    co_await wire.close_gracefully(f.to_send);
  else if (f.kind == FailureKind::rejected && f.by_peer)
    co_await wire.close_gracefully(std::nullopt);
  else
    wire.close();
}

std::uint64_t random_u64() {
  static std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

// Ping -> Pong with the same nonce; returns the round-trip time in ms.
// Answers the peer's own Pings and skips other messages while it waits.
asio::awaitable<tl::expected<double, Failure>> ping(WireStream& wire, Clock::time_point deadline) {
  const p2p::Ping ping{random_u64()};
  wire.expires_at(deadline);
  const auto sent = Clock::now();
  if (auto w = co_await wire.write_message(ping); !w) co_return tl::unexpected(std::move(w.error()));
  for (int i = 0; i < kMaxMessagesBeforePong; ++i) {
    auto message = co_await wire.read_message();
    if (!message) co_return tl::unexpected(std::move(message.error()));
    if (auto* pong = std::get_if<p2p::Pong>(&*message); pong && pong->nonce == ping.nonce) {
      const double rtt = ms_since(sent);
      wire.expires_never();
      co_return rtt;
    }
    if (auto* r = std::get_if<p2p::Reject>(&*message)) co_return tl::unexpected(rejected_by_peer(*r));
    if (auto* their = std::get_if<p2p::Ping>(&*message))
      if (auto w = co_await wire.write_message(p2p::Pong{their->nonce}); !w)
        co_return tl::unexpected(std::move(w.error()));
  }
  Failure f;
  f.kind = FailureKind::timeout;
  f.detail = "ping: no pong among the peer's first " + std::to_string(kMaxMessagesBeforePong) + " messages";
  co_return tl::unexpected(std::move(f));
}

// ------------------------------------------------------------ connect

struct TargetReport {
  std::string target;   // as given
  std::string address;  // host:port probed
  std::vector<Step> steps;
  std::optional<p2p::Hello> peer;
  bool role_checked = false;  // the masternode claim was checked against genesis
  std::optional<double> rtt_ms;
  std::optional<Failure> failure;  // the first failed step's

  std::string result_class() const { return failure ? failure->label() : "ok"; }
};

void fail_step(TargetReport& r, std::string name, double ms, const Failure& f) {
  r.steps.push_back(Step{std::move(name), StepStatus::failed, ms, f, {}});
  r.failure = f;
}

// TCP connect, handshake, ping against one address, each step bounded by
// `timeout`. Without a network it stops after the TCP connect.
asio::awaitable<TargetReport> probe_target(std::string target, HostPort address, const std::optional<Network>& net,
                                           Millis timeout) {
  TargetReport r;
  r.target = std::move(target);
  r.address = address.to_string();
  auto start = Clock::now();
  auto socket = co_await core::node::connect_to(address, start + timeout);
  if (!socket) {
    fail_step(r, "connect", ms_since(start), socket.error());
    co_return r;
  }
  r.steps.push_back(Step{"connect", StepStatus::ok, ms_since(start), {}, {}});
  if (!net) {
    boost::system::error_code ec;
    socket->shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket->close(ec);
    const std::string why = "no network given (--genesis, --config, or --network with --genesis-hash)";
    r.steps.push_back(Step{"handshake", StepStatus::skipped, 0, {}, why});
    r.steps.push_back(Step{"ping", StepStatus::skipped, 0, {}, "needs a handshake"});
    co_return r;
  }

  const auto id = make_probe_identity(*net);
  WireStream wire(std::move(*socket), core::chain::network_magic(net->name), net->max_message_size);
  start = Clock::now();
  auto hs = co_await core::node::initiate_handshake(wire, id.hello, id.key, id.local, start + timeout);
  if (!hs) {
    fail_step(r, "handshake", ms_since(start), hs.error());
    co_await close_after(wire, hs.error());
    co_return r;
  }
  r.steps.push_back(Step{"handshake", StepStatus::ok, ms_since(start), {}, {}});
  r.peer = hs->theirs;
  r.role_checked = net->spec.has_value();

  start = Clock::now();
  auto rtt = co_await ping(wire, start + timeout);
  if (!rtt) {
    fail_step(r, "ping", ms_since(start), rtt.error());
    co_await close_after(wire, rtt.error());
    co_return r;
  }
  r.steps.push_back(Step{"ping", StepStatus::ok, ms_since(start), {}, {}});
  r.rtt_ms = *rtt;
  co_await wire.close_gracefully(p2p::make_reject(p2p::RejectCode::shutdown, "probe done"));
  co_return r;
}

json peer_json(const TargetReport& r) {
  const auto& h = *r.peer;
  json j = {{"node_id", h.node_id.hex()},           {"role", std::string(p2p::to_string(h.role))},
            {"role_checked", r.role_checked},       {"protocol_version", h.protocol_version},
            {"min_version", h.min_version},         {"network", h.network},
            {"genesis_hash", h.genesis_hash.hex()}, {"user_agent", h.user_agent},
            {"listen_port", h.listen_port},         {"best_height", h.best_height},
            {"best_hash", h.best_hash.hex()}};
  j["rtt_ms"] = r.rtt_ms ? json(round_ms(*r.rtt_ms)) : json(nullptr);
  return j;
}

json target_json(const TargetReport& r) {
  json steps = json::array();
  for (const auto& st : r.steps) steps.push_back(step_json(st));
  json j = {
      {"target", r.target}, {"address", r.address}, {"ok", !r.failure}, {"class", r.result_class()}, {"steps", steps}};
  j["peer"] = r.peer ? peer_json(r) : json(nullptr);
  if (r.failure) j["failure"] = failure_json(*r.failure);
  return j;
}

void print_target(const TargetReport& r) {
  std::cout << r.address << (r.target != r.address ? "  (" + r.target + ")" : "") << "\n";
  for (const auto& st : r.steps) {
    std::cout << "  " << col(st.name);
    switch (st.status) {
      case StepStatus::ok:
        std::cout << col("ok", kClassWidth) << fmt_ms(st.ms) << "\n";
        break;
      case StepStatus::failed:
        std::cout << col(st.failure->label(), kClassWidth) << fmt_ms(st.ms) << "  " << explain(*st.failure) << "\n";
        break;
      case StepStatus::skipped:
        std::cout << col("skipped", kClassWidth) << st.skip_reason << "\n";
        break;
    }
  }
  if (r.peer) {
    const auto& h = *r.peer;
    std::cout << "  " << col("node id") << h.node_id.hex() << "\n"
              << "  " << col("role") << p2p::to_string(h.role)
              << (h.role == p2p::Role::Masternode && !r.role_checked
                      ? " (claimed: not checked without the genesis masternode list)"
                      : "")
              << "\n"
              << "  " << col("protocol") << h.protocol_version << " (min " << h.min_version << ")\n"
              << "  " << col("user agent") << h.user_agent << "\n"
              << "  " << col("best") << "height " << h.best_height << "  " << h.best_hash.hex() << "\n";
    if (h.listen_port != 0) std::cout << "  " << col("listens on") << "port " << h.listen_port << "\n";
    if (r.rtt_ms) std::cout << "  " << col("rtt") << fmt_ms(*r.rtt_ms) << "\n";
  }
  std::cout << "  " << col("result") << r.result_class() << "\n";
}

// Runs `make()` for every index on `io`, concurrently, until all finish.
// An exception escaping a coroutine is a bug: it is rethrown here.
template <typename T>
std::vector<T> run_all(asio::io_context& io, std::size_t count,
                       const std::function<asio::awaitable<T>(std::size_t)>& make) {
  std::vector<std::optional<T>> results(count);
  std::exception_ptr error;
  for (std::size_t i = 0; i < count; ++i)
    asio::co_spawn(io, make(i), [&results, &error, i](const std::exception_ptr& e, T value) {
      if (e && !error) error = e;
      if (!e) results[i] = std::move(value);
    });
  io.run();
  if (error) std::rethrow_exception(error);
  std::vector<T> out;
  out.reserve(count);
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

core::util::Result<Millis> parse_timeout(const std::string& text) {
  auto t = core::util::parse_duration(text);
  if (!t) return core::util::fail("--timeout: " + t.error().message);
  if (t->count() <= 0) return core::util::fail("--timeout must be above zero, got '" + text + "'");
  return *t;
}

int cmd_connect(const Settings& s) {
  auto timeout = parse_timeout(s.timeout);
  if (!timeout) return usage_error(timeout.error().message);
  std::vector<HostPort> addresses;
  for (const auto& t : s.targets) {
    auto a = core::util::parse_host_port(t, kDefaultPeerPort);
    if (!a) return usage_error("target '" + t + "': " + a.error().message);
    addresses.push_back(*a);
  }
  auto net = resolve_network(s);
  if (!net) return usage_error(net.error().message);

  asio::io_context io;
  auto reports = run_all<TargetReport>(
      io, addresses.size(), [&](std::size_t i) { return probe_target(s.targets[i], addresses[i], *net, *timeout); });
  const auto failed = std::count_if(reports.begin(), reports.end(), [](const auto& r) { return r.failure; });

  if (s.json) {
    json targets = json::array();
    for (const auto& r : reports) targets.push_back(target_json(r));
    app::print_json(
        {{"ok", failed == 0}, {"network", network_json(*net)}, {"timeout_ms", timeout->count()}, {"targets", targets}});
  } else {
    if (*net)
      std::cout << "network " << (*net)->name << ", genesis " << (*net)->genesis_hash.hex() << "\n";
    else
      std::cout << "no network given: TCP connect only\n";
    for (const auto& r : reports) print_target(r);
  }
  if (failed > 0)
    return failure(std::to_string(failed) + " of " + std::to_string(reports.size()) + " target" +
                   (reports.size() == 1 ? "" : "s") + " failed");
  return app::kOk;
}

// ------------------------------------------------------------ health

struct HttpTarget {
  HostPort address;
  std::string host_header;  // as given: "host:port"
  std::string path = "/health";
  std::string url() const { return "http://" + host_header + path; }
};

// "http://host[:port][/path]", "host[:port]" or "host". The path, when one
// is given and is not "/", replaces /health (a node behind a proxy prefix).
core::util::Result<HttpTarget> parse_http_target(const std::string& text) {
  std::string rest = text;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (auto scheme = rest.find("://"); scheme != std::string::npos) {
    return core::util::fail("'" + text + "': only http:// is supported (the node serves plain HTTP)");
  }
  HttpTarget t;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    if (rest.substr(slash) != "/") t.path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  auto a = core::util::parse_host_port(rest, kDefaultHttpPort);
  if (!a) return core::util::fail("'" + text + "': " + a.error().message);
  t.address = *a;
  t.host_header = a->host.find(':') != std::string::npos ? "[" + a->host + "]:" + std::to_string(a->port)
                                                         : a->host + ":" + std::to_string(a->port);
  return t;
}

struct HealthReport {
  std::string url;
  double ms = 0;
  std::optional<Failure> failure;  // no HTTP answer
  unsigned http_status = 0;
  std::optional<json> body;  // the node's /health document
};

// GET path on a fresh connection, bounded by `timeout` in total.
asio::awaitable<HealthReport> fetch_health(HttpTarget target, Millis timeout) {
  HealthReport r;
  r.url = target.url();
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  auto socket = co_await core::node::connect_to(target.address, deadline);
  if (!socket) {
    r.failure = socket.error();
    r.ms = ms_since(start);
    co_return r;
  }
  beast::tcp_stream stream(std::move(*socket));
  stream.expires_at(deadline);
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, target.path, 11};
  request.set(bhttp::field::host, target.host_header);
  request.set(bhttp::field::user_agent, std::string(kTool) + "/" + app::version());
  request.set(bhttp::field::accept, "application/json");
  request.set(bhttp::field::connection, "close");
  auto [wec, written] = co_await bhttp::async_write(stream, request, kTuple);
  (void)written;
  if (wec) {
    r.failure = core::node::socket_failure(wec, "write");
    r.ms = ms_since(start);
    co_return r;
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxHealthBody);
  auto [rec, read] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
  (void)read;
  r.ms = ms_since(start);
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
  if (rec) {
    if (rec == bhttp::error::end_of_stream) {
      r.failure = core::node::socket_failure(asio::error::eof, "read");
    } else if (&rec.category() == &bhttp::make_error_code(bhttp::error::end_of_stream).category()) {
      // The parser refused the bytes: whatever answered is no HTTP server.
      Failure f;
      f.kind = FailureKind::protocol_error;
      f.detail = "read: not a valid HTTP response (" + rec.message() + ")";
      r.failure = f;
    } else {
      r.failure = core::node::socket_failure(rec, "read");
    }
    co_return r;
  }
  const auto& response = parser.get();
  r.http_status = response.result_int();
  auto body = json::parse(response.body(), nullptr, false);
  if (!body.is_discarded() && body.is_object()) r.body = std::move(body);
  co_return r;
}

// A health answer's verdict: "ok"/"syncing" (HTTP 200), "degraded" (503),
// "http_<status>" or "protocol_error" (not a node's /health), or the
// connection failure's class.
std::string health_class(const HealthReport& r) {
  if (r.failure) return r.failure->label();
  if (r.http_status == 200 || r.http_status == 503) {
    if (!r.body || !r.body->contains("status") || !(*r.body)["status"].is_string()) return "protocol_error";
    return (*r.body)["status"].get<std::string>();
  }
  return "http_" + std::to_string(r.http_status);
}

bool health_ok(const HealthReport& r) {
  const auto c = health_class(r);
  return r.http_status == 200 && (c == "ok" || c == "syncing");
}

std::string json_text(const json& j, const char* key) {
  if (!j.contains(key)) return "-";
  const auto& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

int cmd_health(const Settings& s) {
  auto timeout = parse_timeout(s.timeout);
  if (!timeout) return usage_error(timeout.error().message);
  auto target = parse_http_target(s.target);
  if (!target) return usage_error(target.error().message);

  asio::io_context io;
  auto reports = run_all<HealthReport>(io, 1, [&](std::size_t) { return fetch_health(*target, *timeout); });
  const auto& r = reports.front();
  const bool ok = health_ok(r);
  const auto verdict = health_class(r);

  if (s.json) {
    json j = {{"url", r.url}, {"ok", ok}, {"class", verdict}, {"ms", round_ms(r.ms)}};
    j["http_status"] = r.failure ? json(nullptr) : json(r.http_status);
    j["health"] = r.body ? *r.body : json(nullptr);
    if (r.failure) j["failure"] = failure_json(*r.failure);
    app::print_json(j);
  } else {
    std::cout << r.url << "\n";
    if (r.failure) {
      std::cout << "  " << col("result") << col(r.failure->label(), kClassWidth) << fmt_ms(r.ms) << "  "
                << r.failure->detail << "\n";
    } else {
      std::cout << "  " << col("http") << r.http_status << "  " << fmt_ms(r.ms) << "\n";
      if (r.body && (r.http_status == 200 || r.http_status == 503)) {
        const auto& b = *r.body;
        std::cout << "  " << col("status") << json_text(b, "status") << "\n"
                  << "  " << col("height") << json_text(b, "height") << "\n"
                  << "  " << col("tip") << json_text(b, "tip") << "\n";
        if (b.contains("peers") && b["peers"].is_object()) {
          const auto& p = b["peers"];
          std::cout << "  " << col("peers") << "inbound " << json_text(p, "inbound") << ", outbound "
                    << json_text(p, "outbound") << ", masternodes " << json_text(p, "masternodes") << "\n";
        }
        std::cout << "  " << col("syncing") << json_text(b, "syncing") << "\n"
                  << "  " << col("uptime") << json_text(b, "uptime_s") << " s\n";
      }
      std::cout << "  " << col("result") << verdict << "\n";
    }
  }
  if (ok) return app::kOk;
  if (r.failure) return failure(r.url + ": " + r.failure->label() + ": " + r.failure->detail);
  if (verdict == "protocol_error")
    return failure(r.url + ": HTTP " + std::to_string(r.http_status) + " without a /health JSON document");
  return failure(r.url + ": " + verdict + " (HTTP " + std::to_string(r.http_status) + ")");
}

// ------------------------------------------------------------ stress

struct Attempt {
  std::optional<double> connect_ms;    // the TCP connect succeeded
  std::optional<double> handshake_ms;  // the handshake succeeded
  std::optional<Failure> failure;
};

// One connect + handshake with a fresh identity, then a graceful close.
asio::awaitable<Attempt> one_handshake(HostPort address, const Network& net, Millis timeout) {
  Attempt a;
  auto start = Clock::now();
  auto socket = co_await core::node::connect_to(address, start + timeout);
  if (!socket) {
    a.failure = socket.error();
    co_return a;
  }
  a.connect_ms = ms_since(start);
  // A fresh key per connection: N distinct peers, so the node's duplicate
  // rule (by node id) never closes one probe connection for another.
  const auto id = make_probe_identity(net);
  WireStream wire(std::move(*socket), core::chain::network_magic(net.name), net.max_message_size);
  start = Clock::now();
  auto hs = co_await core::node::initiate_handshake(wire, id.hello, id.key, id.local, start + timeout);
  if (!hs) {
    a.failure = hs.error();
    co_await close_after(wire, hs.error());
    co_return a;
  }
  a.handshake_ms = ms_since(start);
  co_await wire.close_gracefully(p2p::make_reject(p2p::RejectCode::shutdown, "probe done"));
  co_return a;
}

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

// Nearest-rank percentiles of a non-empty sample.
Percentiles percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto rank = [&](double p) {
    auto k = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(k, 1, v.size()) - 1];
  };
  Percentiles out;
  out.p50 = rank(50);
  out.p90 = rank(90);
  out.p99 = rank(99);
  out.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  out.mean = sum / static_cast<double>(v.size());
  return out;
}

json percentiles_json(const std::vector<double>& v) {
  if (v.empty()) return nullptr;
  auto p = percentiles(v);
  return {{"p50", round_ms(p.p50)}, {"p90", round_ms(p.p90)},   {"p99", round_ms(p.p99)},
          {"max", round_ms(p.max)}, {"mean", round_ms(p.mean)}, {"count", v.size()}};
}

std::string percentiles_text(const std::vector<double>& v) {
  if (v.empty()) return "-";
  auto p = percentiles(v);
  return "p50 " + fmt_ms(p.p50) + "  p90 " + fmt_ms(p.p90) + "  p99 " + fmt_ms(p.p99) + "  max " + fmt_ms(p.max);
}

int cmd_stress(const Settings& s) {
  auto timeout = parse_timeout(s.timeout);
  if (!timeout) return usage_error(timeout.error().message);
  auto address = core::util::parse_host_port(s.target, kDefaultPeerPort);
  if (!address) return usage_error("target '" + s.target + "': " + address.error().message);
  auto net = resolve_network(s);
  if (!net) return usage_error(net.error().message);
  if (!*net)
    return usage_error(
        "stress needs the network to handshake on: --genesis FILE, --config FILE, or --network NAME "
        "with --genesis-hash HEX");
  const Network& network = **net;
  const std::uint64_t total = s.connections;
  const std::uint64_t workers = std::min(s.concurrency, total);

  asio::io_context io;
  app::Progress progress("handshakes");
  std::vector<Attempt> attempts;
  attempts.reserve(total);
  std::uint64_t next = 0;
  // `workers` coroutines each run handshakes one after another, so at most
  // that many are in flight; all run on this thread (no locking needed).
  auto worker = [&](std::size_t) -> asio::awaitable<int> {
    while (next < total) {
      ++next;
      attempts.push_back(co_await one_handshake(*address, network, *timeout));
      progress.update(attempts.size(), total);
    }
    co_return 0;
  };
  const auto start = Clock::now();
  run_all<int>(io, workers, worker);
  const double total_s = ms_since(start) / 1000.0;
  progress.finish();

  std::vector<double> handshake_ms, connect_ms;
  std::map<std::string, std::uint64_t> failures;
  for (const auto& a : attempts) {
    if (a.connect_ms) connect_ms.push_back(*a.connect_ms);
    if (a.handshake_ms) handshake_ms.push_back(*a.handshake_ms);
    if (a.failure) ++failures[a.failure->label()];
  }
  const std::uint64_t succeeded = handshake_ms.size();
  const std::uint64_t failed = total - succeeded;
  const double rate = total_s > 0 ? static_cast<double>(succeeded) / total_s : 0;
  const double success_rate = static_cast<double>(succeeded) / static_cast<double>(total);

  if (s.json) {
    app::print_json({{"target", s.target},
                     {"address", address->to_string()},
                     {"network", network_json(*net)},
                     {"ok", failed == 0},
                     {"connections", total},
                     {"concurrency", workers},
                     {"succeeded", succeeded},
                     {"failed", failed},
                     {"success_rate", std::round(success_rate * 10000.0) / 10000.0},
                     {"handshake_ms", percentiles_json(handshake_ms)},
                     {"connect_ms", percentiles_json(connect_ms)},
                     {"failures", failures},
                     {"total_s", std::round(total_s * 1000.0) / 1000.0},
                     {"handshakes_per_s", std::round(rate * 10.0) / 10.0}});
  } else {
    char line[160];
    std::cout << "stress " << address->to_string() << ": " << total << " handshakes, at most " << workers
              << " at once\n";
    std::snprintf(line, sizeof line, "%llu/%llu (%.1f%%)", static_cast<unsigned long long>(succeeded),
                  static_cast<unsigned long long>(total), 100.0 * success_rate);
    std::cout << "  " << col("succeeded") << line << "\n"
              << "  " << col("handshake") << percentiles_text(handshake_ms) << "\n"
              << "  " << col("connect") << percentiles_text(connect_ms) << "\n";
    if (failures.empty()) std::cout << "  " << col("failures") << "none\n";
    for (auto it = failures.begin(); it != failures.end(); ++it)
      std::cout << "  " << col(it == failures.begin() ? "failures" : "") << it->second << "  " << it->first << "\n";
    std::snprintf(line, sizeof line, "%.2f s, %.1f handshakes/s", total_s, rate);
    std::cout << "  " << col("total") << line << "\n";
  }
  if (failed > 0) return failure(std::to_string(failed) + " of " + std::to_string(total) + " handshakes failed");
  return app::kOk;
}

// ------------------------------------------------------------ local

std::string limit_text(std::uint64_t v) { return v == core::util::kFdUnlimited ? "unlimited" : std::to_string(v); }
json limit_json(std::uint64_t v) { return v == core::util::kFdUnlimited ? json(nullptr) : json(v); }

int cmd_local(const Settings& s) {
  // What the node needs: the defaults, or the given node's settings.
  core::util::FdBudget budget;
  std::uint16_t port = s.port;
  std::string needs_of = "default tnode.toml";
  if (!s.config_file.empty()) {
    auto cfg = core::config::load_node_config(s.config_file);
    if (!cfg) return usage_error(cfg.error().message);
    budget.max_inbound = cfg->max_inbound;
    budget.max_outbound = cfg->max_outbound;
    if (auto path = cfg->genesis_path()) {
      auto spec = core::chain::load_genesis_file(*path);
      if (!spec) return usage_error(spec.error().message);
      budget.masternodes = spec->masternodes.size();
    }
    if (!s.port_given) port = cfg->listen.port;
    needs_of = s.config_file;
  }
  const auto need = core::util::required_fds(budget);

  std::vector<std::string> errors;
  auto limits = core::util::current_fd_limits();
  if (!limits) errors.push_back("open-file limit: " + limits.error().message);
  auto sockets = core::util::read_tcp_states(port);
  if (!sockets) errors.push_back("sockets: " + sockets.error().message);
  auto ports = core::util::read_ephemeral_port_range();
  if (!ports) errors.push_back("ephemeral ports: " + ports.error().message);

  // tnode raises its soft limit towards the hard limit at start, so the hard
  // limit decides whether it can hold its connections.
  const bool fd_ok = limits && limits->hard >= need;
  const bool soft_raised = limits && fd_ok && limits->soft < need;

  if (s.json) {
    json j = {{"ok", fd_ok && errors.empty()}, {"port", port}};
    j["fd_limits"] =
        limits ? json{{"soft", limit_json(limits->soft)}, {"hard", limit_json(limits->hard)}} : json(nullptr);
    j["fds_needed"] = {{"total", need},
                       {"for", needs_of},
                       {"max_inbound", budget.max_inbound},
                       {"max_outbound", budget.max_outbound},
                       {"masternodes", budget.masternodes},
                       {"max_handshakes", budget.max_handshakes},
                       {"http_connections", budget.http_connections},
                       {"reserve", budget.reserve}};
    j["fd_ok"] = fd_ok;
    j["soft_limit_raised_at_start"] = soft_raised;
    if (sockets)
      j["sockets"] = {{"total", sockets->total()}, {"by_state", sockets->by_state}};
    else
      j["sockets"] = nullptr;
    if (ports)
      j["ephemeral_ports"] = {
          {"low", ports->first}, {"high", ports->second}, {"count", ports->second - ports->first + 1}};
    else
      j["ephemeral_ports"] = nullptr;
    j["errors"] = errors;
    app::print_json(j);
  } else {
    if (limits)
      std::cout << col("open files", 14) << "soft " << limit_text(limits->soft) << ", hard " << limit_text(limits->hard)
                << "\n";
    std::cout << col("tnode needs", 14) << need << " (" << needs_of << ": " << budget.max_inbound << " inbound, "
              << budget.max_outbound << " outbound, " << budget.masternodes << " masternodes, " << budget.max_handshakes
              << " handshakes, " << budget.http_connections << " HTTP, " << budget.reserve << " store and process)\n";
    if (limits)
      std::cout << col("", 14)
                << (!fd_ok        ? "too low: the hard limit is below the need (raise it, e.g. LimitNOFILE= in the "
                                    "systemd unit or nofile in /etc/security/limits.conf)"
                    : soft_raised ? "ok: tnode raises its soft limit to " + std::to_string(need) + " at start"
                                  : std::string("ok"))
                << "\n";
    if (sockets) {
      std::cout << col("port " + std::to_string(port), 14) << sockets->total() << " socket"
                << (sockets->total() == 1 ? "" : "s");
      const char* sep = ": ";
      for (const auto& [state, n] : sockets->by_state) {
        std::cout << sep << state << " " << n;
        sep = ", ";
      }
      std::cout << "\n";
    }
    if (ports)
      std::cout << col("ephemeral", 14) << ports->first << "-" << ports->second << " ("
                << (ports->second - ports->first + 1) << " ports)\n";
  }
  for (const auto& e : errors) app::report_error(kTool, e, app::kFailure);
  if (limits && !fd_ok)
    return failure("open-file hard limit " + limit_text(limits->hard) + " is below the " + std::to_string(need) +
                   " descriptors tnode needs");
  return errors.empty() ? app::kOk : app::kFailure;
}

}  // namespace

int run_tpeer_probe(const Settings& s) {
  core::crypto::init();
  static const std::map<std::string, std::function<int(const Settings&)>> kCommands = {
      {"connect", cmd_connect}, {"health", cmd_health}, {"stress", cmd_stress}, {"local", cmd_local}};
  auto it = kCommands.find(s.command);
  if (it == kCommands.end()) return usage_error("unknown command '" + s.command + "'");
  try {
    return it->second(s);
  } catch (const std::exception& e) {
    return failure(std::string("unexpected error: ") + e.what());
  }
}

int tpeer_probe_main(int argc, char** argv) {
  Settings s;
  CLI::App cli{
      "tpeer-probe: test connectivity to tnode peers (TCP, handshake, ping), a node's health, handshake "
      "throughput, and this host's limits",
      kTool};
  app::add_tool_basics(cli, kTool, s.json);

  auto add_network = [&s](CLI::App* c) {
    auto* g = c->add_option("-g,--genesis", s.genesis_file, "genesis.toml of the network to handshake on");
    auto* cfg = c->add_option("-c,--config", s.config_file, "A node's tnode.toml: handshake on its genesis");
    auto* n = c->add_option("--network", s.network, "Network name (with --genesis-hash)");
    auto* h = c->add_option("--genesis-hash", s.genesis_hash, "Genesis hash, 64 hex digits (with --network)");
    g->excludes(cfg);
    g->excludes(n);
    g->excludes(h);
    cfg->excludes(h);
  };
  auto add_timeout = [&s](CLI::App* c, const std::string& what) {
    c->add_option("-t,--timeout", s.timeout, what)->capture_default_str();
  };

  auto* connect = cli.add_subcommand("connect", "TCP connect, handshake and ping each target; classify failures");
  connect->add_option("target", s.targets, "HOST[:PORT] (default port 24100), one or more")->required();
  add_network(connect);
  add_timeout(connect, "Limit of each step, e.g. 5s, 500ms");

  auto* health = cli.add_subcommand("health", "GET /health of a node's HTTP endpoint");
  health->add_option("target", s.target, "http://HOST[:PORT][/PATH] or HOST[:PORT] (default port 24101)")->required();
  add_timeout(health, "Limit of the whole request");

  auto* stress = cli.add_subcommand("stress", "Many handshakes against one node: success rate, latency, failures");
  stress->add_option("target", s.target, "HOST[:PORT] (default port 24100)")->required();
  stress->add_option("-n,--connections", s.connections, "Handshakes in total")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000}));
  stress->add_option("-j,--concurrency", s.concurrency, "At most this many at once")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10'000}));
  add_network(stress);
  add_timeout(stress, "Limit of each connect and each handshake");

  auto* local = cli.add_subcommand("local", "Open-file limits, sockets on the node port by TCP state, ephemeral ports");
  local->add_option("-p,--port", s.port, "Port whose sockets are counted")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  local->add_option("-c,--config", s.config_file, "A node's tnode.toml: its limits, its genesis and its port");

  if (auto code = app::parse_cli(cli, argc, argv)) return *code;
  s.command = cli.get_subcommands().front()->get_name();
  s.port_given = local->count("--port") > 0;
  return run_tpeer_probe(s);
}

}  // namespace tpeer_probe
