// The probe's side of one peer connection (see probe_session.hpp): its
// identity, the connect, handshake and ping steps, and the close.
#include "tpeer-probe/probe_session.hpp"

#include <functional>
#include <random>
#include <string>
#include <utility>
#include <variant>

#include <boost/asio/ip/tcp.hpp>
#include <tl/expected.hpp>

#include "common/app.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/p2p/handshake.hpp"
#include "tpeer-probe/probe_async.hpp"

namespace tpeer_probe {

namespace {

namespace asio = boost::asio;
namespace p2p = core::p2p;
using core::node::Failure;
using core::node::FailureKind;
using core::node::rejected_by_peer;
using core::node::WireStream;
using core::util::HostPort;
using core::util::Millis;

// Messages a peer may send between our Ping and its Pong (announcements,
// its own requests) before we stop waiting: the step's deadline bounds the
// time, this bounds the work.
constexpr int kMaxMessagesBeforePong = 1000;

std::uint64_t random_u64() {
  static std::mt19937_64 rng{std::random_device{}()};
  return rng();
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

// Reads until a message `wanted` accepts arrives (at most until `deadline`,
// and among at most kMaxMessagesBeforePong messages), answering the peer's
// own Pings and skipping other messages; a Reject from the peer fails.
asio::awaitable<tl::expected<p2p::Message, Failure>> await_reply(WireStream& wire,
                                                                 const std::function<bool(const p2p::Message&)>& wanted,
                                                                 const std::string& what) {
  for (int i = 0; i < kMaxMessagesBeforePong; ++i) {
    auto message = co_await wire.read_message();
    if (!message) co_return tl::unexpected(std::move(message.error()));
    if (wanted(*message)) co_return std::move(*message);
    if (auto* r = std::get_if<p2p::Reject>(&*message)) co_return tl::unexpected(rejected_by_peer(*r));
    if (auto* their = std::get_if<p2p::Ping>(&*message))
      if (auto w = co_await wire.write_message(p2p::Pong{their->nonce}); !w)
        co_return tl::unexpected(std::move(w.error()));
  }
  Failure f;
  f.kind = FailureKind::timeout;
  f.detail = what + ": no answer among the peer's first " + std::to_string(kMaxMessagesBeforePong) + " messages";
  co_return tl::unexpected(std::move(f));
}

// Ping -> Pong with the same nonce; returns the round-trip time in ms.
asio::awaitable<tl::expected<double, Failure>> ping(WireStream& wire, Clock::time_point deadline) {
  const p2p::Ping ping{random_u64()};
  wire.expires_at(deadline);
  const auto sent = Clock::now();
  if (auto w = co_await wire.write_message(ping); !w) co_return tl::unexpected(std::move(w.error()));
  const std::function<bool(const p2p::Message&)> is_pong = [&ping](const p2p::Message& m) {
    const auto* pong = std::get_if<p2p::Pong>(&m);
    return pong && pong->nonce == ping.nonce;
  };
  const std::string what = "ping";
  auto pong = co_await await_reply(wire, is_pong, what);
  if (!pong) co_return tl::unexpected(std::move(pong.error()));
  const double rtt = ms_since(sent);
  wire.expires_never();
  co_return rtt;
}

// The peers a node says it is connected to: GetConnections (protocol
// version 2), or GetPeers from an older node (its connected peers that
// listen, with no direction or height).
asio::awaitable<tl::expected<std::vector<p2p::ConnectionEntry>, Failure>> ask_connections(WireStream& wire,
                                                                                          const p2p::Hello& theirs,
                                                                                          Clock::time_point deadline) {
  const bool v2 = theirs.protocol_version >= p2p::kConnectionsVersion;
  const p2p::Message ask = v2 ? p2p::Message(p2p::GetConnections{}) : p2p::Message(p2p::GetPeers{});
  wire.expires_at(deadline);
  if (auto w = co_await wire.write_message(ask); !w) co_return tl::unexpected(std::move(w.error()));
  const std::function<bool(const p2p::Message&)> is_answer = [](const p2p::Message& m) {
    return std::holds_alternative<p2p::Connections>(m) || std::holds_alternative<p2p::Peers>(m);
  };
  const std::string what = v2 ? "get_connections" : "get_peers";
  auto answer = co_await await_reply(wire, is_answer, what);
  if (!answer) co_return tl::unexpected(std::move(answer.error()));
  wire.expires_never();
  if (auto* c = std::get_if<p2p::Connections>(&*answer)) co_return std::move(c->peers);
  std::vector<p2p::ConnectionEntry> out;
  for (auto& p : std::get<p2p::Peers>(*answer).peers)
    out.push_back(p2p::ConnectionEntry{p.node_id, std::move(p.address), p.role, false, 0});
  co_return out;
}

void fail_step(SessionReport& r, std::string name, double ms, const Failure& f) {
  r.steps.push_back(Step{std::move(name), StepStatus::failed, ms, probe_view(f), {}});
  r.failure = r.steps.back().failure;
}

}  // namespace

Failure probe_view(Failure f) {
  if (f.code == p2p::to_string(p2p::RejectCode::bad_magic) &&
      f.detail.find(p2p::kHttpServerNote) != std::string::npos) {
    f.code = "http_server";
    f.detail = "this is an HTTP server, not a peer port (the peer port is usually the HTTP port - 1)";
  }
  return f;
}

asio::awaitable<LearntNetwork> learn_network(HostPort address, Millis timeout) {
  const auto start = Clock::now();
  auto spec = co_await core::node::request_genesis(address, start + timeout);
  const double ms = ms_since(start);
  if (!spec) co_return LearntNetwork{Step{"genesis", StepStatus::failed, ms, probe_view(spec.error()), {}}, {}};
  Network n;
  n.name = spec->network;
  n.genesis_hash = core::chain::genesis_hash(*spec);
  n.spec = std::move(*spec);
  n.source = "asked " + address.to_string();
  co_return LearntNetwork{Step{"genesis", StepStatus::ok, ms, {}, {}}, std::move(n)};
}

std::optional<double> SessionReport::ok_ms(std::string_view name) const {
  for (const auto& st : steps)
    if (st.name == name && st.status == StepStatus::ok) return st.ms;
  return std::nullopt;
}

asio::awaitable<SessionReport> run_session(HostPort address, const std::optional<Network>& net, Millis timeout,
                                           AfterHandshake then, std::optional<asio::ip::address> source) {
  SessionReport r;
  auto start = Clock::now();
  auto socket = co_await core::node::connect_to(address, start + timeout, source);
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
    if (then == AfterHandshake::ping) r.steps.push_back(Step{"ping", StepStatus::skipped, 0, {}, "needs a handshake"});
    co_return r;
  }

  // A fresh key per connection: N distinct peers, so the node's duplicate
  // rule (by node id) never closes one probe connection for another.
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

  if (then == AfterHandshake::ping) {
    start = Clock::now();
    auto rtt = co_await ping(wire, start + timeout);
    if (!rtt) {
      fail_step(r, "ping", ms_since(start), rtt.error());
      co_await close_after(wire, rtt.error());
      co_return r;
    }
    r.steps.push_back(Step{"ping", StepStatus::ok, ms_since(start), {}, {}});
    r.rtt_ms = *rtt;
  }
  co_await wire.close_gracefully(p2p::make_reject(p2p::RejectCode::shutdown, "probe done"));
  co_return r;
}

asio::awaitable<p2p::CrawlVisit> crawl_visit(HostPort address, const Network& net, Millis timeout) {
  p2p::CrawlVisit v;
  v.address = address.to_string();
  auto fail = [&v](const Failure& raw) {
    const auto f = probe_view(raw);
    v.failure_class = f.label();
    v.failure_detail = f.detail;
  };
  auto socket = co_await core::node::connect_to(address, Clock::now() + timeout);
  if (!socket) {
    fail(socket.error());
    co_return v;
  }
  const auto id = make_probe_identity(net);
  WireStream wire(std::move(*socket), core::chain::network_magic(net.name), net.max_message_size);
  auto hs = co_await core::node::initiate_handshake(wire, id.hello, id.key, id.local, Clock::now() + timeout);
  if (!hs) {
    fail(hs.error());
    co_await close_after(wire, hs.error());
    co_return v;
  }
  v.hello = hs->theirs;
  auto connections = co_await ask_connections(wire, hs->theirs, Clock::now() + timeout);
  if (!connections) {
    v.failure_detail = "reached, but its connections are unknown: " + connections.error().detail;
    co_await close_after(wire, connections.error());
    co_return v;
  }
  v.connections = std::move(*connections);
  co_await wire.close_gracefully(p2p::make_reject(p2p::RejectCode::shutdown, "crawl done"));
  co_return v;
}

}  // namespace tpeer_probe
