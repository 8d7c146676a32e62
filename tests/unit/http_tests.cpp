// libcore/http: routing, JSON responses and the admin guard. Pure: no
// sockets (the server itself is covered by integration/test_http_server.py).

#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

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
