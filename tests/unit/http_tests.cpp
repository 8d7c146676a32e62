// libcore/http: routing, JSON responses, the admin guard and admission (who
// gets a connection slot). Pure: no sockets (the server itself is covered by
// integration/test_http_server.py and test_hostile_http_abuse.py).

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libcore/http/admission.hpp"
#include "libcore/http/server.hpp"

using core::http::Request;
using core::http::Response;
using core::http::Router;
using nlohmann::json;

namespace {

Request request(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.target = path;
  r.path = std::move(path);
  r.remote_address = "127.0.0.1";
  r.remote_is_loopback = true;
  return r;
}

Response text(std::string body) {
  Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

Router sample_router() {
  Router router;
  router.add("GET", "/health", [](const Request&) { return text("health"); });
  router.add("GET", "/chain/tip", [](const Request&) { return text("tip"); });
  router.add("GET", "/chain/block/{id}", [](const Request& r) { return text("block " + r.params.at("id")); });
  router.add("GET", "/chain/block/latest", [](const Request&) { return text("latest"); });
  router.add("POST", "/admin/ban", [](const Request&) { return text("ban"); });
  router.add("DELETE", "/admin/ban", [](const Request&) { return text("unban"); });
  return router;
}

}  // namespace

// --------------------------------------------------------------------- router

TEST_CASE("http::Router dispatches exact paths by method", "[unit][http]") {
  auto router = sample_router();
  auto r = router.handle(request("GET", "/health"));
  CHECK(r.status == 200);
  CHECK(r.body == "health");
  CHECK(router.handle(request("POST", "/admin/ban")).body == "ban");
  CHECK(router.handle(request("DELETE", "/admin/ban")).body == "unban");
}

TEST_CASE("http::Router fills the trailing parameter", "[unit][http]") {
  auto router = sample_router();
  CHECK(router.handle(request("GET", "/chain/block/42")).body == "block 42");
  CHECK(router.handle(request("GET", "/chain/block/00ff")).body == "block 00ff");
  // An exact route wins over the parameter route.
  CHECK(router.handle(request("GET", "/chain/block/latest")).body == "latest");
  // The parameter is one non-empty segment.
  CHECK(router.handle(request("GET", "/chain/block/")).status == 404);
  CHECK(router.handle(request("GET", "/chain/block")).status == 404);
  CHECK(router.handle(request("GET", "/chain/block/1/2")).status == 404);
}

TEST_CASE("http::Router answers 404 with the path for unknown paths", "[unit][http]") {
  auto router = sample_router();
  auto r = router.handle(request("GET", "/nope"));
  CHECK(r.status == 404);
  CHECK(r.content_type == "application/json");
  auto body = json::parse(r.body);
  CHECK(body["error"] == "not found");
  CHECK(body["path"] == "/nope");
  CHECK(router.handle(request("GET", "/health/")).status == 404);
  CHECK(router.handle(request("GET", "/")).status == 404);
}

TEST_CASE("http::Router answers 405 with Allow for a known path and another method", "[unit][http]") {
  auto router = sample_router();
  auto r = router.handle(request("PUT", "/admin/ban"));
  CHECK(r.status == 405);
  CHECK(r.headers.at("Allow") == "DELETE, POST");
  CHECK(json::parse(r.body)["error"] == "method not allowed");
  auto p = router.handle(request("POST", "/chain/block/7"));
  CHECK(p.status == 405);
  CHECK(p.headers.at("Allow") == "GET");
}

TEST_CASE("http::Router turns a throwing handler into 500", "[unit][http]") {
  Router router;
  router.add("GET", "/boom", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  auto r = router.handle(request("GET", "/boom"));
  CHECK(r.status == 500);
  CHECK(json::parse(r.body)["error"] == "internal error");
}

TEST_CASE("http::json_response and error_response", "[unit][http]") {
  auto r = core::http::json_response(201, json{{"a", 1}});
  CHECK(r.status == 201);
  CHECK(r.content_type == "application/json");
  CHECK(r.body == R"({"a":1})");
  // Invalid UTF-8 (e.g. from a peer's user agent) is replaced, not thrown.
  auto bad = core::http::json_response(200, json{{"s", std::string("\xff")}});
  CHECK(json::parse(bad.body)["s"] == "\xEF\xBF\xBD");
  auto e = core::http::error_response(400, "bad height");
  CHECK(e.status == 400);
  CHECK(json::parse(e.body) == json{{"error", "bad height"}});
}

// ---------------------------------------------------------------- admin guard

TEST_CASE("http::require_admin refuses unless loopback, configured and presented", "[unit][http]") {
  using core::http::require_admin;
  const std::string token = "s3cret-token";
  int calls = 0;
  auto handler = [&](const Request&) {
    ++calls;
    return text("done");
  };
  auto reason = [](const Response& r) { return json::parse(r.body)["reason"].get<std::string>(); };

  auto good = request("POST", "/admin/ban");
  good.authorization = "Bearer " + token;

  SECTION("right token from loopback passes") {
    auto r = require_admin(good, token, handler);
    CHECK(r.status == 200);
    CHECK(r.body == "done");
    CHECK(calls == 1);
    auto lower = good;
    lower.authorization = "bearer " + token;
    CHECK(require_admin(lower, token, handler).status == 200);
  }
  SECTION("non-loopback is refused even with the right token") {
    auto remote = good;
    remote.remote_address = "10.0.0.5";
    remote.remote_is_loopback = false;
    auto r = require_admin(remote, token, handler);
    CHECK(r.status == 403);
    CHECK(json::parse(r.body)["error"] == "forbidden");
    CHECK_THAT(reason(r), Catch::Contains("loopback"));
    CHECK(calls == 0);
  }
  SECTION("no configured token refuses everything") {
    auto r = require_admin(good, "", handler);
    CHECK(r.status == 403);
    CHECK_THAT(reason(r), Catch::Contains("admin_token"));
    auto empty = good;
    empty.authorization = "Bearer ";
    CHECK(require_admin(empty, "", handler).status == 403);
    CHECK(calls == 0);
  }
  SECTION("missing or wrong token is refused") {
    auto none = good;
    none.authorization.clear();
    CHECK(require_admin(none, token, handler).status == 403);
    CHECK_THAT(reason(require_admin(none, token, handler)), Catch::Contains("missing"));
    for (std::string wrong : {"Bearer s3cret-tokeN", "Bearer s3cret", "Bearer s3cret-token-and-more", "Bearer ",
                              "Basic s3cret-token", "s3cret-token"}) {
      auto w = good;
      w.authorization = wrong;
      CAPTURE(wrong);
      CHECK(require_admin(w, token, handler).status == 403);
    }
    CHECK(calls == 0);
  }
}
// ------------------------------------------------------------------ admission

namespace {

using core::http::Admission;
using core::http::OpenConnection;
using core::http::Phase;
using Verdict = Admission::Verdict;
using Clock = std::chrono::steady_clock;

const Clock::time_point kT0{};

OpenConnection conn(std::uint64_t id, std::string source, Phase phase = Phase::Headers, int since_ms = 0) {
  return OpenConnection{id, std::move(source), phase, kT0 + std::chrono::milliseconds(since_ms)};
}

// `count` connections from `source`, ids from `first_id`, all in `phase`,
// each one millisecond younger than the one before.
void add(std::vector<OpenConnection>& open, const std::string& source, int count, std::uint64_t first_id,
         Phase phase = Phase::Headers) {
  for (int i = 0; i < count; ++i)
    open.push_back(conn(first_id + static_cast<std::uint64_t>(i), source, phase, 100 + i));
}

Admission evicting(std::uint64_t id) { return {Verdict::AdmitEvicting, id}; }

}  // namespace

TEST_CASE("http::admit admits while there is room and the source is under its cap", "[unit][http]") {
  using core::http::admit;
  std::vector<OpenConnection> open;
  CHECK(admit(open, "10.0.0.1", 4, 2) == Admission{Verdict::Admit});
  add(open, "10.0.0.1", 1, 1);
  CHECK(admit(open, "10.0.0.1", 4, 2) == Admission{Verdict::Admit});
  add(open, "10.0.0.2", 1, 2);
  CHECK(admit(open, "10.0.0.3", 4, 2) == Admission{Verdict::Admit});
}

TEST_CASE("http::admit refuses a source at its cap, full or not", "[unit][http]") {
  using core::http::admit;
  std::vector<OpenConnection> open;
  add(open, "10.0.0.1", 2, 1);
  CHECK(admit(open, "10.0.0.1", 10, 2) == Admission{Verdict::RefusePerSource});
  add(open, "10.0.0.2", 1, 10);
  // Full as well: the per-source cap is the reason given.
  CHECK(admit(open, "10.0.0.1", 3, 2) == Admission{Verdict::RefusePerSource});
  // A cap of one.
  CHECK(admit(open, "10.0.0.2", 10, 1) == Admission{Verdict::RefusePerSource});
  CHECK(admit(open, "10.0.0.3", 10, 1) == Admission{Verdict::Admit});
}

TEST_CASE("http::admit: when full, a newcomer from another address takes a slot of the most crowded one",
          "[unit][http]") {
  using core::http::admit;
  std::vector<OpenConnection> open;
  add(open, "10.0.0.1", 5, 1);
  add(open, "10.0.0.2", 3, 10);
  // The most crowded source loses its longest-waiting connection.
  CHECK(admit(open, "192.0.2.9", 8, 8) == evicting(1));
  // The newcomer's own source counts: 10.0.0.2 (3) only gets a slot from a
  // source holding at least 5.
  CHECK(admit(open, "10.0.0.2", 8, 8) == evicting(1));
  open.pop_back();  // 10.0.0.2 now holds 2, 10.0.0.1 still 5
  open.push_back(conn(20, "10.0.0.3", Phase::Idle, 50));
  CHECK(admit(open, "10.0.0.2", 8, 8) == evicting(1));
}

TEST_CASE("http::admit never trades slots between sources of nearly equal size", "[unit][http]") {
  using core::http::admit;
  std::vector<OpenConnection> open;
  add(open, "10.0.0.1", 4, 1);
  add(open, "10.0.0.2", 3, 10);
  add(open, "10.0.0.3", 1, 20);
  // 10.0.0.2 would hold 4 after a swap, as many as 10.0.0.1 holds now: the
  // spread would not even out, so no.
  CHECK(admit(open, "10.0.0.2", 8, 8) == Admission{Verdict::RefuseFull});
  // 10.0.0.3 (1) may take from 10.0.0.1 (4), and a new source from either.
  CHECK(admit(open, "10.0.0.3", 8, 8) == evicting(1));
  CHECK(admit(open, "10.0.0.9", 8, 8) == evicting(1));
  // Everyone holds one: a newcomer cannot take anyone's only slot.
  std::vector<OpenConnection> singles;
  for (int i = 0; i < 4; ++i) singles.push_back(conn(static_cast<std::uint64_t>(i + 1), "10.1.0." + std::to_string(i)));
  CHECK(admit(singles, "10.2.0.1", 4, 8) == Admission{Verdict::RefuseFull});
}

TEST_CASE("http::admit prefers a connection waiting on its client, the longest waiting first", "[unit][http]") {
  using core::http::admit;
  std::vector<OpenConnection> open = {
      conn(1, "10.0.0.1", Phase::Responding, 0),  // oldest, but writing a response: never
      conn(2, "10.0.0.1", Phase::Body, 10),       // sending a body: only when nothing waits
      conn(3, "10.0.0.1", Phase::Headers, 300),   // a slow request
      conn(4, "10.0.0.1", Phase::Idle, 200),      // idle keep-alive, waiting longer
      conn(5, "10.0.0.2", Phase::Idle, 0),
  };
  CHECK(admit(open, "10.0.0.9", 5, 8) == evicting(4));
  open[3].since = kT0 + std::chrono::milliseconds(400);
  CHECK(admit(open, "10.0.0.9", 5, 8) == evicting(3));
  open[2].phase = Phase::Responding;
  open[3].phase = Phase::Responding;
  CHECK(admit(open, "10.0.0.9", 5, 8) == evicting(2));
  open[1].phase = Phase::Responding;
  // Every connection of the most crowded source is being answered: the
  // next source is too small to give one up (it holds one).
  CHECK(admit(open, "10.0.0.9", 5, 8) == Admission{Verdict::RefuseFull});
}

TEST_CASE("http::admit falls back to the next crowded source when the most crowded is all responding", "[unit][http]") {
  using core::http::admit;
  std::vector<OpenConnection> open;
  add(open, "10.0.0.1", 4, 1, Phase::Responding);
  add(open, "10.0.0.2", 3, 10, Phase::Idle);
  CHECK(admit(open, "10.0.0.9", 7, 8) == evicting(10));
  // Among equally crowded sources, the longest-waiting connection goes.
  std::vector<OpenConnection> tie = {conn(1, "10.0.0.1", Phase::Headers, 50), conn(2, "10.0.0.1", Phase::Headers, 60),
                                     conn(3, "10.0.0.2", Phase::Headers, 20), conn(4, "10.0.0.2", Phase::Headers, 70)};
  CHECK(admit(tie, "10.0.0.9", 4, 8) == evicting(3));
  // Same age: the lower id.
  tie[0].since = tie[2].since;
  CHECK(admit(tie, "10.0.0.9", 4, 8) == evicting(1));
}

TEST_CASE("http::admit over a server full of slowloris from a few addresses keeps a slot for another one",
          "[unit][http]") {
  using core::http::admit;
  // 128 slots, 8 per source: 16 attacking sources fill the server.
  std::vector<OpenConnection> open;
  std::uint64_t id = 1;
  for (int s = 0; s < 16; ++s, id += 8) add(open, "127.0.0." + std::to_string(s + 2), 8, id);
  REQUIRE(open.size() == 128);
  const auto monitor = admit(open, "127.0.0.1", 128, 8);
  CHECK(monitor.verdict == Verdict::AdmitEvicting);
  CHECK(monitor.evict != 0);
  // An attacking source at its cap gets nothing.
  CHECK(admit(open, "127.0.0.2", 128, 8) == Admission{Verdict::RefusePerSource});
}

TEST_CASE("http::source_key groups IPv6 by /64 and unmaps IPv4", "[unit][http]") {
  using core::http::source_key;
  CHECK(source_key("192.0.2.7") == "192.0.2.7");
  CHECK(source_key("127.0.0.1") == "127.0.0.1");
  CHECK(source_key("::ffff:192.0.2.7") == "192.0.2.7");
  CHECK(source_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64");
  CHECK(source_key("2001:db8:1:2::1") == source_key("2001:db8:1:2:ffff::9"));
  CHECK(source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1"));
  CHECK(source_key("::1") == "::/64");
  CHECK(source_key("not an address") == "not an address");
  CHECK(source_key("") == "");
}
