#include "libcore/node/network.hpp"

#include <algorithm>
#include <cassert>
#include <deque>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "libcore/metrics/node_metrics.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/p2p/duplicates.hpp"
#include "libcore/p2p/peer_records.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"

namespace core::node {

namespace {

using p2p::PeerClass;
using p2p::RejectCode;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Clock::time_point steady_now() { return Clock::now(); }

std::string endpoint_ip(const tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a.to_string();
}

std::uint16_t endpoint_port(const tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::string join_host_port(const std::string& ip, std::uint16_t port) { return util::HostPort{ip, port}.to_string(); }

// Failures that say the address is not a peer of ours at all (another
// network, or this very node): dialling it again can never succeed.
bool is_wrong_network(const std::string& code) {
  return code == "genesis_mismatch" || code == "network_mismatch" || code == "version";
}

void log_spawn_failure(std::exception_ptr e, const std::string& what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("{}: {}", what, ex.what());
  }
}

}  // namespace

// ---------------------------------------------------------------- connection

struct Connection {
  enum class State { Handshaking, Resolving, Connected, Closing };

  Connection(tcp::socket socket, std::uint32_t magic, std::size_t max_message_size, bool is_outbound)
      : remote_ip(endpoint_ip(socket)),
        remote_port(endpoint_port(socket)),
        wire(std::move(socket), magic, max_message_size),
        outbound(is_outbound),
        wake(wire.stream().get_executor()),
        keepalive(wire.stream().get_executor()),
        linger(wire.stream().get_executor()),
        probe_timer(wire.stream().get_executor()) {}

  std::string remote_ip;
  std::uint16_t remote_port;
  WireStream wire;
  bool outbound;
  std::string dial_key;  // the address book key we dialled (outbound)
  State state = State::Handshaking;
  p2p::Hello ours, theirs;
  NodeId id;
  PeerClass peer_class = PeerClass::Discovered;
  bool registered = false;
  std::string listen_address;

  // Writer: frames waiting to be sent; `wake` is cancelled to wake it.
  std::deque<std::shared_ptr<const codec::Bytes>> queue;
  std::size_t queued_bytes = 0;
  asio::steady_timer wake;
  asio::steady_timer keepalive;
  asio::steady_timer linger;  // bounds a close: the socket is closed when it fires
  std::string close_reason;   // bounded label
  std::string close_detail;

  Clock::time_point connected_at{}, last_received{}, last_ping_sent{};
  std::int64_t connected_since_ms = 0;
  std::uint64_t ping_nonce = 0;  // outstanding keep-alive ping, 0 if none
  std::optional<double> rtt_ms;

  // Duplicate probes waiting on this connection's Pong, by nonce.
  std::map<std::uint64_t, std::weak_ptr<Connection>> probes;
  // When this connection waits for another one's probe.
  asio::steady_timer probe_timer;
  bool probe_answered = false;

  std::string describe() const {
    std::string who = state == State::Handshaking ? join_host_port(remote_ip, remote_port)
                                                  : id.short_hex() + "@" + join_host_port(remote_ip, remote_port);
    return who + (outbound ? " (outbound)" : " (inbound)");
  }
  const char* direction() const { return outbound ? "outbound" : "inbound"; }
};

using ConnectionPtr = std::shared_ptr<Connection>;

// ------------------------------------------------------------- address book

struct AddressEntry {
  AddressEntry(util::HostPort a, PeerClass c, std::string src, const NetworkSettings& s)
      : address(std::move(a)), state(c, s.reconnect), score(s.quality.score_half_life), source(std::move(src)) {}

  util::HostPort address;
  p2p::AddressState state;
  p2p::PeerScore score;
  std::string source;
  std::optional<NodeId> node_id;
  bool self = false;
  bool wrong_network = false;
  std::uint64_t total_attempts = 0, total_failures = 0;
  std::optional<std::int64_t> last_attempt_ms, last_success_ms;
  std::string last_error;
  std::deque<std::int64_t> recent_attempts_ms;
  std::string persisted;  // the record as last written to the store
  // Summarised failure logging.
  std::uint64_t unlogged_failures = 0;
  std::optional<Clock::time_point> last_failure_log;
};

struct Ban {
  std::int64_t until_ms = 0;
  std::string reason;
  std::int64_t since_ms = 0;
};

// ---------------------------------------------------------------------- impl

struct Network::Impl : std::enable_shared_from_this<Network::Impl> {
  Impl(asio::io_context& io_context, NetworkSettings settings, const crypto::KeyPair& k, const chain::GenesisSpec& spec,
       store::ChainStore& chain_store, metrics::NodeMetrics& node_metrics)
      : io(io_context),
        s(std::move(settings)),
        key(k),
        genesis(spec),
        magic(chain::network_magic(spec.network)),
        identity(p2p::make_local_identity(spec, k.public_key())),
        session(p2p::new_session_nonce()),
        store(chain_store),
        m(node_metrics),
        acceptor(io_context),
        dial_timer(io_context),
        sync_timer(io_context),
        production_timer(io_context),
        persist_timer(io_context),
        rng(std::random_device{}()),
        sync(chain_store, node_metrics, s.sync, sync_hooks()) {
    for (const auto& mn : genesis.masternodes) masternode_ids.insert(mn.pubkey);
  }

  asio::io_context& io;
  NetworkSettings s;
  crypto::KeyPair key;
  chain::GenesisSpec genesis;
  std::uint32_t magic;
  p2p::LocalIdentity identity;
  p2p::Nonce session;
  store::ChainStore& store;
  metrics::NodeMetrics& m;
  tcp::acceptor acceptor;
  asio::steady_timer dial_timer;
  asio::steady_timer sync_timer;
  asio::steady_timer production_timer;
  asio::steady_timer persist_timer;
  std::mt19937_64 rng;
  std::uint16_t port = 0;
  bool started = false;
  bool stopping = false;
  std::function<void()> on_stopped;

  std::set<ConnectionPtr> connections;          // every open connection, any state
  std::map<NodeId, ConnectionPtr> peers_by_id;  // registered (connected) peers
  std::map<std::string, AddressEntry> book;
  std::map<NodeId, Ban> bans;
  std::set<NodeId> masternode_ids;
  struct FailureLog {
    std::optional<Clock::time_point> last;
    std::uint64_t suppressed = 0;
  };
  std::map<std::string, FailureLog> inbound_failure_log;  // by remote IP, bounded
  std::size_t refusing = 0;                               // refused connections still saying why
  bool had_peers = false;
  ChainSync sync;                 // after everything its hooks use
  bool skipping_slots = false;    // production paused while a better chain downloads (logged once)
  bool production_ready = false;  // see ready_to_produce()
  // Partition events (DESIGN.md 8): counted on each transition into
  // "no peers" or "fewer than half of the masternodes", once connected.
  bool partitioned = true;
  bool ever_connected = false;
  std::optional<Clock::time_point> partition_change_since;  // the other state seen since then
  Clock::time_point started_at = steady_now();

  // ------------------------------------------------------------ helpers
  NodeId own_id() const { return key.public_key(); }
  bool is_masternode(const NodeId& id) const { return masternode_ids.count(id) > 0; }
  p2p::Uniform01 uniform() {
    return [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); };
  }
  bool is_banned(const NodeId& id) {
    auto it = bans.find(id);
    if (it == bans.end()) return false;
    if (it->second.until_ms <= util::now_ms()) {
      spdlog::warn("p2p: ban of {} expired", id.hex());
      bans.erase(it);
      m.bans_active.set(static_cast<double>(bans.size()));
      erase_ban_record(id);
      return false;
    }
    return true;
  }

  p2p::Hello our_hello() const {
    p2p::Hello h;
    h.network = genesis.network;
    h.genesis_hash = store.genesis_hash();
    h.node_id = own_id();
    h.role = s.role;
    h.listen_port = port;
    auto tip = store.tip();
    h.best_height = tip.height;
    h.best_hash = tip.hash;
    h.session_nonce = session;
    h.user_agent = s.user_agent;
    return h;
  }

  std::size_t inbound_from(const std::string& ip, bool handshaking_only) const {
    std::size_t n = 0;
    for (const auto& c : connections)
      if (!c->outbound && c->remote_ip == ip && (!handshaking_only || c->state == Connection::State::Handshaking)) ++n;
    return n;
  }
  std::size_t handshaking() const {
    std::size_t n = 0;
    for (const auto& c : connections)
      if (c->state == Connection::State::Handshaking || c->state == Connection::State::Resolving) ++n;
    return n;
  }

  AddressEntry* entry(const std::string& key_text) {
    auto it = book.find(key_text);
    return it == book.end() ? nullptr : &it->second;
  }

  // Adds an address (or upgrades its class: masternode > static > discovered).
  AddressEntry* add_address(const util::HostPort& a, PeerClass c, const std::string& source,
                            std::optional<NodeId> id = std::nullopt) {
    const auto k = a.to_string();
    auto it = book.find(k);
    if (it == book.end()) {
      if (c == PeerClass::Discovered && book.size() >= kMaxAddressBook) return nullptr;
      it = book.emplace(k, AddressEntry(a, c, source, s)).first;
    } else if (static_cast<int>(c) < static_cast<int>(it->second.state.peer_class())) {
      it->second.state.reclassify(c);
      it->second.source = source;
    }
    if (id) it->second.node_id = id;
    if (id && *id == own_id()) it->second.self = true;
    return &it->second;
  }

  PeerClass class_of(const ConnectionPtr& c) {
    if (is_masternode(c->id)) return PeerClass::Masternode;
    if (c->outbound) {
      if (auto* e = entry(c->dial_key)) return e->state.peer_class();
    } else if (!c->listen_address.empty()) {
      if (auto* e = entry(c->listen_address)) return e->state.peer_class();
    }
    return PeerClass::Discovered;
  }

  void set_connection_gauge(const ConnectionPtr& c, double delta) {
    m.connections.with({c->direction(), p2p::to_string(c->peer_class)}).inc(delta);
  }

  // ------------------------------------------------------------ sending

  // Queues a frame for the writer. Over the send-queue limit the peer is
  // dropped as slow (it does not read what we send).
  void send(const ConnectionPtr& c, const p2p::Message& message) {
    if (c->state == Connection::State::Closing) return;
    auto frame = c->wire.frame_of(message);
    if (c->queued_bytes + frame->size() > s.send_queue_limit) {
      close(c, RejectCode::slow_peer,
            "send queue over " + std::to_string(s.send_queue_limit) + " bytes: the peer does not read");
      return;
    }
    c->queued_bytes += frame->size();
    c->queue.push_back(std::move(frame));
    c->wake.cancel();
  }

  // Starts a graceful close of a connected peer: the reason goes out after
  // nothing else (queued data is dropped), then our side shuts down and the
  // reader drains until EOF; `linger` bounds the whole close.
  void close(const ConnectionPtr& c, RejectCode code, std::string detail, bool tell_peer = true) {
    if (c->state == Connection::State::Closing) return;
    c->state = Connection::State::Closing;
    c->close_reason = std::string(p2p::to_string(code));
    c->close_detail = std::move(detail);
    c->queue.clear();
    c->queued_bytes = 0;
    if (tell_peer) c->queue.push_back(c->wire.frame_of(p2p::make_reject(code, c->close_detail)));
    c->wake.cancel();
    c->keepalive.cancel();
    c->linger.expires_after(2 * kLingerTimeout);
    c->linger.async_wait([c](boost::system::error_code ec) {
      if (!ec) c->wire.close();
    });
  }

  // ------------------------------------------------------------ accepting

  util::Result<std::uint16_t> start() {
    boost::system::error_code ec;
    const auto where = s.listen.to_string();
    tcp::endpoint endpoint;
    auto address = asio::ip::make_address(s.listen.host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, s.listen.port);
    } else {
      tcp::resolver resolver(io);
      auto results = resolver.resolve(s.listen.host, std::to_string(s.listen.port), ec);
      if (ec || results.empty()) return util::fail(where + ": cannot resolve host: " + ec.message());
      endpoint = results.begin()->endpoint();
    }
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) port = acceptor.local_endpoint(ec).port();
    if (ec) {
      acceptor.close();
      return util::fail("network.listen " + where + ": " + ec.message());
    }
    started = true;
    started_at = steady_now();
    load_records();
    seed_address_book();
    m.connections_max.set(static_cast<double>(s.max_inbound + s.max_outbound + masternode_ids.size()));
    asio::co_spawn(io, accept_loop(), [](std::exception_ptr e) { log_spawn_failure(e, "p2p accept loop"); });
    asio::co_spawn(io, dial_loop(), [](std::exception_ptr e) { log_spawn_failure(e, "p2p dialler"); });
    asio::co_spawn(io, sync_loop(), [](std::exception_ptr e) { log_spawn_failure(e, "chain sync"); });
    asio::co_spawn(io, persist_loop(), [](std::exception_ptr e) { log_spawn_failure(e, "address book writer"); });
    if (s.produce)
      asio::co_spawn(io, production_loop(), [](std::exception_ptr e) { log_spawn_failure(e, "block production"); });
    return port;
  }

  void seed_address_book() {
    for (const auto& mn : genesis.masternodes) {
      if (mn.address.empty()) continue;
      auto a = util::parse_host_port(mn.address);
      if (!a) continue;  // validated with the genesis
      add_address(*a, PeerClass::Masternode, "genesis", mn.pubkey);
    }
    // A static peer the operator removed from network.peers since the last
    // run is forgotten, not dialled on from memory.
    std::vector<std::string> removed;
    for (const auto& [k, e] : book)
      if (e.source == "config" && std::none_of(s.static_peers.begin(), s.static_peers.end(),
                                               [&k](const util::HostPort& p) { return p.to_string() == k; }))
        removed.push_back(k);
    for (const auto& k : removed) book.erase(k);
    if (!removed.empty()) {
      store.write_records(store::Column::Peers, {}, removed);
      spdlog::info("p2p: forgot {} static peer(s) no longer in network.peers", removed.size());
    }
    for (const auto& p : s.static_peers) add_address(p, PeerClass::Static, "config");
    // Our own listen/external address is never dialled.
    for (const auto& own : {s.listen.to_string(), s.external_address})
      if (auto* e = entry(own)) e->self = true;
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (stopping || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        spdlog::warn("p2p: accept failed: {}", ec.message());
        asio::steady_timer pause(io, std::chrono::milliseconds(100));
        co_await pause.async_wait(kTuple);
        continue;
      }
      boost::system::error_code nec;
      socket.set_option(tcp::no_delay(true), nec);
      auto c = std::make_shared<Connection>(std::move(socket), magic, s.max_message_size, false);
      std::optional<p2p::Rejection> refusal;
      if (handshaking() >= s.max_handshakes)
        refusal = p2p::Rejection{RejectCode::capacity,
                                 std::to_string(s.max_handshakes) + " handshakes in progress; try again later"};
      else if (inbound_from(c->remote_ip, true) >= s.max_per_ip)
        refusal = p2p::Rejection{RejectCode::per_ip_limit, "too many handshakes from " + c->remote_ip +
                                                               " (max_per_ip " + std::to_string(s.max_per_ip) + ")"};
      if (refusal) {
        // A refused connection holds no handshake slot. Past kMaxRefusing
        // of them at once the reason is dropped too: the socket just closes.
        if (refusing >= kMaxRefusing) {
          count_handshake_failure(std::string(p2p::to_string(refusal->code)));
          c->wire.close();
          continue;
        }
        c->state = Connection::State::Closing;
        connections.insert(c);
        asio::co_spawn(io, refuse(c, *refusal), asio::detached);
        continue;
      }
      connections.insert(c);
      asio::co_spawn(io, run_inbound(c), [](std::exception_ptr e) { log_spawn_failure(e, "p2p connection"); });
    }
  }

  asio::awaitable<void> refuse(ConnectionPtr c, p2p::Rejection why) {
    auto self = shared_from_this();
    ++refusing;
    const Failure f = local_failure(FailureKind::rejected, why);
    count_handshake_failure(f.reason());
    log_inbound_failure(c->remote_ip, c->describe(), f);
    co_await c->wire.close_gracefully(f.to_send);
    --refusing;
    forget(c);
  }

  // The responder's node-state checks of a Hello (DESIGN.md 5, step 2).
  std::optional<p2p::Rejection> admit(const Connection& c, const p2p::Hello& h) {
    if (stopping) return p2p::Rejection{RejectCode::shutdown, "node is shutting down"};
    if (is_banned(h.node_id)) return p2p::Rejection{RejectCode::banned, "you are banned: " + bans[h.node_id].reason};
    const bool claims_masternode = h.role == p2p::Role::Masternode;
    if (!claims_masternode) {
      std::size_t regular_from_ip = 0, inbound = 0;
      for (const auto& [id, p] : peers_by_id) {
        if (p->outbound) continue;
        ++inbound;
        if (p->remote_ip == c.remote_ip && !is_masternode(id)) ++regular_from_ip;
      }
      if (inbound >= s.max_inbound)
        return p2p::Rejection{RejectCode::capacity,
                              "inbound slots full (max_inbound " + std::to_string(s.max_inbound) + ")"};
      if (regular_from_ip >= s.max_per_ip)
        return p2p::Rejection{RejectCode::per_ip_limit, "too many peers from " + c.remote_ip + " (max_per_ip " +
                                                            std::to_string(s.max_per_ip) + ")"};
    }
    return std::nullopt;
  }

  asio::awaitable<void> run_inbound(ConnectionPtr c) {
    auto self = shared_from_this();
    const auto started_at = steady_now();
    const auto deadline = started_at + s.handshake_timeout;
    auto first = co_await c->wire.peek_magic(deadline);
    if (first && *first == kGenesisRequestMagic) {
      co_await serve_genesis(c, deadline);
      co_return;
    }
    const p2p::Hello hello = our_hello();
    const AdmitFn admit_fn = [this, raw = c.get()](const p2p::Hello& h) { return admit(*raw, h); };
    auto result = co_await respond_handshake(c->wire, hello, key, identity, admit_fn, deadline);
    if (!result) {
      co_await handshake_failed(c, result.error());
      co_return;
    }
    co_await handshake_done(c, *result, started_at);
  }

  // ------------------------------------------------------------ dialling

  asio::awaitable<void> dial_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      const auto now = steady_now();
      auto next = now + s.check_interval;
      dial_due(now, next);
      dial_timer.expires_at(next);
      co_await dial_timer.async_wait(kTuple);  // cancelled by poke_dialler()
    }
  }

  void poke_dialler() {
    if (!stopping) dial_timer.cancel();
  }

  bool connected_id(const NodeId& id) const { return peers_by_id.count(id) > 0; }

  // Starts every dial that is due and lowers `next` to the earliest time a
  // dial we would make becomes due.
  void dial_due(Clock::time_point now, Clock::time_point& next) {
    // Outbound slots in use: connected non-masternode outbound peers plus
    // non-masternode dials in flight (not yet connections).
    std::size_t non_mn_outbound = 0;
    for (const auto& [id, c] : peers_by_id)
      if (c->outbound && c->peer_class != PeerClass::Masternode) ++non_mn_outbound;
    for (const auto& [k, e] : book)
      if (e.state.dialing() && e.state.peer_class() != PeerClass::Masternode) ++non_mn_outbound;
    const std::size_t free_slots = p2p::free_outbound_slots(s.max_outbound, non_mn_outbound);
    std::vector<p2p::DialCandidate> candidates;
    for (auto& [k, e] : book) {
      if (e.self || e.wrong_network || e.state.dialing()) continue;
      if (e.node_id && (is_banned(*e.node_id) ||
                        p2p::should_skip_dial(e.node_id, [this](const NodeId& id) { return connected_id(id); })))
        continue;
      const bool is_mn = e.state.peer_class() == PeerClass::Masternode;
      if (!is_mn && free_slots == 0) continue;  // re-checked when a slot frees
      auto at = e.state.next_dial_at(now);
      if (!at) continue;
      if (*at <= now)
        candidates.push_back({e.address, e.state.peer_class(), e.score.value(now)});
      else
        next = std::min(next, *at);
    }
    for (const auto& d : p2p::select_dials(std::move(candidates), free_slots)) start_dial(d.address.to_string(), now);
  }

  void start_dial(const std::string& k, Clock::time_point now) {
    auto* e = entry(k);
    if (!e) return;
    e->state.record_attempt(now);
    ++e->total_attempts;
    e->last_attempt_ms = util::now_ms();
    e->recent_attempts_ms.push_back(*e->last_attempt_ms);
    while (e->recent_attempts_ms.size() > kRecentAttempts) e->recent_attempts_ms.pop_front();
    m.reconnect_attempts.with({p2p::to_string(e->state.peer_class())}).inc();
    spdlog::debug("p2p: dialling {} ({}, attempt {})", k, p2p::to_string(e->state.peer_class()), e->state.attempts());
    asio::co_spawn(io, run_outbound(k, e->address), [](std::exception_ptr ex) { log_spawn_failure(ex, "p2p dial"); });
  }

  asio::awaitable<void> run_outbound(std::string k, util::HostPort address) {
    auto self = shared_from_this();
    const auto started_at = steady_now();
    const auto deadline = started_at + s.handshake_timeout;
    auto socket = co_await connect_to(address, deadline);
    if (!socket) {
      m.dial_errors.with({socket.error().reason()}).inc();
      dial_failed(k, socket.error());
      co_return;
    }
    if (stopping) co_return;
    auto c = std::make_shared<Connection>(std::move(*socket), magic, s.max_message_size, true);
    c->dial_key = k;
    connections.insert(c);
    const p2p::Hello hello = our_hello();
    auto result = co_await initiate_handshake(c->wire, hello, key, identity, deadline);
    if (!result) {
      m.dial_errors.with({result.error().reason()}).inc();
      co_await handshake_failed(c, result.error());
      co_return;
    }
    co_await handshake_done(c, *result, started_at);
  }

  // A dial that never produced a connection (or whose handshake failed).
  void dial_failed(const std::string& k, const Failure& f) {
    auto* e = entry(k);
    if (!e) return;
    const auto now = steady_now();
    e->state.record_failure(now, uniform());
    ++e->total_failures;
    e->last_error = f.label() + ": " + f.detail;
    switch (f.kind) {
      case FailureKind::refused:
        e->score.apply(p2p::ScoreEvent::Refused, now);
        break;
      case FailureKind::timeout:
        e->score.apply(p2p::ScoreEvent::Timeout, now);
        break;
      case FailureKind::protocol_error:
        e->score.apply(p2p::ScoreEvent::ProtocolViolation, now);
        break;
      default:
        e->score.apply(p2p::ScoreEvent::DialFailure, now);
    }
    if (f.kind == FailureKind::rejected && f.code == "self") {
      e->self = true;
      spdlog::info("p2p: {} is this node itself; it will not be dialled again", k);
      return;
    }
    // A reply in another network's framing (bad magic) is another network too.
    if ((f.kind == FailureKind::rejected && is_wrong_network(f.code)) ||
        (f.kind == FailureKind::protocol_error && f.code == "bad_magic")) {
      e->wrong_network = true;
      spdlog::warn("p2p: {} is on another network ({}); it will not be dialled again", k, f.detail);
      return;
    }
    log_dial_failure(*e, k, f, now);
    poke_dialler();  // its next_dial_at may be sooner than the dialler's wake-up
  }

  // One line for the first failure after a success, then at most one summary
  // per kFailureLogPeriod: a dead peer never floods the log.
  void log_dial_failure(AddressEntry& e, const std::string& k, const Failure& f, Clock::time_point now) {
    auto next = e.state.next_dial_at(now);
    std::string retry =
        e.state.parked() ? "parked (retry in " + util::format_duration(s.reconnect.parked_retry) + ")"
        : next           ? "next attempt in " + util::format_duration(std::chrono::duration_cast<Millis>(*next - now))
                         : "no retry scheduled";
    if (!e.last_failure_log || now - *e.last_failure_log >= kFailureLogPeriod || e.state.parked()) {
      if (e.unlogged_failures > 0)
        spdlog::info("p2p: {} still failing: {} more failed attempts since last report, last {}; {}; breaker {}", k,
                     e.unlogged_failures, f.label(), retry, p2p::to_string(e.state.breaker(now)));
      else
        spdlog::info("p2p: dial {} failed: {} ({}); {}", k, f.label(), f.detail, retry);
      e.unlogged_failures = 0;
      e.last_failure_log = now;
    } else {
      ++e.unlogged_failures;
      spdlog::debug("p2p: dial {} failed: {} ({}); {}", k, f.label(), f.detail, retry);
    }
  }

  // ------------------------------------------------------------ handshake outcome

  void count_handshake_failure(const std::string& reason) {
    m.handshakes.with({std::string(metrics::kHandshakeFailed)}).inc();
    m.handshake_failures.with({reason}).inc();
  }

  asio::awaitable<void> handshake_failed(const ConnectionPtr& c, const Failure& f) {
    count_handshake_failure(f.reason());
    // Outbound failures are summarised per address by dial_failed; inbound
    // ones per remote IP here, so neither a dead peer nor a flood of bad
    // connections writes a line per attempt.
    spdlog::debug("p2p: handshake with {} failed: {} ({})", c->describe(), f.label(), f.detail);
    if (c->outbound)
      dial_failed(c->dial_key, f);
    else if (!(f.kind == FailureKind::rejected && (f.code == "self" || f.code == "shutdown")))
      log_inbound_failure(c->remote_ip, c->describe(), f);
    // No longer a handshake in progress: it does not hold a handshake slot
    // while it says goodbye.
    c->state = Connection::State::Closing;
    co_await c->wire.close_gracefully(f.to_send);
    forget(c);
  }

  void log_inbound_failure(const std::string& ip, const std::string& who, const Failure& f) {
    const auto now = steady_now();
    if (inbound_failure_log.size() > kMaxAddressBook) inbound_failure_log.clear();  // bounded
    auto& entry = inbound_failure_log[ip];
    if (entry.last && now - *entry.last < kFailureLogPeriod) {
      ++entry.suppressed;
      return;
    }
    if (entry.suppressed > 0)
      spdlog::info("p2p: inbound handshake from {} failed: {} ({}); {} more failures from {} since last report", who,
                   f.label(), f.detail, entry.suppressed, ip);
    else
      spdlog::info("p2p: inbound handshake from {} failed: {} ({})", who, f.label(), f.detail);
    entry.last = now;
    entry.suppressed = 0;
  }

  void forget(const ConnectionPtr& c) {
    connections.erase(c);
    maybe_finish_shutdown();
  }

  asio::awaitable<void> handshake_done(const ConnectionPtr& c, const HandshakeResult& hs,
                                       Clock::time_point started_at) {
    const auto now = steady_now();
    c->ours = hs.ours;
    c->theirs = hs.theirs;
    c->id = c->theirs.node_id;
    if (c->theirs.listen_port != 0) c->listen_address = join_host_port(c->remote_ip, c->theirs.listen_port);
    m.handshake_duration.observe(std::chrono::duration<double>(now - started_at).count());

    // Outbound: the banned/self checks the responder made for its side.
    if (c->outbound && is_banned(c->id)) {
      const Failure banned =
          local_failure(FailureKind::rejected, p2p::Rejection{RejectCode::banned, "this node has banned you"});
      co_await handshake_failed(c, banned);
      co_return;
    }
    if (stopping) {
      const std::optional<p2p::Reject> reject = p2p::make_reject(RejectCode::shutdown, "node is shutting down");
      co_await c->wire.close_gracefully(reject);
      forget(c);
      co_return;
    }
    m.handshakes.with({std::string(metrics::kHandshakeOk)}).inc();
    c->peer_class = class_of(c);

    // Address book: the dialled address answered; an inbound peer's listen
    // address is fresh evidence that it is alive.
    if (c->outbound) {
      if (auto* e = entry(c->dial_key)) {
        if (e->unlogged_failures > 0 || e->state.consecutive_failures() > 0)
          spdlog::info("p2p: {} reachable again after {} failed attempts", c->dial_key,
                       e->state.consecutive_failures());
        e->state.record_success(now);
        e->score.apply(p2p::ScoreEvent::HandshakeCompleted, now);
        e->node_id = c->id;
        e->last_success_ms = util::now_ms();
        e->unlogged_failures = 0;
        e->last_failure_log.reset();
        e->last_error.clear();
      }
    } else if (!c->listen_address.empty()) {
      if (auto a = util::parse_host_port(c->listen_address)) {
        auto* e =
            add_address(*a, is_masternode(c->id) ? PeerClass::Masternode : PeerClass::Discovered, "inbound", c->id);
        if (e && !e->state.dialing()) {
          e->state.record_fresh_evidence(now);
          e->last_success_ms = util::now_ms();
        }
        if (e) e->score.apply(p2p::ScoreEvent::HandshakeCompleted, now);
      }
    }

    if (!co_await register_peer(c)) co_return;
    co_await run_connected(c);
  }

  // Duplicate resolution (DESIGN.md 5, p2p/duplicates.hpp). Returns whether
  // `c` is now the peer's registered connection; if not, it has been closed.
  asio::awaitable<bool> register_peer(const ConnectionPtr& c) {
    c->state = Connection::State::Resolving;
    for (;;) {
      auto it = peers_by_id.find(c->id);
      if (it == peers_by_id.end()) break;
      ConnectionPtr existing = it->second;
      const p2p::ConnectionFacts old_facts{existing->outbound ? own_id() : existing->id,
                                           existing->theirs.session_nonce};
      const p2p::ConnectionFacts new_facts{c->outbound ? own_id() : c->id, c->theirs.session_nonce};
      auto verdict = p2p::resolve_duplicate(own_id(), c->id, old_facts, new_facts);
      if (verdict == p2p::DuplicateVerdict::ProbeExistingFirst) {
        const bool answered = co_await probe(existing, c);
        if (c->state == Connection::State::Closing || stopping) {
          co_await finish_unregistered(c);
          co_return false;
        }
        // The table may have changed while we waited: decide again.
        if (peers_by_id.count(c->id) == 0 || peers_by_id[c->id] != existing) continue;
        verdict = p2p::settle_probe(answered);
      }
      if (verdict == p2p::DuplicateVerdict::KeepExisting) {
        spdlog::debug("p2p: {} duplicates {}; keeping the existing connection", c->describe(), existing->describe());
        c->close_reason = "duplicate";
        const std::optional<p2p::Reject> reject =
            p2p::make_reject(RejectCode::duplicate, "already connected to this node (kept the other connection)");
        co_await c->wire.close_gracefully(reject);
        m.disconnects.with({"duplicate"}).inc();
        forget(c);
        co_return false;
      }
      const bool stale = old_facts.remote_session != new_facts.remote_session;
      spdlog::debug("p2p: {} replaces {} ({})", c->describe(), existing->describe(),
                    stale ? "the peer restarted" : "tie-break");
      unregister(existing);
      close(existing, stale ? RejectCode::stale_session : RejectCode::duplicate,
            stale ? "replaced by a connection from the peer's new session" : "replaced by the preferred connection");
    }
    if (c->state == Connection::State::Closing) {
      co_await finish_unregistered(c);
      co_return false;
    }
    c->state = Connection::State::Connected;
    c->registered = true;
    peers_by_id[c->id] = c;
    c->connected_at = c->last_received = steady_now();
    // The first keep-alive ping goes out kFirstPingDelay after connecting,
    // so the round-trip time is known early; then every ping_interval.
    c->last_ping_sent = c->connected_at - s.ping_interval + std::min<Millis>(kFirstPingDelay, s.ping_interval);
    c->connected_since_ms = util::now_ms();
    set_connection_gauge(c, +1);
    m.peer_height.with({c->id.hex()}).set(static_cast<double>(c->theirs.best_height));
    sync.add_peer(c->id, chain::TipRef{c->theirs.best_height, c->theirs.best_hash}, steady_now());
    if (!c->outbound && is_masternode(c->id)) evict_for(c);
    spdlog::info("p2p: connected {} {} {} at {} (height {}, {})", c->direction(), p2p::to_string(c->peer_class),
                 c->id.short_hex(), join_host_port(c->remote_ip, c->remote_port), c->theirs.best_height,
                 c->theirs.user_agent);
    if (!had_peers) {
      had_peers = true;
      // A node that had no peers regained one: let masternodes be dialled at once.
      const auto now = steady_now();
      for (auto& [k, e] : book)
        if (e.state.peer_class() == PeerClass::Masternode) e.state.reset_backoff(now);
      poke_dialler();
    }
    co_return true;
  }

  asio::awaitable<void> finish_unregistered(const ConnectionPtr& c) {
    const std::optional<p2p::Reject> none;
    co_await c->wire.close_gracefully(none);
    forget(c);
  }

  // Pings `existing` on behalf of `waiting` and waits up to
  // kDuplicateProbeTimeout for the Pong.
  asio::awaitable<bool> probe(const ConnectionPtr& existing, const ConnectionPtr& waiting) {
    std::uint64_t nonce = 0;
    while (nonce == 0) nonce = rng();
    existing->probes[nonce] = waiting;
    waiting->probe_answered = false;
    send(existing, p2p::Ping{nonce});
    waiting->probe_timer.expires_after(p2p::kDuplicateProbeTimeout);
    co_await waiting->probe_timer.async_wait(kTuple);
    existing->probes.erase(nonce);
    co_return waiting->probe_answered;
  }

  void unregister(const ConnectionPtr& c) {
    if (!c->registered) return;
    c->registered = false;
    auto it = peers_by_id.find(c->id);
    if (it != peers_by_id.end() && it->second == c) peers_by_id.erase(it);
    set_connection_gauge(c, -1);
    if (!peers_by_id.count(c->id)) {
      m.peer_height.remove({c->id.hex()});
      sync.remove_peer(c->id, steady_now());
    }
    if (peers_by_id.empty()) had_peers = false;
  }

  // ------------------------------------------------------------ connected

  asio::awaitable<void> run_connected(const ConnectionPtr& c) {
    auto self = shared_from_this();
    c->wire.on_message = [this](p2p::MessageType type, std::size_t bytes, bool received) {
      std::string_view dir = received ? metrics::kReceived : metrics::kSent;
      m.messages.with({std::string(p2p::to_string(type)), std::string(dir)}).inc();
      m.bytes.with({std::string(dir)}).inc(bytes);
    };
    asio::co_spawn(io, writer(c), asio::detached);
    asio::co_spawn(io, keepalive(c), asio::detached);
    if (c->outbound) send(c, p2p::GetPeers{});
    co_await reader(c);

    // The reader ended: the socket is done.
    c->wire.close();
    c->wake.cancel();
    c->keepalive.cancel();
    c->linger.cancel();
    if (c->close_reason.empty()) c->close_reason = "reset";
    const bool was_registered = c->registered;
    unregister(c);
    m.disconnects.with({c->close_reason}).inc();
    if (was_registered || c->close_reason != "duplicate")
      spdlog::info("p2p: closed {} {}: {}{}", c->direction(), c->id.short_hex(), c->close_reason,
                   c->close_detail.empty() ? "" : " (" + c->close_detail + ")");
    if (c->outbound)
      if (auto* e = entry(c->dial_key)) e->last_error = "closed: " + c->close_reason;
    forget(c);
    poke_dialler();
  }

  asio::awaitable<void> reader(const ConnectionPtr& c) {
    for (;;) {
      auto message = co_await c->wire.read_message();
      if (!message) {
        const auto& f = message.error();
        if (c->state != Connection::State::Closing) {
          if (f.kind == FailureKind::protocol_error) {
            // A frame or payload fault: tell the peer, then drain until EOF.
            penalise(c, p2p::ScoreEvent::ProtocolViolation);
            close(c, p2p::parse_reject_code(f.code).value_or(RejectCode::protocol_error), f.detail);
            const auto deadline = steady_now() + kLingerTimeout;
            co_await c->wire.drain_until(deadline);
          } else {
            c->close_reason = f.reason();
            c->close_detail = f.detail;
          }
        }
        co_return;
      }
      c->last_received = steady_now();
      if (c->state == Connection::State::Closing) continue;  // draining
      handle(c, std::move(*message));
    }
  }

  // Costs the peer's address its score for `event`; at ban_threshold the
  // node id is banned (DESIGN.md 6).
  void penalise(const ConnectionPtr& c, p2p::ScoreEvent event) {
    const auto now = steady_now();
    const std::string k = c->outbound ? c->dial_key : c->listen_address;
    auto* e = entry(k);
    if (!e) return;
    e->score.apply(event, now);
    if (e->score.should_ban(now, s.quality.ban_threshold) && !is_banned(c->id) && c->id != own_id())
      ban_peer(c->id, s.quality.ban_duration,
               "score " + std::to_string(static_cast<int>(e->score.value(now))) + " reached ban_threshold " +
                   std::to_string(s.quality.ban_threshold) + " (last: " + p2p::to_string(event) + ")");
  }

  void handle(const ConnectionPtr& c, p2p::Message message) {
    std::visit(
        [&](auto& msg) {
          using T = std::decay_t<decltype(msg)>;
          if constexpr (std::is_same_v<T, p2p::Ping>) {
            send(c, p2p::Pong{msg.nonce});
          } else if constexpr (std::is_same_v<T, p2p::Pong>) {
            on_pong(c, msg.nonce);
          } else if constexpr (std::is_same_v<T, p2p::Reject>) {
            // The peer is closing and told us why; it shuts down its side
            // next. We close without a reason of our own.
            close(c, RejectCode::protocol_error, "", false);
            c->close_reason = std::string(msg.code_name());
            c->close_detail = "by peer: " + msg.detail;
          } else if constexpr (std::is_same_v<T, p2p::Hello> || std::is_same_v<T, p2p::HelloAck>) {
            penalise(c, p2p::ScoreEvent::ProtocolViolation);
            close(c, RejectCode::handshake_order, "handshake message after the handshake");
          } else if constexpr (std::is_same_v<T, p2p::GetPeers>) {
            send(c, peers_reply(c));
          } else if constexpr (std::is_same_v<T, p2p::Peers>) {
            on_peers(msg);
          } else if constexpr (std::is_same_v<T, p2p::GetGenesis>) {
            send(c, p2p::Genesis{genesis});
          } else if constexpr (std::is_same_v<T, p2p::GetHeaders>) {
            sync.note_headers_request(c->id, msg);
            send(c, sync.headers_for(msg));
          } else if constexpr (std::is_same_v<T, p2p::Headers>) {
            sync.on_headers(c->id, msg, steady_now());
          } else if constexpr (std::is_same_v<T, p2p::GetBlocks>) {
            auto reply = sync.blocks_for(msg);
            sync.note_blocks_served(c->id, reply);
            send(c, reply);
          } else if constexpr (std::is_same_v<T, p2p::Blocks>) {
            sync.on_blocks(c->id, msg, steady_now());
          } else if constexpr (std::is_same_v<T, p2p::NewBlock>) {
            sync.on_new_block(c->id, msg.header, steady_now());
          } else {
            // Genesis outside a genesis request: nothing asked for it.
          }
        },
        message);
  }

  void on_pong(const ConnectionPtr& c, std::uint64_t nonce) {
    if (nonce != 0 && nonce == c->ping_nonce) {
      c->rtt_ms = std::chrono::duration<double, std::milli>(steady_now() - c->last_ping_sent).count();
      c->ping_nonce = 0;
    }
    if (auto it = c->probes.find(nonce); it != c->probes.end()) {
      if (auto waiting = it->second.lock()) {
        waiting->probe_answered = true;
        waiting->probe_timer.cancel();
      }
      c->probes.erase(it);
    }
  }

  p2p::Peers peers_reply(const ConnectionPtr& asker) {
    p2p::Peers reply;
    const auto now_ms = util::now_ms();
    for (const auto& [id, p] : peers_by_id) {
      if (p == asker || p->listen_address.empty() || reply.peers.size() >= kPeersPerReply) continue;
      reply.peers.push_back({id, p->listen_address, p->theirs.role, now_ms});
    }
    return reply;
  }

  void on_peers(const p2p::Peers& msg) {
    const auto now = steady_now();
    for (const auto& p : msg.peers) {
      if (p.node_id == own_id()) continue;
      auto a = util::parse_host_port(p.address);
      if (!a) continue;
      const bool known = book.count(a->to_string()) > 0;
      auto* e = add_address(*a, is_masternode(p.node_id) ? PeerClass::Masternode : PeerClass::Discovered, "gossip",
                            std::nullopt);
      if (!e) continue;
      if (!e->node_id) e->node_id = p.node_id;
      // A peer saw it alive after our last attempt: fresh evidence.
      if (known && e->last_attempt_ms && p.last_seen_ms > *e->last_attempt_ms && !e->state.dialing())
        e->state.record_fresh_evidence(now);
    }
    poke_dialler();
  }

  asio::awaitable<void> writer(ConnectionPtr c) {
    for (;;) {
      if (c->queue.empty()) {
        if (c->state == Connection::State::Closing) break;
        c->wake.expires_at(Clock::time_point::max());
        co_await c->wake.async_wait(kTuple);
        if (!c->wire.socket().is_open()) co_return;
        continue;
      }
      auto frame = std::move(c->queue.front());
      c->queue.pop_front();
      c->queued_bytes -= std::min(c->queued_bytes, frame->size());
      auto w = co_await c->wire.write_frame(frame);
      if (!w) {
        if (c->close_reason.empty()) {
          c->close_reason = w.error().reason();
          c->close_detail = w.error().detail;
        }
        c->wire.close();
        co_return;
      }
    }
    // Closing and everything (the reason last) is sent: half-close, and let
    // the reader drain until the peer's EOF (linger bounds it).
    boost::system::error_code ec;
    if (c->wire.socket().is_open()) c->wire.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> keepalive(ConnectionPtr c) {
    while (c->state == Connection::State::Connected) {
      const auto idle_at = c->last_received + s.idle_timeout;
      const auto ping_at = c->last_ping_sent + s.ping_interval;
      c->keepalive.expires_at(std::min(idle_at, ping_at));
      auto [ec] = co_await c->keepalive.async_wait(kTuple);
      if (ec || c->state != Connection::State::Connected) co_return;
      const auto now = steady_now();
      if (now >= c->last_received + s.idle_timeout) {
        close(c, RejectCode::timeout, "no traffic for " + util::format_duration(s.idle_timeout));
        co_return;
      }
      if (now >= c->last_ping_sent + s.ping_interval) {
        std::uint64_t nonce = 0;
        while (nonce == 0) nonce = rng();
        c->ping_nonce = nonce;
        c->last_ping_sent = now;
        send(c, p2p::Ping{nonce});
        // Time connected is a step up in the peer's score, once per ping.
        const std::string k = c->outbound ? c->dial_key : c->listen_address;
        if (auto* e = entry(k))
          e->score.add(p2p::kUptimeMinuteStep * std::chrono::duration<double>(s.ping_interval).count() / 60.0, now);
      }
    }
  }

  // ------------------------------------------------------------ chain

  SyncHooks sync_hooks() {
    SyncHooks h;
    h.send = [this](const NodeId& id, const p2p::Message& message) {
      if (auto it = peers_by_id.find(id); it != peers_by_id.end()) send(it->second, message);
    };
    h.penalise = [this](const NodeId& id, p2p::ScoreEvent event, const std::string& detail) {
      auto it = peers_by_id.find(id);
      if (it == peers_by_id.end()) return;
      spdlog::debug("p2p: {} costs {} ({}): {}", it->second->describe(), p2p::score_step(event), p2p::to_string(event),
                    detail);
      penalise(it->second, event);
    };
    h.invalid_block = [this](const NodeId& id, const chain::BlockError& e) { on_invalid_block(id, e); };
    return h;
  }

  // An invalid header or block from a peer: counted, never stored, and the
  // peer is banned (DESIGN.md 6) -- except for a block from the future,
  // which may be our own clock's fault: that only costs a small step.
  void on_invalid_block(const NodeId& id, const chain::BlockError& e) {
    m.invalid_blocks.with({chain::to_string(e.fault)}).inc();
    auto it = peers_by_id.find(id);
    const std::string who = it != peers_by_id.end() ? it->second->describe() : id.short_hex();
    if (e.fault == chain::BlockFault::FromTheFuture) {
      spdlog::warn("chain: {} sent a block from the future ({}); is one of our clocks wrong?", who, e.detail);
      if (it != peers_by_id.end()) penalise(it->second, p2p::ScoreEvent::Timeout);
      return;
    }
    spdlog::warn("chain: {} sent an invalid block: {}", who, e.message());
    const auto c = it != peers_by_id.end() ? it->second : nullptr;
    ban_peer(id, s.quality.ban_duration, "invalid block: " + e.message());
    if (c) penalise(c, p2p::ScoreEvent::InvalidBlock);
  }

  asio::awaitable<void> sync_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      sync.tick(steady_now());
      check_partition(steady_now());
      sync_timer.expires_after(kSyncTick);
      co_await sync_timer.async_wait(kTuple);
    }
  }

  // Wakes at every slot start; produces when the slot is ours (DESIGN.md 3).
  asio::awaitable<void> production_loop() {
    auto self = shared_from_this();
    const auto& schedule = store.schedule();
    while (!stopping) {
      const auto now = util::now_ms();
      const auto slot = schedule.slot_at(now);
      if (slot && schedule.producer(*slot) == own_id()) produce(*slot, now);
      const util::UnixMillis next = slot ? schedule.slot_start(*slot + 1) : schedule.slot_start(0);
      production_timer.expires_after(Millis(std::max<std::int64_t>(1, next - util::now_ms())));
      co_await production_timer.async_wait(kTuple);
    }
  }

  // Right after start, a masternode that has other masternodes to meet
  // waits for its first peer (whose Hello shows whether our tip is stale),
  // or at most kAloneGrace block times, before producing alone: a block on
  // a stale tip would only be reorganised away.
  bool ready_to_produce() {
    if (production_ready) return true;
    const bool others =
        std::any_of(masternode_ids.begin(), masternode_ids.end(), [this](const NodeId& id) { return id != own_id(); });
    const auto waited = steady_now() - started_at;
    if (!others || !peers_by_id.empty() || waited >= Millis(kAloneGrace * store.schedule().block_time_ms())) {
      production_ready = true;
      if (others && peers_by_id.empty())
        spdlog::info("chain: no peer after {}; producing alone",
                     util::format_duration(std::chrono::duration_cast<Millis>(waited)));
    }
    return production_ready;
  }

  void produce(std::uint64_t slot, util::UnixMillis now) {
    const auto& schedule = store.schedule();
    const auto tip = store.tip();
    const auto parent = store.header(tip.hash);
    if (!parent || parent->slot >= slot) return;  // this slot's block exists already
    if (!ready_to_produce()) return;
    if (sync.syncing()) {
      if (!skipping_slots)
        spdlog::info("chain: not producing in slot {}: downloading a better chain than height {}", slot, tip.height);
      skipping_slots = true;
      return;
    }
    skipping_slots = false;
    const auto timestamp = std::max(now, schedule.slot_start(slot));
    if (timestamp >= schedule.slot_end(slot)) return;
    const auto block = chain::make_block(*parent, slot, timestamp, key);
    auto r = sync.add_own_block(block, steady_now());
    if (!r) {
      spdlog::error("chain: own block for slot {} refused: {}", slot, r.error().message());
      return;
    }
    spdlog::info("chain: produced block {} at height {} in slot {}", block.hash().short_hex(), block.header.height,
                 slot);
  }

  // A pre-handshake genesis request (wire.hpp, fetch_genesis): answered
  // with our genesis in the request's framing, then closed.
  asio::awaitable<void> serve_genesis(const ConnectionPtr& c, SteadyTime deadline) {
    c->wire.use_magic(kGenesisRequestMagic);
    c->wire.expires_at(deadline);
    auto request = co_await c->wire.read_message();
    std::optional<p2p::Reject> reject;
    if (request && std::holds_alternative<p2p::GetGenesis>(*request)) {
      const p2p::Message reply = p2p::Genesis{genesis};
      (void)co_await c->wire.write_message(reply);
      spdlog::info("p2p: served genesis to {}", c->describe());
    } else {
      reject = p2p::make_reject(RejectCode::handshake_order, "only get_genesis may use the genesis request magic");
    }
    c->state = Connection::State::Closing;
    co_await c->wire.close_gracefully(reject);
    forget(c);
  }

  // ------------------------------------------------------------ shutdown

  void shutdown(std::function<void()> done) {
    if (stopping) return;
    stopping = true;
    on_stopped = std::move(done);
    boost::system::error_code ec;
    acceptor.close(ec);
    dial_timer.cancel();
    sync_timer.cancel();
    production_timer.cancel();
    persist_timer.cancel();
    for (const auto& c : std::vector<ConnectionPtr>(connections.begin(), connections.end())) {
      if (c->state == Connection::State::Connected) {
        close(c, RejectCode::shutdown, "node is shutting down");
      } else if (c->state == Connection::State::Resolving) {
        c->probe_timer.cancel();
      } else if (c->state == Connection::State::Handshaking) {
        // The handshake's own deadline would end it; do not wait for it.
        c->wire.close();
      }
    }
    maybe_finish_shutdown();
  }

  void ban_peer(const NodeId& id, Millis duration, const std::string& reason) {
    const auto now_ms = util::now_ms();
    bans[id] = Ban{now_ms + duration.count(), reason, now_ms};
    m.bans_active.set(static_cast<double>(bans.size()));
    p2p::BanRecord record{id, now_ms, now_ms + duration.count(), reason};
    const auto bytes = p2p::encode(record);
    store.write_records(store::Column::Bans, {{key_of(id), std::string(bytes.begin(), bytes.end())}}, {});
    spdlog::warn("p2p: banned {} for {}: {}", id.hex(), util::format_duration(duration), reason);
    for (const auto& c : std::vector<ConnectionPtr>(connections.begin(), connections.end()))
      if (c->state == Connection::State::Connected && c->id == id) close(c, RejectCode::banned, "banned: " + reason);
  }

  static std::string key_of(const NodeId& id) { return std::string(reinterpret_cast<const char*>(id.data()), 32); }

  bool unban_peer(const NodeId& id) {
    const bool had = bans.erase(id) > 0;
    m.bans_active.set(static_cast<double>(bans.size()));
    erase_ban_record(id);
    if (had) {
      spdlog::warn("p2p: unbanned {}", id.hex());
      // Its addresses get a fresh start: the ban, not the peer, kept them away.
      const auto now = steady_now();
      for (auto& [k, e] : book)
        if (e.node_id == id) {
          e.state.record_fresh_evidence(now);
          if (e.score.value(now) <= s.quality.ban_threshold) e.score = p2p::PeerScore(s.quality.score_half_life);
        }
      poke_dialler();
    }
    return had;
  }

  void erase_ban_record(const NodeId& id) { store.write_records(store::Column::Bans, {}, {key_of(id)}); }

  // ------------------------------------------------------------ persistence

  // The address book and ban list from the store (DESIGN.md 4, 6): what the
  // node learnt before a restart or a kill -9, with scores decayed and
  // breaker cool-downs counted across the downtime. Undecodable records
  // (damaged, or from a newer version) are skipped and reported, and left
  // in the store untouched: never fatal, never deleted.
  void load_records() {
    const auto now = steady_now();
    const auto now_ms = util::now_ms();
    std::size_t bad = 0, expired = 0;
    store.for_each_raw(store::Column::Peers, [&](std::string_view k, std::string_view v) {
      auto r = p2p::decode_address_record(std::span(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
      auto a = r ? util::parse_host_port(r->address) : util::Result<util::HostPort>(util::fail("undecodable"));
      if (!r || !a || r->address != k) {
        ++bad;
        return true;
      }
      if (book.size() >= kMaxAddressBook) return false;
      AddressEntry e(*a, r->dial.peer_class, r->source, s);
      e.state = p2p::AddressState::restore(r->dial, s.reconnect, now, now_ms);
      e.score = p2p::PeerScore(s.quality.score_half_life, r->score, now - Millis(now_ms - r->score_as_of_ms));
      e.node_id = r->node_id;
      e.self = r->self;
      e.wrong_network = r->wrong_network;
      e.total_attempts = r->total_attempts;
      e.total_failures = r->total_failures;
      e.last_attempt_ms = r->last_attempt_ms;
      e.last_success_ms = r->last_success_ms;
      e.last_error = r->last_error;
      e.recent_attempts_ms.assign(r->recent_attempts_ms.begin(), r->recent_attempts_ms.end());
      e.persisted = std::string(v);
      book.emplace(std::string(k), std::move(e));
      return true;
    });
    std::vector<std::string> lapsed;
    store.for_each_raw(store::Column::Bans, [&](std::string_view k, std::string_view v) {
      auto b = p2p::decode_ban_record(std::span(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
      if (!b || key_of(b->node_id) != k) {
        ++bad;
      } else if (b->until_ms <= now_ms) {
        ++expired;
        lapsed.emplace_back(k);
      } else {
        bans[b->node_id] = Ban{b->until_ms, b->reason, b->since_ms};
      }
      return true;
    });
    if (!lapsed.empty()) store.write_records(store::Column::Bans, {}, lapsed);
    m.bans_active.set(static_cast<double>(bans.size()));
    if (!book.empty() || !bans.empty() || bad > 0)
      spdlog::info("p2p: restored {} addresses and {} bans from the store ({} expired bans dropped{})", book.size(),
                   bans.size(), expired,
                   bad ? ", " + std::to_string(bad) + " unreadable records skipped and kept" : "");
  }

  p2p::AddressRecord record_of(const std::string& k, const AddressEntry& e, Clock::time_point now,
                               std::int64_t now_ms) const {
    p2p::AddressRecord r;
    r.address = k;
    r.node_id = e.node_id;
    r.source = e.source;
    r.self = e.self;
    r.wrong_network = e.wrong_network;
    r.total_attempts = e.total_attempts;
    r.total_failures = e.total_failures;
    r.last_attempt_ms = e.last_attempt_ms;
    r.last_success_ms = e.last_success_ms;
    r.last_error = e.last_error;
    r.score = e.score.stored_value();
    r.score_as_of_ms = now_ms - std::chrono::duration_cast<Millis>(now - e.score.as_of()).count();
    r.dial = e.state.save(now, now_ms);
    r.recent_attempts_ms.assign(e.recent_attempts_ms.begin(), e.recent_attempts_ms.end());
    return r;
  }

  // Writes every address whose record changed since it was last written,
  // in one batch. Returns how many.
  std::size_t persist_book() {
    const auto now = steady_now();
    const auto now_ms = util::now_ms();
    std::vector<std::pair<std::string, std::string>> puts;
    for (auto& [k, e] : book) {
      const auto bytes = p2p::encode(record_of(k, e, now, now_ms));
      std::string value(bytes.begin(), bytes.end());
      if (value == e.persisted) continue;
      e.persisted = value;
      puts.emplace_back(k, std::move(value));
    }
    if (!puts.empty()) store.write_records(store::Column::Peers, puts, {});
    return puts.size();
  }

  asio::awaitable<void> persist_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      persist_timer.expires_after(kPersistInterval);
      co_await persist_timer.async_wait(kTuple);
      persist_book();
    }
  }

  // ------------------------------------------------------------ partition

  // Checked every kSyncTick. Being partitioned counts once it has held for
  // kPartitionSettle, so a connection being replaced (a duplicate, a
  // restarted peer) is not a partition; its end counts at once.
  void check_partition(Clock::time_point now) {
    const auto n = counts_now();
    const bool own_mn = is_masternode(own_id());
    const std::size_t seen = n.masternodes + (own_mn ? 1 : 0), total = n.masternodes_total + (own_mn ? 1 : 0);
    const std::size_t peers = n.inbound + n.outbound;
    const bool now_partitioned = (n.peers_expected && peers == 0) || (total > 1 && seen * 2 < total);
    if (now_partitioned == partitioned) {
      partition_change_since.reset();
      return;
    }
    // Leaving the partitioned state counts at once; entering it only once
    // it has held for kPartitionSettle.
    if (now_partitioned) {
      if (!partition_change_since) partition_change_since = now;
      if (now - *partition_change_since < kPartitionSettle) return;
    }
    partition_change_since.reset();
    partitioned = now_partitioned;
    if (!partitioned) {
      if (ever_connected) spdlog::info("p2p: partition over: {} peers, {} of {} masternodes", peers, seen, total);
      ever_connected = true;
      return;
    }
    if (!ever_connected) return;
    m.partition_events.inc();
    spdlog::warn("p2p: partitioned: {} peers, sees {} of {} masternodes", peers, seen, total);
  }

  NetworkCounts counts_now() const {
    NetworkCounts n;
    for (const auto& [id, c] : peers_by_id) {
      (c->outbound ? n.outbound : n.inbound)++;
      if (is_masternode(id)) ++n.masternodes;
    }
    n.masternodes_total = masternode_ids.size() - (is_masternode(own_id()) ? 1 : 0);
    n.handshaking = handshaking();
    n.peers_expected = n.masternodes_total > 0 || !s.static_peers.empty();
    return n;
  }

  // ------------------------------------------------------------ eviction

  // Inbound slots are over max_inbound because a masternode came in (they
  // are never refused for capacity): the lowest-scored regular inbound peer
  // makes room. Masternodes are never evicted.
  void evict_for(const ConnectionPtr& newcomer) {
    std::size_t inbound = 0;
    ConnectionPtr victim;
    double worst = 0;
    const auto now = steady_now();
    for (const auto& [id, c] : peers_by_id) {
      if (c->outbound) continue;
      ++inbound;
      if (is_masternode(id) || c == newcomer) continue;
      const auto* e = c->listen_address.empty() ? nullptr : entry_const(c->listen_address);
      const double score = e ? e->score.value(now) : 0;
      if (!victim || score < worst) {
        victim = c;
        worst = score;
      }
    }
    if (inbound <= s.max_inbound || !victim) return;
    spdlog::info("p2p: inbound slots full: evicting {} (score {:.1f}) for masternode {}", victim->describe(), worst,
                 newcomer->id.short_hex());
    close(victim, RejectCode::evicted, "inbound slots full: making room for a masternode");
  }

  const AddressEntry* entry_const(const std::string& k) const {
    auto it = book.find(k);
    return it == book.end() ? nullptr : &it->second;
  }

  void maybe_finish_shutdown() {
    if (!stopping || !connections.empty() || !on_stopped) return;
    persist_book();  // after the goodbyes, so their outcome is kept too
    auto done = std::move(on_stopped);
    on_stopped = nullptr;
    asio::post(io, std::move(done));
  }
};

// ------------------------------------------------------------------ network

Network::Network(asio::io_context& io, NetworkSettings settings, const crypto::KeyPair& key,
                 const chain::GenesisSpec& genesis, store::ChainStore& store, metrics::NodeMetrics& metrics)
    : impl_(std::make_shared<Impl>(io, std::move(settings), key, genesis, store, metrics)) {}

Network::~Network() = default;

util::Result<std::uint16_t> Network::start() { return impl_->start(); }

void Network::shutdown(std::function<void()> done) { impl_->shutdown(std::move(done)); }

std::vector<PeerView> Network::peers() const {
  std::vector<PeerView> out;
  for (const auto& [id, c] : impl_->peers_by_id) {
    PeerView v;
    v.node_id = id.hex();
    v.address = join_host_port(c->remote_ip, c->remote_port);
    v.listen_address = c->listen_address;
    v.direction = c->direction();
    v.peer_class = p2p::to_string(c->peer_class);
    v.role = std::string(p2p::to_string(c->theirs.role));
    v.we_initiated = c->outbound;
    v.height = c->theirs.best_height;
    v.best_hash = c->theirs.best_hash.hex();
    if (auto sv = impl_->sync.peer_view(id)) {
      v.height = sv->tip.height;
      v.best_hash = sv->tip.hash.hex();
      v.blocks_received = sv->blocks_received;
      v.stall_timeout_ms = sv->stall_timeout.count();
    }
    const std::string k = c->outbound ? c->dial_key : c->listen_address;
    if (auto it = impl_->book.find(k); it != impl_->book.end()) v.score = it->second.score.value(steady_now());
    v.rtt_ms = c->rtt_ms;
    v.connected_since_ms = c->connected_since_ms;
    v.bytes_in = c->wire.bytes_in();
    v.bytes_out = c->wire.bytes_out();
    v.session = c->theirs.session_nonce.hex();
    v.user_agent = c->theirs.user_agent;
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<AddressView> Network::addresses() const {
  std::vector<AddressView> out;
  const auto now = steady_now();
  for (const auto& [k, e] : impl_->book) {
    AddressView v;
    v.address = k;
    if (e.node_id) v.node_id = e.node_id->hex();
    v.peer_class = p2p::to_string(e.state.peer_class());
    v.source = e.source;
    v.connected = e.node_id && impl_->peers_by_id.count(*e.node_id) > 0;
    v.self = e.self;
    v.wrong_network = e.wrong_network;
    if (e.node_id)
      if (auto b = impl_->bans.find(*e.node_id); b != impl_->bans.end()) v.banned = b->second.until_ms > util::now_ms();
    v.state = e.state.snapshot(now);
    if (v.state.next_dial_at && !e.self && !e.wrong_network)
      v.next_dial_in_ms = std::chrono::duration_cast<Millis>(*v.state.next_dial_at - now).count();
    v.score = e.score.value(now);
    v.total_attempts = e.total_attempts;
    v.total_failures = e.total_failures;
    v.last_attempt_ms = e.last_attempt_ms;
    v.last_success_ms = e.last_success_ms;
    v.last_error = e.last_error;
    v.recent_attempts_ms.assign(e.recent_attempts_ms.begin(), e.recent_attempts_ms.end());
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<BanView> Network::bans() const {
  std::vector<BanView> out;
  const auto now_ms = util::now_ms();
  for (const auto& [id, b] : impl_->bans)
    if (b.until_ms > now_ms) out.push_back({id.hex(), b.until_ms, b.reason, b.since_ms});
  return out;
}

NetworkCounts Network::counts() const { return impl_->counts_now(); }

void Network::update_gauges() {
  const auto now = steady_now();
  std::size_t open = 0;
  for (const auto& [k, e] : impl_->book)
    if (e.state.breaker(now) == p2p::BreakerState::Open) ++open;
  impl_->m.breakers_open.set(static_cast<double>(open));
  for (const auto& [id, c] : impl_->peers_by_id)
    if (auto tip = impl_->sync.peer_tip(id))
      impl_->m.peer_height.with({id.hex()}).set(static_cast<double>(tip->height));
}

SyncStatus Network::sync_status() const { return impl_->sync.status(); }

util::Result<void> Network::connect(const util::HostPort& address) {
  auto* e = impl_->add_address(address, PeerClass::Static, "admin");
  if (!e) return util::fail("address book full");
  if (e->self) return util::fail(address.to_string() + " is this node");
  e->wrong_network = false;
  e->state.record_fresh_evidence(steady_now());
  e->state.reset_backoff(steady_now());
  if (!e->state.dialing()) impl_->start_dial(address.to_string(), steady_now());
  return {};
}

std::size_t Network::disconnect(const std::string& who) {
  std::size_t n = 0;
  for (const auto& c : std::vector<ConnectionPtr>(impl_->connections.begin(), impl_->connections.end())) {
    if (c->state != Connection::State::Connected) continue;
    if (c->id.hex() == who || join_host_port(c->remote_ip, c->remote_port) == who || c->listen_address == who ||
        c->dial_key == who) {
      impl_->close(c, RejectCode::admin, "disconnected by the operator");
      ++n;
    }
  }
  return n;
}

void Network::ban(const NodeId& id, Millis duration, const std::string& reason) {
  impl_->ban_peer(id, duration, reason);
}

bool Network::unban(const NodeId& id) { return impl_->unban_peer(id); }

}  // namespace core::node
