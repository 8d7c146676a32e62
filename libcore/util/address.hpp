#pragma once
// "host:port" endpoints as written in configs and on command lines.

#include <cstdint>
#include <string>
#include <string_view>

#include "libcore/util/error.hpp"

namespace core::util {

struct HostPort {
  std::string host;  // IPv4, hostname, or IPv6 without brackets
  std::uint16_t port = 0;

  std::string to_string() const;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// Parses "host:port", "[v6]:port", or just "host" when default_port is given
// (non-zero). Fails naming the text: missing port, port out of 1..65535, empty host,
// a host character outside letters, digits and ".-_:%" (so no parsed host holds a
// control character). The text is quoted through util::printable, bounded.
Result<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port = 0);

}  // namespace core::util
