#pragma once
// Accepting peers (DESIGN.md 5 and 6): the listening socket, the admission
// limits checked before a handshake (handshakes in progress, per-IP
// handshakes; a refused connection only says why, and past kMaxRefusing at
// once it is just closed), the responder's side of the handshake (node-state
// checks by ConnectionManager::admit), genesis requests (a first frame with
// kGenesisRequestMagic is answered with our genesis, no handshake), and the
// summarised log of failed inbound handshakes per remote IP. Genesis
// requests are rate-limited per IP and summarised in the log too. A connection
// whose handshake completed is handed to the connection manager.
//
// Internal to node/ (Asio). Threads: the node's strand.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "libcore/chain/genesis.hpp"
#include "libcore/node/address_book.hpp"
#include "libcore/node/connection_manager.hpp"
#include "libcore/util/error.hpp"
#include "libcore/util/token_bucket.hpp"

namespace core::node {

// Refused connections being told why at once; beyond it they are just closed.
inline constexpr std::size_t kMaxRefusing = 64;
// Remote IPs whose failures are summarised at once (then the table restarts).
inline constexpr std::size_t kMaxFailureLogIps = 1024;

struct ListenerSettings {
  util::HostPort listen{"0.0.0.0", config::defaults::kPeerPort};
  Millis handshake_timeout = config::defaults::kHandshakeTimeout;
  std::size_t max_handshakes = config::defaults::kMaxHandshakes;
  std::uint32_t max_per_ip = config::defaults::kMaxPerIp;
  // Genesis requests served per remote IP and minute (a burst of a quarter
  // of that at once); more are answered Reject{capacity}.
  std::uint32_t max_genesis_requests_per_minute = config::defaults::kMaxGenesisRequestsPerMinute;
};

// The address this node's Hello announces: `external_address` when set;
// else `bound`, the listener's endpoint, when its IP is specific (not
// 0.0.0.0 or ::), with the port actually bound; else "" (peers then take
// the socket's IP with our listen port).
std::string announced_address(const std::string& external_address, const tcp::endpoint& bound);
// Where outbound connections leave from: the listener's IP when it is
// specific, so that peers see us at the address we listen on.
std::optional<asio::ip::address> dial_source(const tcp::endpoint& bound);

class Listener {
 public:
  Listener(asio::io_context& io, ListenerSettings settings, ConnectionManager& manager, AddressBook& book,
           const chain::GenesisSpec& genesis);

  // Binds and listens. Returns the bound port; fails naming the address
  // ("network.listen 127.0.0.1:24100: address already in use").
  util::Result<std::uint16_t> bind();
  // The bound endpoint (after bind): its IP is the listen host's, resolved.
  tcp::endpoint local_endpoint() const;
  // Starts accepting (after bind).
  void start();
  // Stops accepting.
  void stop();

 private:
  asio::awaitable<void> accept_loop();
  std::optional<p2p::Rejection> refusal_for(const std::string& ip) const;
  void refuse(const ConnectionPtr& c, const p2p::Rejection& why);
  asio::awaitable<void> run_inbound(ConnectionPtr c);
  asio::awaitable<void> serve_genesis(const ConnectionPtr& c, SteadyTime deadline);
  void handshake_failed(const ConnectionPtr& c, const Failure& f);
  void log_inbound_failure(const Connection& c, const Failure& f);
  bool admit_genesis_request(const std::string& ip, SteadyTime now);

  asio::io_context& io_;
  ListenerSettings s_;
  ConnectionManager& manager_;
  AddressBook& book_;
  const chain::GenesisSpec& genesis_;
  tcp::acceptor acceptor_;
  bool stopped_ = false;
  struct FailureLog {
    std::optional<SteadyTime> last;
    std::uint64_t suppressed = 0;
  };
  std::map<std::string, FailureLog> failure_log_;  // by remote IP, bounded
  struct GenesisRequests {
    util::TokenBucket bucket;
    std::optional<SteadyTime> last_log;
    std::uint64_t served = 0, refused = 0;  // since the last log line
  };
  std::map<std::string, GenesisRequests> genesis_requests_;  // by remote IP, bounded
};

}  // namespace core::node
