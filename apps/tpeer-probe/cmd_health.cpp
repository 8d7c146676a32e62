// tpeer-probe health: GET /health of a node's HTTP endpoint, its verdict and
// the node's summary (who it is, and why it is not ok when it says so).
#include <iostream>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/app.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/units.hpp"
#include "tpeer-probe/commands.hpp"
#include "tpeer-probe/output.hpp"
#include "tpeer-probe/probe_async.hpp"

namespace tpeer_probe {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using core::node::Failure;
using core::node::FailureKind;
using core::util::HostPort;
using core::util::Millis;
using nlohmann::json;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// The largest /health response body read; the node's is a few hundred bytes.
constexpr std::uint64_t kMaxHealthBody = 1 << 20;

struct HttpTarget {
  HostPort address;
  std::string host_header;  // as given: "host:port"
  std::string path = "/health";
  std::string url() const { return "http://" + host_header + path; }
};

// "http://host[:port][/path]", "host[:port]" or "host". The path, when one
// is given and is not "/", replaces /health (a node behind a proxy prefix).
core::util::Result<HttpTarget> parse_http_target(const std::string& text) {
  std::string rest = text;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (auto scheme = rest.find("://"); scheme != std::string::npos) {
    return core::util::fail("'" + text + "': only http:// is supported (the node serves plain HTTP)");
  }
  HttpTarget t;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    if (rest.substr(slash) != "/") t.path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  auto a = core::util::parse_host_port(rest, kDefaultHttpPort);
  if (!a) return core::util::fail("'" + text + "': " + a.error().message);
  t.address = *a;
  t.host_header = a->host.find(':') != std::string::npos ? "[" + a->host + "]:" + std::to_string(a->port)
                                                         : a->host + ":" + std::to_string(a->port);
  return t;
}

struct HealthReport {
  std::string url;
  double ms = 0;
  std::optional<Failure> failure;  // no HTTP answer
  unsigned http_status = 0;
  std::optional<json> body;  // the node's /health document
};

// GET path on a fresh connection, bounded by `timeout` in total.
asio::awaitable<HealthReport> fetch_health(HttpTarget target, Millis timeout) {
  HealthReport r;
  r.url = target.url();
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  auto socket = co_await core::node::connect_to(target.address, deadline);
  if (!socket) {
    r.failure = socket.error();
    r.ms = ms_since(start);
    co_return r;
  }
  beast::tcp_stream stream(std::move(*socket));
  stream.expires_at(deadline);
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, target.path, 11};
  request.set(bhttp::field::host, target.host_header);
  request.set(bhttp::field::user_agent, std::string(kTool) + "/" + app::version());
  request.set(bhttp::field::accept, "application/json");
  request.set(bhttp::field::connection, "close");
  auto [wec, written] = co_await bhttp::async_write(stream, request, kTuple);
  (void)written;
  if (wec) {
    r.failure = core::node::socket_failure(wec, "write");
    r.ms = ms_since(start);
    co_return r;
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxHealthBody);
  auto [rec, read] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
  (void)read;
  r.ms = ms_since(start);
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
  if (rec) {
    if (rec == bhttp::error::end_of_stream) {
      r.failure = core::node::socket_failure(asio::error::eof, "read");
    } else if (&rec.category() == &bhttp::make_error_code(bhttp::error::end_of_stream).category()) {
      // The parser refused the bytes: whatever answered is no HTTP server.
      Failure f;
      f.kind = FailureKind::protocol_error;
      f.detail = "read: not a valid HTTP response (" + rec.message() + ")";
      r.failure = f;
    } else {
      r.failure = core::node::socket_failure(rec, "read");
    }
    co_return r;
  }
  const auto& response = parser.get();
  r.http_status = response.result_int();
  auto body = json::parse(response.body(), nullptr, false);
  if (!body.is_discarded() && body.is_object()) r.body = std::move(body);
  co_return r;
}

// A health answer's verdict: "ok"/"syncing" (HTTP 200), "degraded" (503),
// "http_<status>" or "protocol_error" (not a node's /health), or the
// connection failure's class.
std::string health_class(const HealthReport& r) {
  if (r.failure) return r.failure->label();
  if (r.http_status == 200 || r.http_status == 503) {
    if (!r.body || !r.body->contains("status") || !(*r.body)["status"].is_string()) return "protocol_error";
    return (*r.body)["status"].get<std::string>();
  }
  return "http_" + std::to_string(r.http_status);
}

bool health_ok(const HealthReport& r) {
  const auto c = health_class(r);
  return r.http_status == 200 && (c == "ok" || c == "syncing");
}

std::string json_text(const json& j, const char* key) {
  if (!j.contains(key)) return "-";
  const auto& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// One "label value" line when the document has `key`, none otherwise: an
// older node's /health lacks the newer fields.
void print_present(const json& j, const char* key, const std::string& label) {
  if (!j.contains(key) || j[key].is_null()) return;
  std::cout << "  " << col(label) << json_text(j, key) << "\n";
}

// Why the node is not ok, in its own words: /health's reason (degraded), or
// the error message of another HTTP status's JSON body. Empty if it gives none.
std::string node_reason(const HealthReport& r) {
  if (!r.body) return "";
  for (const char* key : {"reason", "error"})
    if (r.body->contains(key) && (*r.body)[key].is_string()) return (*r.body)[key].get<std::string>();
  return "";
}

}  // namespace

int cmd_health(const Settings& s) {
  auto timeout = parse_timeout(s.timeout);
  if (!timeout) return usage_error(timeout.error().message);
  auto target = parse_http_target(s.target);
  if (!target) return usage_error(target.error().message);

  asio::io_context io;
  auto reports = run_all<HealthReport>(io, 1, [&](std::size_t) { return fetch_health(*target, *timeout); });
  const auto& r = reports.front();
  const bool ok = health_ok(r);
  const auto verdict = health_class(r);

  if (s.json) {
    json j = {{"url", r.url}, {"ok", ok}, {"class", verdict}, {"ms", round_ms(r.ms)}};
    j["http_status"] = r.failure ? json(nullptr) : json(r.http_status);
    j["health"] = r.body ? *r.body : json(nullptr);
    if (r.failure) j["failure"] = failure_json(*r.failure);
    app::print_json(j);
  } else {
    std::cout << r.url << "\n";
    if (r.failure) {
      std::cout << "  " << col("result") << col(r.failure->label(), kClassWidth) << fmt_ms(r.ms) << "  "
                << r.failure->detail << "\n";
    } else {
      std::cout << "  " << col("http") << r.http_status << "  " << fmt_ms(r.ms) << "\n";
      if (r.body && (r.http_status == 200 || r.http_status == 503)) {
        const auto& b = *r.body;
        std::cout << "  " << col("status") << json_text(b, "status") << "\n";
        print_present(b, "reason", "reason");
        print_present(b, "network", "network");
        print_present(b, "version", "version");
        print_present(b, "protocol_version", "protocol");
        print_present(b, "node_id", "node id");
        print_present(b, "role", "role");
        std::cout << "  " << col("height") << json_text(b, "height") << "\n"
                  << "  " << col("tip") << json_text(b, "tip") << "\n";
        if (b.contains("peers") && b["peers"].is_object()) {
          const auto& p = b["peers"];
          std::cout << "  " << col("peers") << "inbound " << json_text(p, "inbound") << ", outbound "
                    << json_text(p, "outbound") << ", masternodes " << json_text(p, "masternodes") << "\n";
        }
        std::cout << "  " << col("syncing") << json_text(b, "syncing") << "\n"
                  << "  " << col("uptime") << json_text(b, "uptime_s") << " s\n";
      } else if (auto why = node_reason(r); !why.empty()) {
        std::cout << "  " << col("error") << why << "\n";
      }
      std::cout << "  " << col("result") << verdict << "\n";
    }
  }
  if (ok) return app::kOk;
  if (r.failure) return failure(r.url + ": " + r.failure->label() + ": " + r.failure->detail);
  if (verdict == "protocol_error")
    return failure(r.url + ": HTTP " + std::to_string(r.http_status) + " without a /health JSON document");
  const auto why = node_reason(r);
  return failure(r.url + ": " + verdict + (why.empty() ? "" : ": " + why) + " (HTTP " + std::to_string(r.http_status) +
                 ")");
}

}  // namespace tpeer_probe
