#include "libcore/util/address.hpp"

#include <charconv>

#include "libcore/util/printable.hpp"

namespace core::util {

namespace {

// How much of a bad address an error quotes. The text may come from a peer
// (gossip, a served genesis): quoted through printable(), never raw.
constexpr std::size_t kMaxQuotedAddress = 128;

}  // namespace

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port) {
  auto bad = [&](const std::string& why) {
    return fail("bad address '" + printable(text, kMaxQuotedAddress) + "': " + why + " (expected host:port)");
  };
  if (text.empty()) return bad("empty");
  HostPort out;
  std::string_view port_text;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    out.host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':' after ']'");
      port_text = rest.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon)
      return bad("IPv6 addresses must be written in brackets, e.g. [::1]:24100");
    if (colon == std::string_view::npos) {
      out.host = std::string(text);
    } else {
      out.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
  }
  if (out.host.empty()) return bad("empty host");
  // Hostnames, IPv4 and IPv6 (with an optional %zone) need nothing else.
  for (char c : out.host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_' || c == ':' || c == '%';
    if (!ok) return bad("invalid character in host");
  }
  if (port_text.empty()) {
    if (default_port == 0) return bad("missing port");
    out.port = default_port;
    return out;
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size())
    return bad("port '" + printable(port_text, kMaxQuotedAddress) + "' is not a number");
  if (value == 0 || value > 65535) return bad("port " + std::to_string(value) + " out of range 1-65535");
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

}  // namespace core::util
