#include "libcore/node/node.hpp"

#include <set>
#include <system_error>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "libcore/chain/genesis.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/http/server.hpp"
#include "libcore/metrics/node_metrics.hpp"
#include "libcore/node/api.hpp"
#include "libcore/node/block_producer.hpp"
#include "libcore/node/logging.hpp"
#include "libcore/node/message_router.hpp"
#include "libcore/node/network.hpp"
#include "libcore/node/periodic.hpp"
#include "libcore/node/service.hpp"
#include "libcore/node/settings_from_config.hpp"
#include "libcore/node/spawn.hpp"
#include "libcore/node/sync.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/resources.hpp"
#include "libcore/util/worker_pool.hpp"

namespace core::node {

namespace {

namespace asio = boost::asio;

// Bootstrap genesis (DESIGN.md 3): a node holding only [genesis] hash asks
// its static peers (the bootstrap node among them) with a genesis request
// until one serves a genesis with that hash. A peer serving another genesis
// is reported and never asked again; unreachable peers are retried with
// backoff. SIGINT/SIGTERM end the wait.
util::Result<chain::GenesisSpec> fetch_genesis_from_peers(const config::NodeConfig& c, const crypto::Hash32& pinned) {
  std::vector<util::HostPort> peers;
  for (const auto& p : c.peers)
    if (auto a = util::parse_host_port(p)) peers.push_back(*a);
  if (peers.empty())
    return util::fail(
        "genesis.hash is set without genesis.file, and network.peers is empty: name the bootstrap "
        "node in network.peers so the genesis can be fetched from it");
  asio::io_context io(1);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::optional<util::Result<chain::GenesisSpec>> outcome;
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec && !outcome) outcome = util::fail("interrupted while fetching the genesis block");
    io.stop();
  });
  auto fetch = [&]() -> asio::awaitable<void> {
    std::set<std::string> wrong;
    std::chrono::milliseconds pause{500};
    for (std::uint64_t round = 1;; ++round) {
      for (const auto& peer : peers) {
        const std::string where = peer.to_string();
        if (wrong.count(where)) continue;
        const auto deadline = std::chrono::steady_clock::now() + c.handshake_timeout;
        auto spec = co_await fetch_genesis(peer, pinned, deadline);
        if (spec) {
          spdlog::info("genesis {} (network '{}') fetched from {} and verified", pinned.short_hex(), spec->network,
                       where);
          outcome = std::move(*spec);
          io.stop();
          co_return;
        }
        if (spec.error().code == "genesis_mismatch" && !spec.error().by_peer) {
          spdlog::error("genesis from {} refused: {}; this peer will not be asked again", where, spec.error().detail);
          wrong.insert(where);
        } else if (round == 1 || round % 10 == 0) {
          spdlog::info("cannot fetch genesis from {} yet: {} ({})", where, spec.error().label(), spec.error().detail);
        }
      }
      if (wrong.size() == peers.size()) {
        outcome = util::fail("every peer in network.peers serves a genesis other than genesis.hash " + pinned.hex() +
                             "; check the pinned hash or the peers");
        io.stop();
        co_return;
      }
      asio::steady_timer timer(io, pause);
      co_await timer.async_wait(asio::use_awaitable);
      pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(10));
    }
  };
  spdlog::info("fetching genesis {} from {} peer(s)", pinned.short_hex(), peers.size());
  asio::co_spawn(io, fetch(), [&](const std::exception_ptr& e) {
    if (!e || outcome) return;
    log_spawn_failure(e, "genesis fetch");
    outcome = util::fail("the genesis fetch failed unexpectedly (see the log)");
    io.stop();
  });
  io.run();
  if (!outcome) return util::fail("genesis fetch ended without a result");
  return std::move(*outcome);
}

// The genesis from genesis.file (checked against genesis.hash when both are
// set), else from an existing store, else fetched from peers by its hash.
util::Result<chain::GenesisSpec> load_genesis(const config::NodeConfig& c) {
  auto path = c.genesis_path();
  if (!path) {
    const auto& pinned = *c.genesis_hash;  // validate() requires one of the two
    store::OpenOptions existing;
    existing.path = c.chain_path();
    existing.create_if_missing = false;
    std::error_code ec;
    if (std::filesystem::exists(c.chain_path() / "CURRENT", ec)) {
      auto opened = store::ChainStore::open(existing);
      if (!opened) return tl::unexpected(opened.error());
      if ((*opened)->genesis_hash() != pinned)
        return util::fail("chain store " + c.chain_path().string() + " holds genesis " +
                          (*opened)->genesis_hash().hex() + ", but genesis.hash is " + pinned.hex());
      return (*opened)->genesis();
    }
    return fetch_genesis_from_peers(c, pinned);
  }
  auto spec = chain::load_genesis_file(*path);
  if (!spec) return tl::unexpected(spec.error());
  if (c.genesis_hash) {
    auto hash = chain::genesis_hash(*spec);
    if (hash != *c.genesis_hash)
      return util::fail("genesis.hash " + c.genesis_hash->hex() + " does not match " + path->string() +
                        " (its hash is " + hash.hex() + ")");
  }
  return spec;
}

// Loads the node key. A regular node generates its key on first start; a
// masternode never does: its key is the one the genesis lists, and a fresh
// key could never be in it (a mistyped key_file would otherwise leave a
// useless key behind before the start is refused).
util::Result<crypto::KeyPair> load_or_create_key(const config::NodeConfig& c, const chain::GenesisSpec& genesis) {
  const auto path = c.key_path();
  std::error_code ec;
  if (c.role == config::Role::Masternode && !std::filesystem::exists(path, ec)) {
    std::string listed;
    for (const auto& mn : genesis.masternodes)
      listed += (listed.empty() ? "" : ", ") + mn.name + " " + mn.pubkey.short_hex();
    return util::fail("node.key_file " + path.string() +
                      " does not exist, and a masternode never generates its key: copy there the key file of "
                      "this host's masternode in the genesis (" +
                      (listed.empty() ? std::string("it lists none") : listed) +
                      "), e.g. the node.key `tgenesis network` wrote for it; `tgenesis pubkey FILE` shows a key "
                      "file's node id");
  }
  bool created = false;
  auto key = crypto::load_or_create_key_file(path, &created);
  if (key && created)
    spdlog::info("generated a new node key in {} (node id {})", path.string(), key->public_key().hex());
  return key;
}

// What the node runs as: its genesis, its key, and the role it may take.
struct Identity {
  chain::GenesisSpec genesis;
  crypto::KeyPair key;
  p2p::Role role = p2p::Role::Regular;
};

util::Result<Identity> load_identity(const config::NodeConfig& c) {
  auto genesis = load_genesis(c);
  if (!genesis) return tl::unexpected(genesis.error());
  std::error_code ec;
  std::filesystem::create_directories(c.data_path(), ec);
  if (ec) return util::fail("node.data_dir " + c.data_path().string() + ": " + ec.message());
  auto key = load_or_create_key(c, *genesis);
  if (!key) return tl::unexpected(key.error());
  const bool genesis_masternode = std::any_of(genesis->masternodes.begin(), genesis->masternodes.end(),
                                              [&key](const auto& mn) { return mn.pubkey == key->public_key(); });
  if (c.role == config::Role::Masternode && !genesis_masternode)
    return util::fail("node.role is masternode, but this node's key (" + key->public_key().hex() + ", " +
                      c.key_path().string() +
                      ") is not a masternode in the genesis; run as role = \"regular\" or "
                      "use a masternode's key");
  return Identity{std::move(*genesis), *key,
                  c.role == config::Role::Masternode ? p2p::Role::Masternode : p2p::Role::Regular};
}

// Refuses to start when the open-file limit cannot hold every connection
// the configuration allows (DESIGN.md 6).
util::Result<void> check_open_files(const config::NodeConfig& c, const chain::GenesisSpec& genesis) {
  return util::ensure_fd_capacity(fd_budget(c, genesis.masternodes.size()));
}

// Counts the HTTP server's refusals and closes, and its open connections,
// in /metrics; every reason is exported from the start, at 0.
http::ServerObserver http_observer(metrics::NodeMetrics& m) {
  auto family = [&m](http::Drop d) -> metrics::Family<metrics::Counter>& {
    return http::is_refusal(d) ? m.http_refused : m.http_closed;
  };
  for (auto d : http::kAllDrops) family(d).with({http::to_string(d)});
  return {[family](http::Drop d) { family(d).with({http::to_string(d)}).inc(); },
          [&m](std::size_t open) { m.http_connections.set(static_cast<double>(open)); }};
}

// SIGHUP reopens the log; the first SIGINT/SIGTERM calls `stop` (a
// graceful shutdown), a second one stops the event loop at once.
class SignalHandler {
 public:
  SignalHandler(asio::io_context& io, const NodeOptions& options, std::function<void()> stop)
      : io_(io), options_(options), stop_(std::move(stop)), signals_(io, SIGINT, SIGTERM, SIGHUP) {
    arm();
  }
  void cancel() { signals_.cancel(); }

 private:
  void arm() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (!ec) on_signal(signo);
    });
  }
  void on_signal(int signo) {
    const auto& c = options_.config;
    if (signo == SIGHUP) {
      if (auto ok = configure_logging(c.log_level, c.log_format, options_.log_file); !ok)
        spdlog::error("SIGHUP: cannot reopen the log: {}", ok.error().message);
      else
        spdlog::info("SIGHUP: log reopened");
    } else if (stopping_) {
      spdlog::warn("second stop signal: exiting at once");
      io_.stop();
      return;
    } else {
      stopping_ = true;
      const char* signal_name = signo == SIGINT ? "SIGINT" : "SIGTERM";
      util::log_event(spdlog::level::info, "node_stopping", {{"signal", signal_name}},
                      "{}: shutting down (saying goodbye to peers)", signal_name);
      stop_();
    }
    arm();
  }

  asio::io_context& io_;
  const NodeOptions& options_;
  std::function<void()> stop_;
  asio::signal_set signals_;
  bool stopping_ = false;
};

// How often `systemctl status` gets a new STATUS line (height, peers).
constexpr std::chrono::seconds kServiceStatusPeriod{5};

// The composition root: metrics, network, sync, the message router between
// them, block production (for a masternode), then the HTTP API over all of
// them; runs until a stop signal has drained the network.
util::Result<void> serve(const NodeOptions& options, const Identity& id, store::ChainStore& store) {
  const auto& c = options.config;
  asio::io_context io(1);
  metrics::NodeMetrics metrics(options.version);
  metrics.chain_height.set(static_cast<double>(store.tip().height));
  metrics.block_time.set(static_cast<double>(id.genesis.block_time_ms) / 1000.0);
  Network network(io, network_settings_from(c, id.role, "tnode/" + options.version, id.genesis.masternodes.size()),
                  id.key, id.genesis, store, metrics);
  // Header signatures are verified on every core; the rest stays on io's thread.
  util::WorkerPool verifiers(util::WorkerPool::default_workers());
  auto sync_hooks = make_sync_hooks(network.peer_actions(), metrics);
  sync_hooks.post = [&io](std::function<void(SyncClock::time_point)> fn) {
    asio::post(io, [fn = std::move(fn)] { fn(SyncClock::now()); });
  };
  ChainSync sync(store, metrics, sync_settings_from(c), std::move(sync_hooks), &verifiers);
  std::set<crypto::PublicKey> masternodes;
  for (const auto& mn : id.genesis.masternodes) masternodes.insert(mn.pubkey);
  MessageRouter router(network.peer_actions(), sync, network.address_book(), id.genesis);
  network.set_handler(router);
  auto p2p_port = network.start();
  if (!p2p_port) return tl::unexpected(p2p_port.error());
  Periodic sync_tick(
      io, kSyncTick, [&sync] { sync.tick(std::chrono::steady_clock::now()); }, "chain sync");
  sync_tick.start();
  std::optional<BlockProducer> producer;
  if (id.role == p2p::Role::Masternode) {
    const bool others = masternodes.size() > 1;  // its own key is one of them
    producer.emplace(
        io, store, sync, id.key, [&network] { return network.peer_count(); }, others);
    producer->start();
  }
  ApiContext api{network,
                 sync,
                 store,
                 metrics,
                 {id.genesis.network, options.version, id.key.public_key().hex(), std::string(p2p::to_string(id.role))},
                 c.admin_token,
                 c.ban_duration,
                 std::chrono::steady_clock::now()};
  http::Server http_server(io, c.http_listen, make_api(std::move(api)), http_limits_from(c), http_observer(metrics));
  std::unique_ptr<SignalHandler> signals;
  const ServiceNotifier service;
  auto service_status_now = [&] {
    const auto counts = network.counts();
    return service_status(store.tip().height, counts.inbound + counts.outbound, counts.masternodes);
  };
  Periodic service_tick(
      io, kServiceStatusPeriod, [&] { service.status(service_status_now()); }, "service status");
  auto stop = [&] {
    service.stopping();
    service_tick.stop();
    sync_tick.stop();
    if (producer) producer->stop();
    network.shutdown([&] {
      http_server.stop();
      if (signals) signals->cancel();
      io.stop();
    });
  };
  auto http_port = http_server.start();
  if (!http_port) {
    stop();
    return util::fail("http.listen " + http_port.error().message);
  }
  const util::HostPort p2p_listen{c.listen.host, *p2p_port}, http_listen{c.http_listen.host, *http_port};
  util::log_event(spdlog::level::info, "node_started",
                  {{"version", options.version},
                   {"node", id.key.public_key().hex()},
                   {"role", p2p::to_string(id.role)},
                   {"network", id.genesis.network},
                   {"genesis", chain::genesis_hash(id.genesis).hex()},
                   {"height", store.tip().height},
                   {"listen", p2p_listen.to_string()},
                   {"http", http_listen.to_string()}},
                  "tnode {} started: node {} ({}), network {} genesis {}, height {}, p2p {}, http {}", options.version,
                  id.key.public_key().hex(), p2p::to_string(id.role), id.genesis.network,
                  chain::genesis_hash(id.genesis).short_hex(), store.tip().height, p2p_listen.to_string(),
                  http_listen.to_string());
  signals = std::make_unique<SignalHandler>(io, options, stop);
  service.ready(service_status_now());
  if (service.enabled()) service_tick.start();
  io.run();
  return {};
}

}  // namespace

util::Result<void> run_node(const NodeOptions& options) {
  const auto& c = options.config;
  if (auto ok = configure_logging(c.log_level, c.log_format, options.log_file); !ok) return ok;
  std::optional<PidFile> pid_file;
  if (options.pid_file) {
    auto created = PidFile::create(*options.pid_file);
    if (!created) return tl::unexpected(created.error());
    pid_file.emplace(std::move(*created));
  }
  crypto::init();
  auto id = load_identity(c);
  if (!id) return tl::unexpected(id.error());
  if (auto ok = check_open_files(c, id->genesis); !ok) return ok;
  store::OpenOptions open;
  open.path = c.chain_path();
  open.genesis = id->genesis;
  auto store = store::ChainStore::open(open);
  if (!store) return tl::unexpected(store.error());
  auto ran = serve(options, *id, **store);
  store->reset();  // closes RocksDB: the WAL is flushed
  if (ran) util::log_event(spdlog::level::info, "node_stopped", {}, "tnode stopped");
  return ran;
}

}  // namespace core::node
