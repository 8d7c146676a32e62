// http_echo_server: serves a few routes through core::http::Server on
// 127.0.0.1, for tests/integration/test_http_server.py. Not installed.
//
//   http_echo_server [PORT] [--admin-token T] [--max-connections N] [--max-connections-per-ip N]
//                    [--header-timeout-ms N] [--idle-timeout-ms N] [--body-timeout-ms N]
//
// Prints "port <bound port>" on stdout once listening (PORT 0 or absent: a
// free port), then "drop <reason>" for every connection the server refuses
// or closes by itself (http::to_string(Drop)), and serves until
// SIGTERM/SIGINT.
//
// Routes: GET /hello, POST /echo, GET /items/{id}, GET /info (the caller's
// address), POST /admin/ping (require_admin with --admin-token).

#include <charconv>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>

#include "libcore/http/server.hpp"

namespace {

constexpr int kUsage = 2;

bool parse_number(std::string_view text, unsigned long& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

core::http::Router make_router(const std::string& admin_token) {
  using core::http::json_response;
  using core::http::Request;
  core::http::Router router;
  router.add("GET", "/hello", [](const Request&) { return json_response(200, {{"hello", "world"}}); });
  router.add("POST", "/echo", [](const Request& r) {
    return json_response(200, {{"body", r.body}, {"length", r.body.size()}});
  });
  router.add("GET", "/items/{id}", [](const Request& r) {
    return json_response(200, {{"id", r.params.at("id")}, {"query", r.query}});
  });
  router.add("GET", "/info", [](const Request& r) {
    return json_response(200, {{"remote", r.remote_address}, {"loopback", r.remote_is_loopback}});
  });
  router.add("POST", "/admin/ping", [admin_token](const Request& r) {
    return core::http::require_admin(r, admin_token, [](const Request&) { return json_response(200, {{"ok", true}}); });
  });
  return router;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long port = 0;
  std::string admin_token;
  core::http::ServerLimits limits;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    unsigned long n = 0;
    bool has_value = i + 1 < argc;
    if (arg == "--admin-token" && has_value) {
      admin_token = argv[++i];
    } else if (arg == "--max-connections" && has_value && parse_number(argv[i + 1], n)) {
      limits.max_connections = n;
      ++i;
    } else if (arg == "--max-connections-per-ip" && has_value && parse_number(argv[i + 1], n)) {
      limits.max_connections_per_ip = n;
      ++i;
    } else if (arg == "--header-timeout-ms" && has_value && parse_number(argv[i + 1], n)) {
      limits.header_timeout = std::chrono::milliseconds(n);
      ++i;
    } else if (arg == "--idle-timeout-ms" && has_value && parse_number(argv[i + 1], n)) {
      limits.idle_timeout = std::chrono::milliseconds(n);
      ++i;
    } else if (arg == "--body-timeout-ms" && has_value && parse_number(argv[i + 1], n)) {
      limits.body_timeout = std::chrono::milliseconds(n);
      ++i;
    } else if (parse_number(arg, n) && n <= 65535) {
      port = n;
    } else {
      std::cerr << "usage: http_echo_server [PORT] [--admin-token T] [--max-connections N] "
                   "[--max-connections-per-ip N] [--header-timeout-ms N] [--idle-timeout-ms N] [--body-timeout-ms N]\n";
      return kUsage;
    }
  }

  boost::asio::io_context io;
  core::http::ServerObserver observer;
  observer.dropped = [](core::http::Drop d) { std::cout << "drop " << core::http::to_string(d) << std::endl; };
  core::http::Server server(io, {"127.0.0.1", static_cast<std::uint16_t>(port)}, make_router(admin_token), limits,
                            observer);
  auto bound = server.start();
  if (!bound) {
    std::cerr << "http_echo_server: " << bound.error().message << "\n";
    return 1;
  }
  std::cout << "port " << *bound << std::endl;

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { server.stop(); });
  io.run();
  return 0;
}
