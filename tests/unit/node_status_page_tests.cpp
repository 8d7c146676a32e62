// libcore/node/status_page: GET / is one self-contained HTML document that
// fetches only the node's own /health and /peers and writes what they say
// as text, never as markup.

#include <string>

#include <catch2/catch.hpp>

#include "libcore/node/status_page.hpp"

using core::node::status_page_html;
using core::node::status_page_response;

namespace {

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("the status page is HTML with the headers of a page that changes with the binary", "[unit][node]") {
  auto r = status_page_response();
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/html; charset=utf-8");
  CHECK(r.body == std::string(status_page_html()));
  CHECK(r.headers.at("Cache-Control") == "no-cache");
  CHECK(r.headers.at("X-Content-Type-Options") == "nosniff");
  const auto csp = r.headers.at("Content-Security-Policy");
  CHECK(has(csp, "default-src 'none'"));
  CHECK(has(csp, "connect-src 'self'"));
}

TEST_CASE("the status page is self-contained and reads only /health and /peers", "[unit][node]") {
  const std::string page(status_page_html());
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(has(page, "</html>"));
  // No external assets: nothing is loaded from another origin or file.
  CHECK_FALSE(has(page, "http://"));
  CHECK_FALSE(has(page, "https://"));
  CHECK_FALSE(has(page, "src="));
  CHECK_FALSE(has(page, "@import"));
  CHECK_FALSE(has(page, "url("));
  // Same-origin GETs of existing endpoints, and no markup from data.
  CHECK(has(page, "getJson(\"/health\", [200, 503])"));
  CHECK(has(page, "getJson(\"/peers\", [200])"));
  CHECK_FALSE(has(page, "innerHTML"));
  CHECK_FALSE(has(page, "outerHTML"));
  CHECK_FALSE(has(page, "insertAdjacentHTML"));
  CHECK_FALSE(has(page, "document.write"));
  CHECK_FALSE(has(page, "eval("));
  CHECK_FALSE(has(page, "method:"));
  // The stable ids the integration test and operators' scripts read.
  for (const char* id : {"status", "reason", "network", "node-id", "role", "height", "tip", "version", "uptime",
                         "peer-count", "peer-rows", "changes"})
    CHECK(has(page, std::string("id=\"") + id + "\""));
}
