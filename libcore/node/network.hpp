#pragma once
// The peer-to-peer side of the daemon (DESIGN.md sections 5 and 6), as a
// facade over its owners:
//   listener            accepting, admission, inbound handshakes, genesis requests
//   dialler             what to dial and when, outbound handshakes
//   connection_manager  the connected peers: duplicates, eviction, penalties, bans
//   connection          one peer socket's life
//   address_book        known addresses and their dial bookkeeping (pure)
//   ban_list            bans with expiry (pure)
//   peer_store          peer and ban records in the chain store
//   connectivity        the one verdict for /health and partition events (pure)
// The message side (message_router, sync) plugs in through PeerHandler /
// PeerActions (peer_interfaces.hpp). This file composes the pieces, runs
// the periodic jobs that belong to none of them (writing the address book,
// expiring bans, counting partitions) and builds what /peers, /addrbook and
// /bans show.
//
// Threads: everything runs on the io_context given to the constructor, which
// the node runs on one thread -- the owner of all state here. Call every
// member from that thread (HTTP handlers run there too). No Boost headers
// here.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libcore/chain/genesis.hpp"
#include "libcore/config/defaults.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/node/connectivity.hpp"
#include "libcore/node/peer_interfaces.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/error.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace core::store {
class ChainStore;
}
namespace core::metrics {
struct NodeMetrics;
}

namespace core::node {

class AddressBook;
using NodeId = crypto::PublicKey;
using Millis = std::chrono::milliseconds;

// The first keep-alive ping after a connection is made (then ping_interval).
inline constexpr Millis kFirstPingDelay{1000};
// How often changed address-book records are written to the store (and so
// the most a kill -9 loses; a graceful stop writes them all). Expired bans
// are dropped on the same beat.
inline constexpr Millis kPersistInterval{1000};
// How often connectivity is checked for partition events, and how long
// "partitioned" must hold before it counts (tnode_partition_events_total).
inline constexpr Millis kPartitionCheck{250};
inline constexpr Millis kPartitionSettle{1000};

// The networking part of tnode.toml, resolved (defaults: config/defaults.hpp).
struct NetworkSettings {
  util::HostPort listen{"0.0.0.0", config::defaults::kPeerPort};
  std::string external_address;
  std::vector<util::HostPort> static_peers;
  std::uint32_t max_inbound = config::defaults::kMaxInbound;
  std::uint32_t max_outbound = config::defaults::kMaxOutbound;
  std::uint32_t max_per_ip = config::defaults::kMaxPerIp;
  // handshake_cap() (settings_from_config.hpp) of the defaults, no masternodes.
  std::size_t max_handshakes = std::size_t{config::defaults::kMaxInbound} + config::defaults::kMaxOutbound;
  Millis check_interval = config::defaults::kCheckInterval;
  Millis handshake_timeout = config::defaults::kHandshakeTimeout;
  Millis ping_interval = config::defaults::kPingInterval;
  Millis ping_timeout = config::defaults::kPingTimeout;
  Millis idle_timeout = config::defaults::kIdleTimeout;
  std::size_t max_message_size = config::defaults::kMaxMessageSize;
  std::size_t send_queue_limit = config::defaults::kSendQueueLimit;
  std::size_t max_address_book = config::defaults::kMaxAddressBook;
  std::size_t max_addresses_per_source = config::defaults::kMaxAddressesPerSource;
  std::uint32_t max_dials_per_second = config::defaults::kMaxDialsPerSecond;
  std::uint32_t max_genesis_requests_per_minute = config::defaults::kMaxGenesisRequestsPerMinute;
  std::uint32_t max_pings_per_second = config::defaults::kMaxPingsPerSecond;
  p2p::ReconnectSettings reconnect;
  p2p::PeerQualitySettings quality;
  p2p::Role role = p2p::Role::Regular;
  std::string user_agent = "tnode";

  friend bool operator==(const NetworkSettings&, const NetworkSettings&) = default;
};

// One connected peer, as GET /peers shows it (the chain side adds what
// sync knows of it).
struct PeerView {
  NodeId id;
  std::string node_id;         // hex
  std::string address;         // remote ip:port of the socket
  std::string listen_address;  // where it accepts peers ("" if it does not listen)
  std::string direction;       // "inbound" | "outbound"
  std::string peer_class;      // "masternode" | "static" | "discovered"
  std::string role;            // what it proved: "masternode" | "regular"
  bool we_initiated = false;
  std::uint64_t height = 0;  // as its Hello claimed
  std::string best_hash;
  double score = 0;
  std::optional<double> rtt_ms;
  std::int64_t connected_since_ms = 0;  // unix ms
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::string session;  // the peer's session nonce, hex
  std::string user_agent;
};

// One known address, as GET /addrbook shows it.
struct AddressView {
  std::string address;
  std::optional<std::string> node_id;
  std::string peer_class;
  std::string source;  // "genesis" | "config" | "gossip" | "inbound" | "admin"
  bool connected = false;
  bool self = false;           // it is this node
  bool wrong_network = false;  // it answered with another genesis/network: never dialled again
  bool banned = false;         // its node id is banned
  p2p::AddressSnapshot state;
  std::optional<std::int64_t> next_dial_in_ms;
  double score = 0;
  std::uint64_t total_attempts = 0, total_failures = 0;
  std::optional<std::int64_t> last_attempt_ms, last_success_ms;  // unix ms
  std::string last_error;
  std::vector<std::int64_t> recent_attempts_ms;  // the last kRecentAttempts dial starts, unix ms, oldest first
};

struct BanView {
  std::string node_id;
  std::int64_t until_ms = 0;
  std::string reason;
  std::int64_t since_ms = 0;
};

struct NetworkCounts {
  std::size_t inbound = 0, outbound = 0;  // connected peers
  std::size_t masternodes = 0;            // connected peers that are genesis masternodes
  std::size_t handshaking = 0;
};

class Network {
 public:
  Network(boost::asio::io_context& io, NetworkSettings settings, const crypto::KeyPair& key,
          const chain::GenesisSpec& genesis, store::ChainStore& store, metrics::NodeMetrics& metrics);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // The message side's seam: where chain and gossip messages go (set before
  // start), what it may do to peers, and the address book gossip feeds.
  void set_handler(PeerHandler& handler);
  PeerActions& peer_actions();
  AddressBook& address_book();

  // Binds the listener, restores the peer memory from the store and starts
  // accepting and dialling. Returns the bound port. Fails naming the address
  // ("network.listen 127.0.0.1:24100: address already in use").
  util::Result<std::uint16_t> start();

  // Stops accepting and dialling, says goodbye (Reject{shutdown}) to every
  // peer and calls `done` once every connection is closed (at most about
  // 2 x kLingerTimeout later) and the address book is written.
  void shutdown(std::function<void()> done);

  std::vector<PeerView> peers() const;
  std::vector<AddressView> addresses() const;
  std::vector<BanView> bans() const;
  NetworkCounts counts() const;
  std::size_t peer_count() const;
  // The one connectivity verdict (connectivity.hpp).
  ConnectivityVerdict connectivity() const;
  // Brings the gauges computed from the address book (tnode_breakers_open)
  // and the connections (tnode_masternodes, tnode_masternodes_seen) up to
  // date; called before /metrics renders.
  void update_gauges();

  // Admin: dial this address now (added as class static, source admin).
  util::Result<void> connect(const util::HostPort& address);
  // Admin: closes connections to this node id (hex) or remote/listen address
  // with Reject{admin}; returns how many.
  std::size_t disconnect(const std::string& node_id_or_address);
  // Admin: bans a node id for `duration` (closing its connections), or lifts
  // a ban (its addresses may be dialled at once). Both are written to the
  // store's `bans` column at once.
  void ban(const NodeId& id, Millis duration, const std::string& reason);
  bool unban(const NodeId& id);

  struct Parts;

 private:
  std::unique_ptr<Parts> p_;
};

}  // namespace core::node
