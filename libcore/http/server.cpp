#include "libcore/http/server.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include "libcore/crypto/hash.hpp"
#include "libcore/http/admission.hpp"
#include "libcore/util/log_event.hpp"

namespace core::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// ------------------------------------------------------------------ responses

Response json_response(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response error_response(int status, std::string message) {
  return json_response(status, nlohmann::json{{"error", std::move(message)}});
}

// ---------------------------------------------------------------------- admin

namespace {

Response forbidden(std::string reason) {
  return json_response(403, nlohmann::json{{"error", "forbidden"}, {"reason", std::move(reason)}});
}

// The token after "Bearer " (scheme case-insensitive, RFC 7235), or nullopt.
std::optional<std::string_view> bearer_token(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  auto token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace

Response require_admin(const Request& request, const std::string& admin_token, const Handler& handler) {
  if (!request.remote_is_loopback) return forbidden("admin endpoints are accepted only from loopback");
  if (admin_token.empty()) return forbidden("no admin_token is configured ([http] admin_token)");
  auto presented = bearer_token(request.authorization);
  if (!presented) return forbidden("missing admin token (expected 'Authorization: Bearer <token>')");
  // Comparing fixed-size digests keeps the time independent of where (and
  // whether) the lengths or bytes differ.
  crypto::init();
  auto want = crypto::blake2b256(admin_token);
  auto got = crypto::blake2b256(*presented);
  if (sodium_memcmp(want.data(), got.data(), want.bytes.size()) != 0) return forbidden("wrong admin token");
  return handler(request);
}

// --------------------------------------------------------------------- router

void Router::add(std::string method, std::string path_pattern, Handler handler) {
  assert(!path_pattern.empty() && path_pattern.front() == '/');
  Route route{std::move(method), std::move(path_pattern), {}, std::move(handler)};
  auto open = route.prefix.find('{');
  if (open != std::string::npos) {
    // Only "/prefix/{name}": the parameter is the whole last segment.
    assert(route.prefix.back() == '}' && open > 0 && route.prefix[open - 1] == '/');
    assert(route.prefix.find('/', open) == std::string::npos && open + 2 < route.prefix.size());
    route.param_name = route.prefix.substr(open + 1, route.prefix.size() - open - 2);
    route.prefix.resize(open);
  }
  for ([[maybe_unused]] const auto& r : routes_)
    assert(!(r.method == route.method && r.prefix == route.prefix && r.param_name.empty() == route.param_name.empty()));
  routes_.push_back(std::move(route));
}

Response Router::handle(Request request) const {
  auto matches = [&](const Route& r) {
    if (r.param_name.empty()) return request.path == r.prefix;
    if (!request.path.starts_with(r.prefix) || request.path.size() == r.prefix.size()) return false;
    return request.path.find('/', r.prefix.size()) == std::string::npos;
  };
  // Exact routes first, then parameter routes.
  const Route* found = nullptr;
  std::set<std::string> allowed;
  for (bool exact : {true, false}) {
    for (const auto& r : routes_) {
      if (r.param_name.empty() != exact || !matches(r)) continue;
      allowed.insert(r.method);
      if (!found && r.method == request.method) found = &r;
    }
    if (!allowed.empty()) break;  // a known exact path never falls through to a pattern
  }
  if (found) {
    if (!found->param_name.empty()) request.params[found->param_name] = request.path.substr(found->prefix.size());
    try {
      return found->handler(request);
    } catch (const std::exception& e) {
      spdlog::error("http: {} {} from {}: handler failed: {}", request.method, request.path, request.remote_address,
                    e.what());
      return error_response(500, "internal error");
    }
  }
  if (allowed.empty()) return json_response(404, nlohmann::json{{"error", "not found"}, {"path", request.path}});
  std::string allow;
  for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  auto r = json_response(
      405,
      nlohmann::json{
          {"error", "method not allowed"}, {"method", request.method}, {"path", request.path}, {"allowed", allowed}});
  r.headers["Allow"] = allow;
  return r;
}

// --------------------------------------------------------------------- server

const char* to_string(Drop d) {
  switch (d) {
    case Drop::RefusedFull:
      return "full";
    case Drop::RefusedPerIp:
      return "per_ip_limit";
    case Drop::Evicted:
      return "evicted";
    case Drop::HeaderTimeout:
      return "header_timeout";
    case Drop::IdleTimeout:
      return "idle_timeout";
    case Drop::BodyTimeout:
      return "body_timeout";
    case Drop::WriteTimeout:
      return "write_timeout";
  }
  return "?";
}

bool is_refusal(Drop d) { return d == Drop::RefusedFull || d == Drop::RefusedPerIp; }

namespace {

// After an error response we stop reading requests, but closing a socket
// with unread input makes the kernel send RST, which can destroy the response
// before the client reads it. So: shut down our side, then drain (bounded).
constexpr std::chrono::milliseconds kLingerTimeout{1'000};
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
// Accept failures such as EMFILE are transient: wait instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// The read that waits for a request's first byte; the parser takes the rest.
constexpr std::size_t kFirstReadBytes = 4096;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Query-string decoding: "+" is a space, "%XY" a byte; a malformed escape is
// kept as written (handlers validate values anyway).
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      out[percent_decode(part)] = "";
    else
      out[percent_decode(part.substr(0, eq))] = percent_decode(part.substr(eq + 1));
  }
  return out;
}

std::string lower_first(std::string s) {
  if (!s.empty()) s.front() = static_cast<char>(std::tolower(static_cast<unsigned char>(s.front())));
  return s;
}

bool is_loopback(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  return a.is_v6() && a.to_v6().is_v4_mapped() &&
         asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
}

// The whole 503 sent to a connection refused at accept.
std::string refusal(const char* message) {
  auto body = error_response(503, message).body;
  return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body;
}

// The peer left, or we are stopping: nothing to answer.
bool peer_gone(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::operation_aborted || ec == asio::error::connection_reset || ec == asio::error::eof ||
         ec == asio::error::broken_pipe;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  struct Connection;

  Impl(asio::io_context& io, util::HostPort listen_at, Router r, ServerLimits l, ServerObserver o)
      : strand(asio::make_strand(io)),
        acceptor(strand),
        listen(std::move(listen_at)),
        router(std::move(r)),
        limits(l),
        observer(std::move(o)) {}

  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  util::HostPort listen;
  Router router;
  ServerLimits limits;
  ServerObserver observer;
  bool started = false;
  bool stopping = false;
  // The connections counted against the limits, by id (admission order).
  // Each is owned by its session; it leaves this map when the session ends
  // or when it is evicted, whichever comes first.
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections;
  std::uint64_t next_id = 1;
  std::string refused_full;  // canned 503s, built once
  std::string refused_per_ip;

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(std::shared_ptr<Connection> conn);
  asio::awaitable<void> end_request(Connection& conn, const boost::system::error_code& ec, Drop timeout);
  // Coroutines here that are co_awaited take references to the caller's
  // named objects and their results are bound before use: GCC 12 pitfalls,
  // see node/wire.hpp. write() moves the body out of `response`.
  asio::awaitable<bool> write(Connection& conn, Response& response, bool keep_alive, unsigned version);
  asio::awaitable<void> linger_close(Connection& conn);
  void refuse(tcp::socket& socket, Drop why, const std::string& address);
  void evict(std::uint64_t id, const std::string& newcomer);
  void count(const std::shared_ptr<Connection>& conn);
  void uncount(Connection& conn);
  void report(Drop d);
  void close_all();
};

// One accepted connection.
struct Server::Impl::Connection {
  Connection(tcp::socket socket, OpenConnection v) : stream(std::move(socket)), view(std::move(v)) {}

  beast::tcp_stream stream;
  OpenConnection view;  // what admit() sees: id, source, and its phase since when
  std::string address;  // the peer's IP, as in Request::remote_address
  bool loopback = false;
  bool counted = false;  // in Impl::connections
  bool evicted = false;  // closed to make room for a newcomer

  void enter(Phase p) {
    view.phase = p;
    view.since = std::chrono::steady_clock::now();
  }
};

Server::Server(asio::io_context& io, util::HostPort listen, Router router, ServerLimits limits, ServerObserver observer)
    : impl_(std::make_shared<Impl>(io, std::move(listen), std::move(router), limits, std::move(observer))) {}

Server::~Server() {
  // Sessions may outlive the Server (until the io_context runs them to their
  // end or destroys them); the observer's referents need not.
  impl_->observer = {};
  stop();
}

std::size_t Server::connection_count() const { return impl_->connections.size(); }

util::Result<std::uint16_t> Server::start() {
  assert(!impl_->started);
  impl_->started = true;
  auto& acceptor = impl_->acceptor;
  const auto where = impl_->listen.to_string();
  boost::system::error_code ec;
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(impl_->listen.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, impl_->listen.port);
  } else {
    tcp::resolver resolver(impl_->strand);
    auto results = resolver.resolve(impl_->listen.host, std::to_string(impl_->listen.port), ec);
    if (ec || results.empty()) return util::fail(where + ": cannot resolve host: " + lower_first(ec.message()));
    endpoint = results.begin()->endpoint();
  }
  auto failed = [&](const char* step) {
    acceptor.close(ec);
    return util::fail(where + ": " + lower_first(ec.message()) + " (" + step + ")");
  };
  if (acceptor.open(endpoint.protocol(), ec); ec) return failed("open");
  // Lets a restarted node bind while old connections sit in TIME_WAIT; an
  // active listener on the port still makes bind fail.
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return failed("setsockopt");
  if (acceptor.bind(endpoint, ec); ec) {
    acceptor.close();
    return util::fail(where + ": " + lower_first(ec.message()));
  }
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return failed("listen");
  auto port = acceptor.local_endpoint(ec).port();
  if (ec) return failed("local address");

  impl_->refused_full = refusal("too many connections");
  impl_->refused_per_ip = refusal("too many connections from your address");
  asio::co_spawn(impl_->strand, impl_->accept_loop(), [where](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("http {}: accept loop failed: {}", where, ex.what());
    }
  });
  return port;
}

void Server::stop() {
  // Runs inline when already on the strand, else as soon as the io_context does.
  asio::dispatch(impl_->strand, [impl = impl_] { impl->close_all(); });
}

void Server::Impl::close_all() {
  if (stopping) return;
  stopping = true;
  boost::system::error_code ec;
  acceptor.close(ec);
  // Closing the socket completes its pending read/write with operation_aborted;
  // each session then sees `stopping` and ends.
  for (auto& [id, conn] : connections) conn->stream.socket().close(ec);
}

void Server::Impl::report(Drop d) {
  if (observer.dropped) observer.dropped(d);
}

void Server::Impl::count(const std::shared_ptr<Connection>& conn) {
  assert(!conn->counted);
  conn->counted = true;
  connections.emplace(conn->view.id, conn);
  if (observer.open_connections) observer.open_connections(connections.size());
}

void Server::Impl::uncount(Connection& conn) {
  if (!conn.counted) return;
  conn.counted = false;
  connections.erase(conn.view.id);
  if (observer.open_connections) observer.open_connections(connections.size());
}

void Server::Impl::evict(std::uint64_t id, const std::string& newcomer) {
  auto it = connections.find(id);
  assert(it != connections.end());
  const auto keep = it->second;  // uncount() drops the map's reference
  Connection& victim = *keep;
  const auto waited = std::chrono::steady_clock::now() - victim.view.since;
  const auto waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited).count();
  util::log_event(spdlog::level::debug, "http_evicted",
                  {{"ip", victim.address},
                   {"phase", to_string(victim.view.phase)},
                   {"waited_ms", waited_ms},
                   {"newcomer_ip", newcomer}},
                  "http: closing a connection from {} ({} for {} ms) to serve a newcomer from {}", victim.address,
                  to_string(victim.view.phase), waited_ms, newcomer);
  victim.evicted = true;
  uncount(victim);
  // Completes the session's pending read with operation_aborted; it sees
  // `evicted` and ends. The descriptor is free at once.
  victim.stream.close();
  report(Drop::Evicted);
}

asio::awaitable<void> Server::Impl::accept_loop() {
  auto self = shared_from_this();  // keeps the state alive while we run
  std::vector<OpenConnection> open;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (stopping || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      util::log_event(spdlog::level::warn, "accept_failed", {{"listen", listen.to_string()}, {"detail", ec.message()}},
                      "http {}: accept failed: {}", listen.to_string(), ec.message());
      asio::steady_timer timer(strand, kAcceptRetryDelay);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    std::string address = "?";
    bool loopback = false;
    if (auto ep = socket.remote_endpoint(ec); !ec) {
      address = ep.address().to_string();
      loopback = is_loopback(ep.address());
    }
    auto source = source_key(address);
    open.clear();
    for (const auto& [id, conn] : connections) open.push_back(conn->view);
    const auto admission = admit(open, source, limits.max_connections, limits.max_connections_per_ip);
    if (admission.verdict == Admission::Verdict::RefuseFull) {
      refuse(socket, Drop::RefusedFull, address);
      continue;
    }
    if (admission.verdict == Admission::Verdict::RefusePerSource) {
      refuse(socket, Drop::RefusedPerIp, address);
      continue;
    }
    if (admission.verdict == Admission::Verdict::AdmitEvicting) evict(admission.evict, address);

    // Counted now (a spawned session starts later), so the limits hold.
    auto conn = std::make_shared<Connection>(
        std::move(socket), OpenConnection{next_id++, std::move(source), Phase::Idle, std::chrono::steady_clock::now()});
    conn->address = address;
    conn->loopback = loopback;
    count(conn);
    asio::co_spawn(strand, session(std::move(conn)), [address](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("http: connection from {} failed: {}", address, ex.what());
      }
    });
  }
}

// At debug: a flood of refusals must not flood the log (the drops are counted).
void Server::Impl::refuse(tcp::socket& socket, Drop why, const std::string& address) {
  util::log_event(spdlog::level::debug, "http_refused",
                  {{"ip", address}, {"listen", listen.to_string()}, {"reason", to_string(why)}},
                  "http {}: refused a connection from {}: {}", listen.to_string(), address, to_string(why));
  // Never waits: a full kernel buffer just loses the 503 (the client sees a close).
  const auto& response = why == Drop::RefusedPerIp ? refused_per_ip : refused_full;
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(response), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
  report(why);
}

asio::awaitable<void> Server::Impl::session(std::shared_ptr<Connection> conn) {
  auto self = shared_from_this();
  struct Uncount {
    Impl& impl;
    Connection& conn;
    ~Uncount() { impl.uncount(conn); }
  } uncount_at_end{*this, *conn};
  auto gone = [&] { return stopping || conn->evicted; };
  if (gone()) co_return;
  auto& stream = conn->stream;
  Request base;
  base.remote_address = conn->address;
  base.remote_is_loopback = conn->loopback;

  beast::flat_buffer buffer;
  // The first request line and headers are due header_timeout after accept;
  // a later request's, header_timeout after its first byte.
  auto header_deadline = conn->view.since + limits.header_timeout;
  for (bool first = true;; first = false) {
    if (buffer.size() == 0) {
      // Nothing of the next request yet: wait for its first byte.
      if (first) {
        stream.expires_at(header_deadline);
      } else {
        conn->enter(Phase::Idle);
        stream.expires_after(limits.idle_timeout);
      }
      auto [ec, n] =
          co_await stream.async_read_some(buffer.prepare(kFirstReadBytes), asio::as_tuple(asio::use_awaitable));
      if (gone()) co_return;
      if (ec == beast::error::timeout) report(first ? Drop::HeaderTimeout : Drop::IdleTimeout);
      if (ec) co_return;
      buffer.commit(n);
    }
    if (!first) header_deadline = std::chrono::steady_clock::now() + limits.header_timeout;
    conn->enter(Phase::Headers);

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
    parser.body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
    stream.expires_at(header_deadline);
    auto [header_ec, header_n] =
        co_await bhttp::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    (void)header_n;
    if (gone()) co_return;
    if (header_ec) {
      co_await end_request(*conn, header_ec, Drop::HeaderTimeout);
      co_return;
    }
    if (!parser.is_done()) {
      conn->enter(Phase::Body);
      stream.expires_after(limits.body_timeout);
      auto [body_ec, body_n] = co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      (void)body_n;
      if (gone()) co_return;
      if (body_ec) {
        co_await end_request(*conn, body_ec, Drop::BodyTimeout);
        co_return;
      }
    }

    conn->enter(Phase::Responding);
    auto& msg = parser.get();
    Request request = base;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    std::string_view target = msg.target();
    if (target.empty() || target.front() != '/') {
      // Absolute-form and "*" targets are for proxies and OPTIONS: not ours.
      auto error = error_response(400, "request target must be a path");
      const bool sent = co_await write(*conn, error, false, msg.version());
      if (sent) co_await linger_close(*conn);
      co_return;
    }
    auto question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) request.query = parse_query(target.substr(question + 1));
    if (auto it = msg.find(bhttp::field::authorization); it != msg.end())
      request.authorization = std::string(it->value());
    request.body = std::move(msg.body());
    const bool keep_alive = msg.keep_alive();
    const unsigned version = msg.version();

    auto response = router.handle(std::move(request));
    if (gone()) co_return;
    const bool sent = co_await write(*conn, response, keep_alive, version);
    if (!sent) co_return;
    if (!keep_alive) {
      boost::system::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
  }
}

asio::awaitable<void> Server::Impl::end_request(Connection& conn, const boost::system::error_code& ec, Drop timeout) {
  if (ec == beast::error::timeout) {
    report(timeout);
    co_return;
  }
  if (peer_gone(ec)) co_return;
  Response error;
  if (ec == bhttp::error::body_limit)
    error = error_response(413, "request body larger than " + std::to_string(limits.max_body_bytes) + " bytes");
  else if (ec == bhttp::error::header_limit)
    error = error_response(431, "request headers larger than " + std::to_string(limits.max_header_bytes) + " bytes");
  else
    error = error_response(400, "malformed HTTP request: " + ec.message());
  conn.enter(Phase::Responding);
  const bool sent = co_await write(conn, error, false, 11);
  if (sent) co_await linger_close(conn);
}

asio::awaitable<bool> Server::Impl::write(Connection& conn, Response& response, bool keep_alive, unsigned version) {
  bhttp::response<bhttp::string_body> res;
  res.version(version);
  // A status outside 100..999 is a handler bug; Beast would throw on it.
  res.result(response.status >= 100 && response.status <= 999 ? static_cast<unsigned>(response.status) : 500u);
  for (auto& [name, value] : response.headers) res.set(name, value);
  res.set(bhttp::field::content_type, response.content_type);
  // Explicit in both directions, whatever the HTTP version's default.
  res.set(bhttp::field::connection, keep_alive ? "keep-alive" : "close");
  res.body() = std::move(response.body);
  res.prepare_payload();
  conn.stream.expires_after(limits.write_timeout);
  auto [ec, n] = co_await bhttp::async_write(conn.stream, res, asio::as_tuple(asio::use_awaitable));
  (void)n;
  if (ec == beast::error::timeout) report(Drop::WriteTimeout);
  co_return !ec && !stopping && !conn.evicted;
}

asio::awaitable<void> Server::Impl::linger_close(Connection& conn) {
  boost::system::error_code ec;
  conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  conn.stream.expires_after(kLingerTimeout);
  std::array<char, 4096> sink;
  std::size_t drained = 0;
  while (drained < kLingerMaxBytes && !stopping) {
    auto [read_ec, n] = co_await conn.stream.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
    if (read_ec) break;
    drained += n;
  }
}

}  // namespace core::http
