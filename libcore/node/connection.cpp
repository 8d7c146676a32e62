#include "libcore/node/connection.hpp"

#include <algorithm>
#include <random>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "libcore/node/spawn.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"

namespace core::node {

namespace {

using p2p::RejectCode;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// A non-zero nonce for a Ping.
std::uint64_t ping_nonce() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uint64_t n = 0;
  while (n == 0) n = rng();
  return n;
}

// The kernel gives up on (and resets) the connection when sent data stays
// unacknowledged this long, instead of retransmitting for ~15 minutes: a
// cut link then ends the socket as well as the keep-alive does.
void set_user_timeout(tcp::socket& socket, Millis timeout) {
  const unsigned int ms = static_cast<unsigned int>(timeout.count());
  if (socket.is_open()) ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
}

}  // namespace

struct Connection::ProbeWait {
  explicit ProbeWait(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool answered = false;
};

Connection::Connection(tcp::socket socket, std::uint32_t magic, std::size_t max_message_size, bool outbound,
                       const ConnectionSettings& settings, ConnectionEvents& events)
    : remote_ip_(remote_ip_of(socket)),
      remote_port_(remote_port_of(socket)),
      wire_(std::move(socket), magic, std::min(max_message_size, p2p::kMaxHandshakeFrame)),
      outbound_(outbound),
      max_message_size_(max_message_size),
      settings_(settings),
      events_(events),
      wake_(wire_.stream().get_executor()),
      keepalive_timer_(wire_.stream().get_executor()),
      linger_(wire_.stream().get_executor()),
      pings_(settings.max_pings_per_second, settings.max_pings_per_second),
      ping_flood_(kPingFloodFactor * settings.max_pings_per_second, kPingFloodFactor * settings.max_pings_per_second) {}

std::string Connection::describe() const {
  std::string who = state_ == State::Handshaking ? remote_address() : id_.short_hex() + "@" + remote_address();
  return who + (outbound_ ? " (outbound)" : " (inbound)");
}

void Connection::set_handshake(const HandshakeResult& hs) {
  ours_ = hs.ours;
  theirs_ = hs.theirs;
  id_ = theirs_.node_id;
  // The address it announced (signed in its Hello); a peer that announces
  // none is taken at its socket's IP with the port it listens on.
  if (!theirs_.address.empty())
    listen_address_ = theirs_.address;
  else if (theirs_.listen_port != 0)
    listen_address_ = util::HostPort{remote_ip_, theirs_.listen_port}.to_string();
  wire_.set_max_message_size(max_message_size_);  // the peer is known now
}

// ------------------------------------------------------------------ connected

void Connection::run() {
  if (running_ || state_ == State::Closing) return;
  running_ = true;
  state_ = State::Connected;
  const auto now = Clock::now();
  last_received_ = now;
  // The first keep-alive ping goes out first_ping_delay after connecting,
  // so the round-trip time is known early; then every ping_interval.
  last_ping_sent_ = now - settings_.ping_interval + std::min(settings_.first_ping_delay, settings_.ping_interval);
  connected_since_ms_ = util::now_ms();
  set_user_timeout(wire_.socket(), settings_.ping_interval + settings_.ping_timeout);
  wire_.on_message = [this](p2p::MessageType type, std::size_t bytes, bool received) {
    events_.on_traffic(type, bytes, received);
  };
  auto self = shared_from_this();
  const auto ex = wire_.stream().get_executor();
  spawn(ex, writer(), "p2p writer " + describe());
  spawn(ex, keepalive(), "p2p keep-alive " + describe());
  spawn(ex, reader(), "p2p connection " + describe());
}

void Connection::send(const p2p::Message& message) {
  if (state_ == State::Closing) return;
  auto frame = wire_.frame_of(message);
  const auto cost = frame->capacity() + kQueuedFrameOverhead;
  if (queued_bytes_ + cost > settings_.send_queue_limit) {
    goodbye(RejectCode::slow_peer,
            "send queue over " + std::to_string(settings_.send_queue_limit) + " bytes: the peer does not read");
    return;
  }
  queued_bytes_ += cost;
  peak_queued_bytes_ = std::max(peak_queued_bytes_, queued_bytes_);
  queue_.push_back(std::move(frame));
  wake_.cancel();
}

asio::awaitable<bool> Connection::probe(Millis timeout) {
  if (state_ == State::Closing) co_return false;
  auto self = shared_from_this();
  const auto nonce = ping_nonce();
  auto wait = std::make_shared<ProbeWait>(wire_.stream().get_executor());
  probes_[nonce] = wait;
  send(p2p::Ping{nonce});
  wait->timer.expires_after(timeout);
  co_await wait->timer.async_wait(kTuple);
  probes_.erase(nonce);
  co_return wait->answered;
}

asio::awaitable<void> Connection::reader() {
  auto self = shared_from_this();
  for (;;) {
    auto message = co_await wire_.read_message();
    if (!message) {
      const auto& f = message.error();
      if (state_ != State::Closing) {
        if (f.kind == FailureKind::protocol_error) {
          // A frame or payload fault: the owner charges it (which may ban
          // the peer and so close first), we tell the peer, then drain.
          events_.on_protocol_violation(self, f);
          goodbye(p2p::parse_reject_code(f.code).value_or(RejectCode::protocol_error), f.detail);
          co_await wire_.drain_until(Clock::now() + kLingerTimeout);
        } else {
          close_reason_ = f.reason();
          close_detail_ = f.detail;
        }
      }
      break;
    }
    last_received_ = Clock::now();
    if (state_ == State::Closing) continue;  // draining
    handle(std::move(*message));
  }
  finish();
}

void Connection::handle(p2p::Message message) {
  if (auto* ping = std::get_if<p2p::Ping>(&message)) {
    // Answered at a bounded rate: a ping flood costs the flooder, not us;
    // far beyond it, the flooder is closed.
    const auto now = Clock::now();
    if (!ping_flood_.take(now)) {
      const auto fault =
          local_failure(FailureKind::protocol_error,
                        {RejectCode::protocol_error,
                         "ping flood: more than " + std::to_string(kPingFloodFactor * settings_.max_pings_per_second) +
                             " pings a second"});
      events_.on_protocol_violation(shared_from_this(), fault);
      goodbye(RejectCode::protocol_error, fault.detail);
    } else if (pings_.take(now)) {
      send(p2p::Pong{ping->nonce});
    }
  } else if (auto* pong = std::get_if<p2p::Pong>(&message)) {
    on_pong(pong->nonce);
  } else if (auto* reject = std::get_if<p2p::Reject>(&message)) {
    // The peer is closing and told us why; it shuts down its side next. We
    // close without a reason of our own.
    goodbye_quietly(std::string(reject->code_name()), "by peer: " + printable_detail(*reject));
  } else if (std::holds_alternative<p2p::Hello>(message) || std::holds_alternative<p2p::HelloAck>(message)) {
    const auto fault = local_failure(FailureKind::protocol_error,
                                     {RejectCode::handshake_order, "handshake message after the handshake"});
    events_.on_protocol_violation(shared_from_this(), fault);
    goodbye(RejectCode::handshake_order, fault.detail);
  } else {
    events_.on_message(shared_from_this(), std::move(message));
  }
}

bool Connection::silent_since_ping(SteadyTime now) const {
  // Anything heard after the ping proves the link (the pong may be queued
  // behind blocks the peer is sending us).
  return ping_nonce_ != 0 && last_received_ < last_ping_sent_ && now >= last_ping_sent_ + settings_.ping_timeout;
}

void Connection::on_pong(std::uint64_t nonce) {
  if (nonce != 0 && nonce == ping_nonce_) {
    rtt_ms_ = std::chrono::duration<double, std::milli>(Clock::now() - last_ping_sent_).count();
    min_rtt_ms_ = std::min(*rtt_ms_, min_rtt_ms_.value_or(*rtt_ms_));
    ping_nonce_ = 0;
  }
  if (auto it = probes_.find(nonce); it != probes_.end()) {
    it->second->answered = true;
    it->second->timer.cancel();
    probes_.erase(it);
  }
}

asio::awaitable<void> Connection::writer() {
  auto self = shared_from_this();
  for (;;) {
    if (queue_.empty()) {
      if (state_ == State::Closing) break;
      wake_.expires_at(Clock::time_point::max());
      co_await wake_.async_wait(kTuple);
      if (!wire_.socket().is_open()) co_return;
      continue;
    }
    auto frame = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= std::min(queued_bytes_, frame->capacity() + kQueuedFrameOverhead);
    auto w = co_await wire_.write_frame(frame);
    if (!w) {
      if (close_reason_.empty()) {
        close_reason_ = w.error().reason();
        close_detail_ = w.error().detail;
      }
      wire_.close();
      co_return;
    }
  }
  // Closing and everything (the reason last) is sent: half-close, and let
  // the reader drain until the peer's EOF (linger bounds it).
  boost::system::error_code ec;
  if (wire_.socket().is_open()) wire_.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> Connection::keepalive() {
  auto self = shared_from_this();
  while (state_ == State::Connected) {
    const auto idle_at = last_received_ + settings_.idle_timeout;
    const auto ping_at = last_ping_sent_ + settings_.ping_interval;
    auto wake_at = std::min(idle_at, ping_at);
    if (ping_nonce_ != 0) wake_at = std::min(wake_at, last_ping_sent_ + settings_.ping_timeout);
    keepalive_timer_.expires_at(wake_at);
    auto [ec] = co_await keepalive_timer_.async_wait(kTuple);
    if (ec || state_ != State::Connected) co_return;
    const auto now = Clock::now();
    if (now >= last_received_ + settings_.idle_timeout) {
      goodbye(RejectCode::timeout, "no traffic for " + util::format_duration(settings_.idle_timeout));
      co_return;
    }
    if (silent_since_ping(now)) {
      goodbye(RejectCode::timeout, "no answer to a ping within " + util::format_duration(settings_.ping_timeout));
      co_return;
    }
    if (now >= last_ping_sent_ + settings_.ping_interval) {
      ping_nonce_ = ping_nonce();
      last_ping_sent_ = now;
      send(p2p::Ping{ping_nonce_});
      events_.on_keepalive(self);
    }
  }
}

// ------------------------------------------------------------------ the end

void Connection::goodbye(RejectCode code, std::string detail) {
  auto reject = p2p::make_reject(code, detail);
  begin_close(std::string(p2p::to_string(code)), std::move(detail), std::move(reject));
}

void Connection::goodbye(const Failure& failure) { begin_close(failure.reason(), failure.detail, failure.to_send); }

void Connection::begin_close(std::string reason, std::string detail, std::optional<p2p::Reject> to_send) {
  if (state_ == State::Closing || finished_) return;
  state_ = State::Closing;
  close_reason_ = std::move(reason);
  close_detail_ = std::move(detail);
  for (auto& [nonce, wait] : probes_) wait->timer.cancel();  // unanswered
  probes_.clear();
  if (!running_) {
    spawn(wire_.stream().get_executor(), close_unstarted(std::move(to_send)), "p2p close " + describe());
    return;
  }
  queue_.clear();
  queued_bytes_ = 0;
  if (to_send) queue_.push_back(wire_.frame_of(*to_send));
  wake_.cancel();
  keepalive_timer_.cancel();
  linger_.expires_after(2 * kLingerTimeout);
  linger_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->wire_.close();
  });
}

asio::awaitable<void> Connection::close_unstarted(std::optional<p2p::Reject> to_send) {
  auto self = shared_from_this();
  co_await wire_.close_gracefully(to_send);
  finish();
}

void Connection::finish() {
  if (finished_) return;
  finished_ = true;
  wire_.close();
  wake_.cancel();
  keepalive_timer_.cancel();
  linger_.cancel();
  if (close_reason_.empty()) close_reason_ = "reset";
  state_ = State::Closing;
  events_.on_closed(shared_from_this());
}

}  // namespace core::node
