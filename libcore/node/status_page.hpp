#pragma once
// GET / of the node's HTTP port: one self-contained HTML document (inline
// CSS and JS, no external assets) that shows the node's /health, its /peers
// and a rolling log of what changed between refreshes. It only fetches
// /health and /peers, same origin, one request at a time, every 2 s (named
// in the page's script); everything the node or its peers sent is put into
// the DOM as text (textContent), never as markup.

#include <string_view>

#include "libcore/http/server.hpp"

namespace core::node {

// The HTML document, the same for every request. Thread-safe.
std::string_view status_page_html();

// The GET / answer: status 200, text/html; charset=utf-8, with Cache-Control:
// no-cache (the page changes with the binary), a Content-Security-Policy
// that allows only the inline script and style and same-origin fetches,
// X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer.
// Thread-safe.
http::Response status_page_response();

}  // namespace core::node
