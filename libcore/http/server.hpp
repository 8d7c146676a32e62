#pragma once
// A small HTTP/1.1 server for the node's observability and admin endpoints
// (DESIGN.md section 8): a Router maps (method, path) to handlers that turn a
// Request into a Response; a Server accepts connections on one io_context and
// runs every connection as a coroutine. No Boost headers here: the Beast and
// Asio code lives in server.cpp.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "libcore/config/defaults.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/error.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace core::http {

struct Request {
  std::string method;                         // "GET", "POST", ...
  std::string target;                         // as sent: "/chain/block/7?x=1"
  std::string path;                           // target up to '?': "/chain/block/7"
  std::map<std::string, std::string> query;   // percent-decoded; a repeated key keeps its last value
  std::map<std::string, std::string> params;  // from the route pattern: {"id": "7"} for "/chain/block/{id}"
  std::string body;
  std::string remote_address;  // peer IP without port
  bool remote_is_loopback = false;
  std::string authorization;  // the Authorization header value as sent ("Bearer <token>"), empty if absent
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra headers (e.g. Allow). Content-Type, Content-Length and Connection
  // are always set by the server and are ignored here.
  std::map<std::string, std::string> headers;
};

using Handler = std::function<Response(const Request&)>;

// The JSON text of `body` with the given status. Invalid UTF-8 in strings is
// replaced (U+FFFD), never thrown.
Response json_response(int status, const nlohmann::json& body);
// {"error": message} with the given status.
Response error_response(int status, std::string message);

// Runs `handler` only if the request comes from loopback, an admin token is
// configured (non-empty) and the request presents it as
// "Authorization: Bearer <token>". Otherwise 403 with {"error": "forbidden",
// "reason": ...} naming which condition failed. The token comparison takes
// the same time whatever the presented token is (hashed, then sodium_memcmp).
Response require_admin(const Request& request, const std::string& admin_token, const Handler& handler);

// Maps (method, path) to handlers. A pattern is an exact path ("/health") or
// a prefix plus one trailing parameter ("/chain/block/{id}"): the parameter
// matches one non-empty path segment (no '/') and appears in
// Request::params. Exact patterns win over parameter patterns. Not
// thread-safe for add(); handle() is const and may run concurrently.
class Router {
 public:
  // Registers a route. Patterns must start with '/' and may only use "{name}"
  // as their whole last segment; registering the same method and pattern
  // twice is a bug (assert).
  void add(std::string method, std::string path_pattern, Handler handler);

  // Dispatches: the matching handler's response; 404 {"error": "not found",
  // "path": ...} for an unknown path; 405 {"error": "method not allowed",
  // ...} with an Allow header when the path is known but not for this
  // method. A handler that throws gives 500 {"error": "internal error"}.
  Response handle(Request request) const;

 private:
  struct Route {
    std::string method;
    std::string prefix;      // whole path, or everything before the parameter
    std::string param_name;  // empty for exact routes
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Named limits; the defaults are config/defaults.hpp's (the node maps its
// [http] settings onto them: node/settings_from_config.hpp).
struct ServerLimits {
  // Connections served at once. When every slot is taken, a newcomer gets
  // the slot of a connection from a more crowded address, one waiting on its
  // client (admit() in admission.hpp), or else 503 and a close.
  std::size_t max_connections = config::defaults::kHttpMaxConnections;
  // Connections from one address (IPv6: one /64) at once; one more is
  // answered 503 and closed.
  std::size_t max_connections_per_ip = config::defaults::kHttpMaxConnectionsPerIp;
  // Request line + headers; beyond it: 431 and close.
  std::size_t max_header_bytes = config::defaults::kHttpMaxHeaderBytes;
  // Request body; beyond it: 413 and close.
  std::size_t max_body_bytes = config::defaults::kHttpMaxBodyBytes;
  // The request line and headers must have arrived this long after the
  // request's first byte (after accept, for a connection's first request),
  // however slowly they trickle in; then the connection is closed without a
  // response.
  std::chrono::milliseconds header_timeout = config::defaults::kHttpHeaderTimeout;
  // After a response, a keep-alive connection whose next request has not
  // started within this is closed.
  std::chrono::milliseconds idle_timeout = config::defaults::kHttpIdleTimeout;
  // Time for a request body to arrive once its headers have; then the
  // connection is closed without a response.
  std::chrono::milliseconds body_timeout = config::defaults::kHttpBodyTimeout;
  // Time to send one response; then the connection is closed.
  std::chrono::milliseconds write_timeout = config::defaults::kHttpWriteTimeout;

  bool operator==(const ServerLimits&) const = default;
};

// Why the server refused or closed a connection by itself (a client that
// leaves, or a malformed request, is not a Drop).
enum class Drop {
  RefusedFull,    // refused at accept (503): full and nobody to evict
  RefusedPerIp,   // refused at accept (503): its address holds max_connections_per_ip
  Evicted,        // closed to serve a newcomer from a less crowded address
  HeaderTimeout,  // header_timeout ran out before the headers were complete
  IdleTimeout,    // no new request within idle_timeout
  BodyTimeout,    // body_timeout ran out before the body was complete
  WriteTimeout,   // write_timeout ran out before the response was sent
};
inline constexpr std::array<Drop, 7> kAllDrops = {Drop::RefusedFull,   Drop::RefusedPerIp, Drop::Evicted,
                                                  Drop::HeaderTimeout, Drop::IdleTimeout,  Drop::BodyTimeout,
                                                  Drop::WriteTimeout};
// The metric label: "full", "per_ip_limit", "evicted", "header_timeout",
// "idle_timeout", "body_timeout", "write_timeout".
const char* to_string(Drop d);
// RefusedFull and RefusedPerIp: the connection was never served.
bool is_refusal(Drop d);

// What the server tells its owner (e.g. to count in metrics). Each callback
// may be empty; they run on the server's strand, must not call back into the
// Server, and are never called once the Server is destroyed.
struct ServerObserver {
  std::function<void(Drop)> dropped;
  std::function<void(std::size_t open)> open_connections;  // after every change
};

// Serves a Router over HTTP/1.1 on one listening address. Keep-alive is
// supported (HTTP/1.1 default, HTTP/1.0 with "Connection: keep-alive");
// every response carries Content-Length and Connection. Malformed requests
// get 400 and the connection is closed; the server never stops serving
// because of what a client sends, and slow, idle or numerous clients from a
// few addresses cannot keep a client from another address out (ServerLimits).
//
// Threads: all accepting, parsing and handler calls run on one strand of the
// given io_context, so handlers never run concurrently with each other (the
// node runs its io_context on one thread, its strand). Construct, start()
// and stop() from the thread that runs the io_context, or before it runs.
class Server {
 public:
  Server(boost::asio::io_context& io, util::HostPort listen, Router router, ServerLimits limits = {},
         ServerObserver observer = {});
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens, then accepts in the background while the io_context
  // runs. Returns the bound port (so port 0 picks a free one). Fails naming
  // the address: "127.0.0.1:24101: address already in use", or when the host
  // does not resolve. Call once.
  util::Result<std::uint16_t> start();

  // Stops accepting and closes every open connection; in-flight handlers
  // finish but their responses are dropped. Idempotent.
  void stop();

  // Connections currently open (for /metrics and tests).
  std::size_t connection_count() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the running coroutines
};

}  // namespace core::http
