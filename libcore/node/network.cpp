#include "libcore/node/network.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>

#include "libcore/metrics/node_metrics.hpp"
#include "libcore/node/address_book.hpp"
#include "libcore/node/ban_list.hpp"
#include "libcore/node/connection_manager.hpp"
#include "libcore/node/dialler.hpp"
#include "libcore/node/listener.hpp"
#include "libcore/node/peer_store.hpp"
#include "libcore/node/periodic.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/log_event.hpp"
#include "libcore/util/time.hpp"

namespace core::node {

namespace {

using Clock = std::chrono::steady_clock;

LocalPeer local_peer(const NetworkSettings& s, const crypto::KeyPair& key, const chain::GenesisSpec& genesis) {
  LocalPeer l;
  l.key = key;
  l.identity = p2p::make_local_identity(genesis, key.public_key());
  l.session = p2p::new_session_nonce();
  l.role = s.role;
  l.user_agent = s.user_agent;
  l.network = genesis.network;
  l.magic = chain::network_magic(genesis.network);
  for (const auto& mn : genesis.masternodes) l.masternodes.insert(mn.pubkey);
  l.static_peers = !s.static_peers.empty();
  return l;
}

ConnectionManagerSettings manager_settings(const NetworkSettings& s) {
  ConnectionManagerSettings m;
  m.max_inbound = s.max_inbound;
  m.max_per_ip = s.max_per_ip;
  m.max_message_size = s.max_message_size;
  m.connection.ping_interval = s.ping_interval;
  m.connection.ping_timeout = s.ping_timeout;
  m.connection.idle_timeout = s.idle_timeout;
  m.connection.first_ping_delay = kFirstPingDelay;
  m.connection.send_queue_limit = s.send_queue_limit;
  m.connection.max_pings_per_second = s.max_pings_per_second;
  m.quality = s.quality;
  return m;
}

}  // namespace

struct Network::Parts {
  Parts(asio::io_context& io, NetworkSettings settings, const crypto::KeyPair& key,
        const chain::GenesisSpec& genesis_spec, store::ChainStore& chain_store, metrics::NodeMetrics& metrics)
      : s(std::move(settings)),
        genesis(genesis_spec),
        m(metrics),
        peer_store(chain_store),
        book(AddressBookSettings{s.reconnect, s.quality, s.max_address_book, s.max_addresses_per_source},
             key.public_key()),
        manager(io, manager_settings(s), local_peer(s, key, genesis_spec), chain_store, book, bans, peer_store,
                metrics),
        listener(io,
                 ListenerSettings{s.listen, s.handshake_timeout, s.max_handshakes, s.max_per_ip,
                                  s.max_genesis_requests_per_minute},
                 manager, book, genesis),
        dialler(io,
                DiallerSettings{s.check_interval, s.handshake_timeout, s.max_outbound, s.reconnect.parked_retry,
                                s.max_dials_per_second,
                                static_cast<std::uint32_t>(s.max_outbound + genesis_spec.masternodes.size())},
                manager, book, metrics),
        partition(kPartitionSettle),
        persist_job(
            io, kPersistInterval, [this] { on_persist_beat(); }, "address book writer"),
        partition_job(
            io, kPartitionCheck, [this] { check_partition(Clock::now()); }, "partition check") {
    manager.set_wake_dialler([this] { dialler.poke(); });
  }

  NetworkSettings s;
  chain::GenesisSpec genesis;
  metrics::NodeMetrics& m;
  PeerStore peer_store;
  AddressBook book;
  BanList bans;
  ConnectionManager manager;
  Listener listener;
  Dialler dialler;
  PartitionTracker partition;
  Periodic persist_job;
  Periodic partition_job;
  bool stopping = false;

  void load_records();
  void seed_address_book(const std::string& announced);
  std::size_t persist_book();
  void on_persist_beat();
  void check_partition(Clock::time_point now);
};

// The address book and ban list from the store (DESIGN.md 4, 6): what the
// node learnt before a restart or a kill -9, with scores decayed and
// breaker cool-downs counted across the downtime. Unreadable records
// (damaged, or from a newer version) are skipped and reported, and left
// in the store untouched: never fatal, never deleted.
void Network::Parts::load_records() {
  const auto now = Clock::now();
  const auto now_ms = util::now_ms();
  std::vector<UnreadableRecord> unreadable;
  std::size_t bad = 0, expired = 0;
  for (auto& a : peer_store.addresses(unreadable)) {
    const auto r = book.restore(a.key, a.record, std::move(a.raw), now, now_ms);
    if (r == AddressBook::Restored::Full) break;
    if (r == AddressBook::Restored::Invalid) ++bad;
  }
  std::vector<NodeId> lapsed;
  for (const auto& b : peer_store.bans(unreadable)) {
    if (b.record.until_ms <= now_ms) {
      ++expired;
      lapsed.push_back(b.record.node_id);
    } else {
      bans.add(b.record.node_id, Ban{b.record.until_ms, b.record.reason, b.record.since_ms});
    }
  }
  peer_store.erase_bans(lapsed);
  bad += unreadable.size();
  m.bans_active.set(static_cast<double>(bans.active_count(now_ms)));
  if (book.size() > 0 || bans.size() > 0 || bad > 0)
    spdlog::info("p2p: restored {} addresses and {} bans from the store ({} expired bans dropped{})", book.size(),
                 bans.size(), expired, bad ? ", " + std::to_string(bad) + " unreadable records skipped and kept" : "");
}

void Network::Parts::seed_address_book(const std::string& announced) {
  std::vector<std::pair<util::HostPort, NodeId>> masternodes;
  for (const auto& mn : genesis.masternodes) {
    if (mn.address.empty()) continue;
    if (auto a = util::parse_host_port(mn.address))
      masternodes.emplace_back(*a, mn.pubkey);  // validated with the genesis
  }
  const auto removed = book.seed(masternodes, s.static_peers, {s.listen.to_string(), s.external_address, announced});
  if (!removed.empty()) {
    peer_store.write_addresses({}, removed);
    spdlog::info("p2p: forgot {} static peer(s) no longer in network.peers", removed.size());
  }
}

// Writes every address whose record changed since it was last written, in
// one batch. Returns how many.
std::size_t Network::Parts::persist_book() {
  auto puts = book.take_changed(Clock::now(), util::now_ms());
  peer_store.write_addresses(puts, {});
  return puts.size();
}

void Network::Parts::on_persist_beat() {
  persist_book();
  manager.expire_bans(util::now_ms());
}

// Counted transitions of the connectivity verdict (connectivity.hpp).
void Network::Parts::check_partition(Clock::time_point now) {
  const auto in = manager.connectivity_inputs();
  const auto verdict = node::connectivity(in);
  const auto [seen, total] = masternode_counts(in);
  switch (partition.update(verdict.partitioned, now)) {
    case PartitionTracker::Transition::Entered:
      m.partition_events.inc();
      util::log_event(spdlog::level::warn, "partitioned",
                      {{"peers", in.peers}, {"masternodes_seen", seen}, {"masternodes", total}},
                      "p2p: partitioned: {} peers, sees {} of {} masternodes", in.peers, seen, total);
      break;
    case PartitionTracker::Transition::Left:
      util::log_event(spdlog::level::info, "partition_over",
                      {{"peers", in.peers}, {"masternodes_seen", seen}, {"masternodes", total}},
                      "p2p: partition over: {} peers, {} of {} masternodes", in.peers, seen, total);
      break;
    case PartitionTracker::Transition::None:
      break;
  }
}

// ------------------------------------------------------------------ network

Network::Network(asio::io_context& io, NetworkSettings settings, const crypto::KeyPair& key,
                 const chain::GenesisSpec& genesis, store::ChainStore& store, metrics::NodeMetrics& metrics)
    : p_(std::make_unique<Parts>(io, std::move(settings), key, genesis, store, metrics)) {}

Network::~Network() = default;

void Network::set_handler(PeerHandler& handler) { p_->manager.set_handler(handler); }
PeerActions& Network::peer_actions() { return p_->manager; }
AddressBook& Network::address_book() { return p_->book; }

util::Result<std::uint16_t> Network::start() {
  auto port = p_->listener.bind();
  if (!port) return port;
  p_->manager.set_listen_port(*port);
  const auto bound = p_->listener.local_endpoint();
  const auto announced = announced_address(p_->s.external_address, bound);
  p_->manager.set_announced_address(announced);
  p_->dialler.set_source(dial_source(bound));
  if (!announced.empty())
    util::log_event(spdlog::level::info, "address_announced", {{"addr", announced}},
                    "p2p: announcing {} as this node's address", announced);
  p_->load_records();
  p_->seed_address_book(announced);
  p_->m.connections_max.set(
      static_cast<double>(p_->s.max_inbound + p_->s.max_outbound + p_->manager.local().masternodes.size()));
  p_->listener.start();
  p_->dialler.start();
  p_->persist_job.start();
  p_->partition_job.start();
  return port;
}

void Network::shutdown(std::function<void()> done) {
  if (p_->stopping) return;
  p_->stopping = true;
  p_->listener.stop();
  p_->dialler.stop();
  p_->persist_job.stop();
  p_->partition_job.stop();
  // The address book is written after the goodbyes, so their outcome is kept too.
  p_->manager.shutdown([parts = p_.get(), done = std::move(done)] {
    parts->persist_book();
    done();
  });
}

std::vector<PeerView> Network::peers() const {
  std::vector<PeerView> out;
  const auto now = Clock::now();
  for (const auto& [id, c] : p_->manager.peers()) {
    PeerView v;
    v.id = id;
    v.node_id = id.hex();
    v.address = c->remote_address();
    v.listen_address = c->listen_address();
    v.direction = c->direction();
    v.peer_class = p2p::to_string(c->peer_class);
    v.role = std::string(p2p::to_string(c->hello().role));
    v.we_initiated = c->outbound();
    v.height = c->hello().best_height;
    v.best_hash = c->hello().best_hash.hex();
    v.score = p_->manager.score_of(*c, now);
    v.rtt_ms = c->rtt_ms();
    v.connected_since_ms = c->connected_since_ms();
    v.bytes_in = c->wire().bytes_in();
    v.bytes_out = c->wire().bytes_out();
    v.session = c->hello().session_nonce.hex();
    v.user_agent = c->hello().user_agent;
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<AddressView> Network::addresses() const {
  std::vector<AddressView> out;
  const auto now = Clock::now();
  const auto now_ms = util::now_ms();
  for (const auto& [k, e] : p_->book.entries()) {
    AddressView v;
    v.address = k;
    if (e.node_id) v.node_id = e.node_id->hex();
    v.peer_class = p2p::to_string(e.state.peer_class());
    v.source = e.source;
    v.connected = e.node_id && p_->manager.is_connected(*e.node_id);
    v.self = e.self;
    v.wrong_network = e.wrong_network;
    v.banned = e.node_id && p_->bans.is_banned(*e.node_id, now_ms);
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
  for (const auto& [id, b] : p_->bans.all())
    if (b.until_ms > now_ms) out.push_back({id.hex(), b.until_ms, b.reason, b.since_ms});
  return out;
}

NetworkCounts Network::counts() const {
  NetworkCounts n;
  for (const auto& [id, c] : p_->manager.peers()) {
    (c->outbound() ? n.outbound : n.inbound)++;
    if (p_->manager.is_masternode(id)) ++n.masternodes;
  }
  n.handshaking = p_->manager.handshaking();
  return n;
}

std::size_t Network::peer_count() const { return p_->manager.peers().size(); }

ConnectivityVerdict Network::connectivity() const { return node::connectivity(p_->manager.connectivity_inputs()); }

void Network::update_gauges() {
  p_->m.breakers_open.set(static_cast<double>(p_->book.breakers_open(Clock::now())));
  const auto counts = masternode_counts(p_->manager.connectivity_inputs());
  p_->m.masternodes.set(static_cast<double>(counts.total));
  p_->m.masternodes_seen.set(static_cast<double>(counts.seen));
}

util::Result<void> Network::connect(const util::HostPort& address) { return p_->dialler.dial_now(address); }

std::size_t Network::disconnect(const std::string& who) { return p_->manager.disconnect(who); }

void Network::ban(const NodeId& id, Millis duration, const std::string& reason) {
  p_->manager.ban(id, duration, reason);
}

bool Network::unban(const NodeId& id) { return p_->manager.unban(id); }

}  // namespace core::node
