#include "libcore/node/listener.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "libcore/node/spawn.hpp"
#include "libcore/util/log_event.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"

namespace core::node {

namespace {

using p2p::RejectCode;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// A failed accept (e.g. out of file descriptors) pauses the loop this long.
constexpr Millis kAcceptRetryPause{100};

}  // namespace

Listener::Listener(asio::io_context& io, ListenerSettings settings, ConnectionManager& manager, AddressBook& book,
                   const chain::GenesisSpec& genesis)
    : io_(io), s_(std::move(settings)), manager_(manager), book_(book), genesis_(genesis), acceptor_(io) {}

std::string announced_address(const std::string& external_address, const tcp::endpoint& bound) {
  if (!external_address.empty()) return external_address;
  if (auto ip = dial_source(bound)) return util::HostPort{ip->to_string(), bound.port()}.to_string();
  return {};
}

std::optional<asio::ip::address> dial_source(const tcp::endpoint& bound) {
  if (bound.address().is_unspecified()) return std::nullopt;
  return bound.address();
}

util::Result<std::uint16_t> Listener::bind() {
  boost::system::error_code ec;
  const auto where = s_.listen.to_string();
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(s_.listen.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, s_.listen.port);
  } else {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(s_.listen.host, std::to_string(s_.listen.port), ec);
    if (ec || results.empty()) return util::fail(where + ": cannot resolve host: " + ec.message());
    endpoint = results.begin()->endpoint();
  }
  std::uint16_t port = 0;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) port = acceptor_.local_endpoint(ec).port();
  if (ec) {
    acceptor_.close();
    return util::fail("network.listen " + where + ": " + ec.message());
  }
  return port;
}

tcp::endpoint Listener::local_endpoint() const {
  boost::system::error_code ec;
  auto endpoint = acceptor_.local_endpoint(ec);
  return ec ? tcp::endpoint() : endpoint;
}

void Listener::start() { spawn(io_, accept_loop(), "p2p accept loop"); }

void Listener::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> Listener::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (stopped_ || manager_.stopping() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      util::log_event(spdlog::level::warn, "accept_failed", {{"detail", ec.message()}}, "p2p: accept failed: {}",
                      ec.message());
      asio::steady_timer pause(io_, kAcceptRetryPause);
      co_await pause.async_wait(kTuple);
      continue;
    }
    boost::system::error_code nec;
    socket.set_option(tcp::no_delay(true), nec);
    const auto ip = remote_ip_of(socket);
    if (auto refusal = refusal_for(ip)) {
      // A refused connection holds no handshake slot. Past kMaxRefusing
      // of them at once the reason is dropped too: the socket just closes.
      if (manager_.refusing() >= kMaxRefusing) {
        manager_.count_handshake_failure(std::string(p2p::to_string(refusal->code)));
        socket.close(nec);
        continue;
      }
      refuse(manager_.make_connection(std::move(socket), false), *refusal);
      continue;
    }
    auto c = manager_.make_connection(std::move(socket), false);
    spawn(io_, run_inbound(c), "p2p connection " + c->describe());
  }
}

std::optional<p2p::Rejection> Listener::refusal_for(const std::string& ip) const {
  if (auto until = manager_.ip_refused_until(ip))
    return p2p::Rejection{RejectCode::banned,
                          "connections from " + ip + " are refused for another " +
                              util::format_duration(std::chrono::duration_cast<Millis>(*until - Clock::now())) +
                              " (misbehaviour from this address)"};
  if (manager_.handshaking() >= s_.max_handshakes)
    return p2p::Rejection{RejectCode::capacity,
                          std::to_string(s_.max_handshakes) + " handshakes in progress; try again later"};
  if (manager_.inbound_handshakes_from(ip) >= s_.max_per_ip)
    return p2p::Rejection{RejectCode::per_ip_limit,
                          "too many handshakes from " + ip + " (max_per_ip " + std::to_string(s_.max_per_ip) + ")"};
  return std::nullopt;
}

void Listener::refuse(const ConnectionPtr& c, const p2p::Rejection& why) {
  c->mark_refused();
  const Failure f = local_failure(FailureKind::rejected, why);
  manager_.count_handshake_failure(f.reason());
  log_inbound_failure(*c, f);
  c->goodbye(f);
}

asio::awaitable<void> Listener::run_inbound(ConnectionPtr c) {
  const auto started_at = Clock::now();
  const auto deadline = started_at + s_.handshake_timeout;
  auto first = co_await c->wire().peek_magic(deadline);
  if (first && *first == kGenesisRequestMagic) {
    co_await serve_genesis(c, deadline);
    co_return;
  }
  const p2p::Hello hello = manager_.our_hello();
  const AdmitFn admit = [this, raw = c.get()](const p2p::Hello& h) { return manager_.admit(*raw, h); };
  auto result =
      co_await respond_handshake(c->wire(), hello, manager_.local().key, manager_.local().identity, admit, deadline);
  if (!result) {
    handshake_failed(c, result.error());
    co_return;
  }
  c->set_handshake(*result);
  if (manager_.stopping()) {
    c->goodbye(RejectCode::shutdown, "node is shutting down");
    co_return;
  }
  // The peer's listen address is fresh evidence that it is alive.
  if (!c->listen_address().empty())
    if (auto a = util::parse_host_port(c->listen_address()))
      book_.record_inbound(*a, c->id(), c->remote_ip(), Clock::now(), util::now_ms());
  co_await manager_.adopt(c, started_at);
}

void Listener::handshake_failed(const ConnectionPtr& c, const Failure& f) {
  // Logged at debug; summarised per remote IP at info, so a flood of bad
  // connections never writes a line per attempt.
  manager_.handshake_failed(*c, f);
  if (!(f.kind == FailureKind::rejected && (f.code == "self" || f.code == "shutdown"))) log_inbound_failure(*c, f);
  c->goodbye(f);
}

void Listener::log_inbound_failure(const Connection& c, const Failure& f) {
  const auto& ip = c.remote_ip();
  const auto who = c.describe();
  const auto now = Clock::now();
  if (failure_log_.size() > kMaxFailureLogIps) failure_log_.clear();  // bounded
  auto& entry = failure_log_[ip];
  if (entry.last && now - *entry.last < kFailureLogPeriod) {
    ++entry.suppressed;
    return;
  }
  const std::string more = entry.suppressed > 0 ? "; " + std::to_string(entry.suppressed) + " more failures from " +
                                                      ip + " since last report"
                                                : std::string();
  util::log_event(spdlog::level::info, "handshake_failed",
                  {{"addr", c.remote_address()},
                   {"direction", c.direction()},
                   {"reason", f.reason()},
                   {"kind", to_string(f.kind)},
                   {"by_peer", f.by_peer},
                   {"detail", f.detail},
                   {"suppressed", entry.suppressed}},
                  "p2p: inbound handshake from {} failed: {} ({}){}", who, f.label(), f.detail, more);
  entry.last = now;
  entry.suppressed = 0;
}

// Whether a genesis request from `ip` is within its rate; logs the first
// request of a period and then one summary per kFailureLogPeriod.
bool Listener::admit_genesis_request(const std::string& ip, SteadyTime now) {
  if (genesis_requests_.size() > kMaxFailureLogIps) genesis_requests_.clear();  // bounded
  const double per_minute = s_.max_genesis_requests_per_minute;
  auto it =
      genesis_requests_
          .try_emplace(ip, GenesisRequests{util::TokenBucket(per_minute / 60.0, per_minute / 4), std::nullopt, 0, 0})
          .first;
  auto& g = it->second;
  const bool ok = g.bucket.take(now);
  (ok ? g.served : g.refused)++;
  if (!g.last_log || now - *g.last_log >= kFailureLogPeriod) {
    if (g.served + g.refused > 1)
      util::log_event(spdlog::level::info, "genesis_requests",
                      {{"ip", ip}, {"requests", g.served + g.refused}, {"refused", g.refused}},
                      "p2p: {} genesis requests from {} since last report ({} refused over {} a minute)",
                      g.served + g.refused, ip, g.refused, s_.max_genesis_requests_per_minute);
    else
      util::log_event(spdlog::level::info, "genesis_served", {{"ip", ip}}, "p2p: served genesis to {}", ip);
    g.last_log = now;
    g.served = g.refused = 0;
  }
  return ok;
}

// A pre-handshake genesis request (wire.hpp, fetch_genesis): answered
// with our genesis in the request's framing, then closed.
asio::awaitable<void> Listener::serve_genesis(const ConnectionPtr& c, SteadyTime deadline) {
  c->wire().use_magic(kGenesisRequestMagic);
  c->wire().expires_at(deadline);
  auto request = co_await c->wire().read_message();
  if (request && std::holds_alternative<p2p::GetGenesis>(*request)) {
    if (!admit_genesis_request(c->remote_ip(), Clock::now())) {
      c->goodbye(RejectCode::capacity, "genesis requests over " + std::to_string(s_.max_genesis_requests_per_minute) +
                                           " a minute from this address; try again later");
      co_return;
    }
    const p2p::Message reply = p2p::Genesis{genesis_};
    (void)co_await c->wire().write_message(reply);
    c->goodbye_quietly("genesis_served", "");
  } else {
    c->goodbye(RejectCode::handshake_order, "only get_genesis may use the genesis request magic");
  }
}

}  // namespace core::node
