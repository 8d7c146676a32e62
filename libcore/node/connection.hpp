#pragma once
// One peer connection's life (DESIGN.md 5), from the accepted or dialled
// socket to its close: state, the bounded send queue and its single writer,
// the reader, keep-alive pings and the idle timeout, round-trip time, the
// liveness probe used by duplicate resolution, and goodbye() — the one
// place that marks a connection closing, sends the reason, closes
// gracefully (half-close, drain until EOF, bounded by kLingerTimeout) and
// then reports it closed. What the connection cannot decide itself it
// reports to its owner through ConnectionEvents.
//
// Life: Handshaking (the listener or dialler runs the handshake on wire())
// -> Resolving (duplicate resolution) -> Connected (run(): reader, writer,
// keep-alive) -> Closing -> on_closed. Any state may go to Closing.
//
// Internal to node/ (Asio). Threads: one strand, the node's.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "libcore/config/defaults.hpp"
#include "libcore/node/address_book.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/util/token_bucket.hpp"

namespace core::node {

using Millis = std::chrono::milliseconds;
class Connection;
using ConnectionPtr = std::shared_ptr<Connection>;

// What a connection reports to its owner; called on the node's strand.
class ConnectionEvents {
 public:
  // A message of the connected phase, except Ping, Pong and Reject (the
  // connection handles those itself).
  virtual void on_message(const ConnectionPtr& c, p2p::Message message) = 0;
  // The peer broke the protocol (a frame or payload fault, a handshake
  // message after the handshake); the connection is already saying goodbye
  // with the fault's reason.
  virtual void on_protocol_violation(const ConnectionPtr& c, const Failure& fault) = 0;
  // A keep-alive ping went out: the peer has been connected another ping_interval.
  virtual void on_keepalive(const ConnectionPtr& c) = 0;
  // A frame was read (received) or written.
  virtual void on_traffic(p2p::MessageType type, std::size_t bytes, bool received) = 0;
  // The connection is over and its socket closed; close_reason() says why.
  // Exactly once per connection that went through goodbye() or run().
  virtual void on_closed(const ConnectionPtr& c) = 0;

 protected:
  ~ConnectionEvents() = default;
};

struct ConnectionSettings {
  Millis ping_interval = config::defaults::kPingInterval;
  // A keep-alive ping unanswered this long, with nothing else heard from
  // the peer since it went out, means a silent peer (a dead host, a cut
  // link): closed as `timeout`. The socket's TCP_USER_TIMEOUT is
  // ping_interval + ping_timeout, so unacknowledged data ends it as well.
  Millis ping_timeout = config::defaults::kPingTimeout;
  Millis idle_timeout = config::defaults::kIdleTimeout;
  Millis first_ping_delay{1000};  // the first keep-alive ping after connecting
  // The memory its send queue may hold: frame bytes plus kQueuedFrameOverhead each.
  std::size_t send_queue_limit = config::defaults::kSendQueueLimit;
  // The peer's Pings answered per second (a burst of as many); more are ignored.
  // Pings answered per second; a peer that sends more than
  // kPingFloodFactor times this many a second (after a burst of as many) is
  // flooding: closed as a protocol violation.
  std::uint32_t max_pings_per_second = config::defaults::kMaxPingsPerSecond;
};

// What one queued frame costs beyond its bytes (allocation headers, the
// shared pointer's control block, the queue's slot): the send-queue limit
// counts memory, so a flood of tiny frames is bounded like a few big ones.
inline constexpr std::size_t kQueuedFrameOverhead = 96;
// A peer sending more than this many times max_pings_per_second pings a
// second is flooding (an honest one sends one every ping_interval).
inline constexpr std::uint32_t kPingFloodFactor = 10;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State { Handshaking, Resolving, Connected, Closing };

  // Until the handshake completes (set_handshake), frames from the peer
  // are bounded by p2p::kMaxHandshakeFrame; then by `max_message_size`.
  Connection(tcp::socket socket, std::uint32_t magic, std::size_t max_message_size, bool outbound,
             const ConnectionSettings& settings, ConnectionEvents& events);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ---- who and how
  const std::string& remote_ip() const { return remote_ip_; }
  std::uint16_t remote_port() const { return remote_port_; }
  std::string remote_address() const { return util::HostPort{remote_ip_, remote_port_}.to_string(); }
  bool outbound() const { return outbound_; }
  const char* direction() const { return outbound_ ? "outbound" : "inbound"; }
  State state() const { return state_; }
  // "abc123@1.2.3.4:24100 (inbound)" (no id before the handshake).
  std::string describe() const;
  WireStream& wire() { return wire_; }
  const WireStream& wire() const { return wire_; }

  // The address book key this connection was dialled from (outbound).
  void set_dial_key(std::string key) { dial_key_ = std::move(key); }
  const std::string& dial_key() const { return dial_key_; }
  // Refused at accept: it only says why and closes.
  void mark_refused() { refused_ = true; }
  bool refused() const { return refused_; }

  // ---- after the handshake
  void set_handshake(const HandshakeResult& hs);
  const NodeId& id() const { return id_; }
  // As the peer sent it, its user agent made printable (HandshakeResult).
  const p2p::Hello& hello() const { return theirs_; }
  // Where it accepts peers, as it says: the address its Hello announced,
  // else its IP with its Hello's listen port ("" if neither). Unverified:
  // the address book trusts it only once a dial there finds this node.
  const std::string& listen_address() const { return listen_address_; }
  ConnectionOrigin origin() const { return {outbound_, dial_key_, listen_address_}; }
  // Duplicate resolution in progress (the owner's step between handshake and run()).
  void set_resolving() {
    if (state_ == State::Handshaking) state_ = State::Resolving;
  }
  // The class its owner gave it (masternode, static, discovered).
  p2p::PeerClass peer_class = p2p::PeerClass::Discovered;

  // ---- connected
  // Enters Connected and starts the reader, writer and keep-alive. Once.
  void run();
  // Queues a message for the writer. Over send_queue_limit the peer is
  // dropped as slow_peer (it does not read what we send). Ignored once closing.
  void send(const p2p::Message& message);
  // Pings the peer and waits up to `timeout` for the Pong: whether it came.
  // False at once (or as soon as it closes) for a closing connection.
  asio::awaitable<bool> probe(Millis timeout);
  // Round-trip time of the last keep-alive ping, and the lowest measured
  // (inbound eviction protects the fastest); nullopt before the first Pong.
  std::optional<double> rtt_ms() const { return rtt_ms_; }
  std::optional<double> min_rtt_ms() const { return min_rtt_ms_; }
  // The most memory its send queue held at once (bytes, as the limit counts).
  std::size_t peak_queued_bytes() const { return peak_queued_bytes_; }
  std::int64_t connected_since_ms() const { return connected_since_ms_; }

  // ---- the end
  // Says goodbye: marks the connection closing, sends Reject{code, detail}
  // after nothing else (queued data is dropped), closes gracefully, then
  // reports on_closed. Any state; a second call does nothing.
  void goodbye(p2p::RejectCode code, std::string detail);
  // The same for a failure found in the handshake: its Reject (to_send),
  // if any, goes out; reason and detail are the failure's.
  void goodbye(const Failure& failure);
  // Closes gracefully without a Reject: the peer needs no reason (it told
  // us its own, or it got what it asked for). `reason` is the close label.
  void goodbye_quietly(std::string reason, std::string detail) {
    begin_close(std::move(reason), std::move(detail), std::nullopt);
  }
  // Closes the socket at once (whatever is in flight fails): for a
  // handshake in progress at shutdown, whose coroutine then says goodbye.
  void abort() { wire_.close(); }
  const std::string& close_reason() const { return close_reason_; }
  const std::string& close_detail() const { return close_detail_; }
  // run() was called: it was a connected peer.
  bool was_connected() const { return running_; }

 private:
  struct ProbeWait;
  void begin_close(std::string reason, std::string detail, std::optional<p2p::Reject> to_send);
  void finish();
  asio::awaitable<void> close_unstarted(std::optional<p2p::Reject> to_send);
  asio::awaitable<void> reader();
  asio::awaitable<void> writer();
  asio::awaitable<void> keepalive();
  void handle(p2p::Message message);
  void on_pong(std::uint64_t nonce);
  // A keep-alive ping went unanswered for ping_timeout and nothing was heard since.
  bool silent_since_ping(SteadyTime now) const;

  std::string remote_ip_;
  std::uint16_t remote_port_;
  WireStream wire_;
  bool outbound_;
  std::size_t max_message_size_;
  ConnectionSettings settings_;
  ConnectionEvents& events_;
  std::string dial_key_;
  bool refused_ = false;
  State state_ = State::Handshaking;
  bool running_ = false, finished_ = false;

  p2p::Hello ours_, theirs_;
  NodeId id_;
  std::string listen_address_;

  // Writer: frames waiting to be sent; `wake_` is cancelled to wake it.
  std::deque<std::shared_ptr<const codec::Bytes>> queue_;
  std::size_t queued_bytes_ = 0, peak_queued_bytes_ = 0;
  asio::steady_timer wake_;
  asio::steady_timer keepalive_timer_;
  asio::steady_timer linger_;     // bounds a close: the socket is closed when it fires
  util::TokenBucket pings_;       // Pings answered
  util::TokenBucket ping_flood_;  // Pings taken at all (kPingFloodFactor x the answered rate)
  std::string close_reason_;      // bounded label
  std::string close_detail_;

  SteadyTime last_received_{}, last_ping_sent_{};
  std::int64_t connected_since_ms_ = 0;
  std::uint64_t ping_nonce_ = 0;  // outstanding keep-alive ping, 0 if none
  std::optional<double> rtt_ms_, min_rtt_ms_;
  std::map<std::uint64_t, std::shared_ptr<ProbeWait>> probes_;  // liveness probes waiting on a Pong, by nonce
};

}  // namespace core::node
