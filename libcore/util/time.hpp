#pragma once
// Wall-clock time as milliseconds since the Unix epoch, and RFC 3339 text.

#include <cstdint>
#include <string>
#include <string_view>

#include "libcore/util/error.hpp"

namespace core::util {

using UnixMillis = std::int64_t;

// Current wall-clock time. Any thread.
UnixMillis now_ms();

// Parses "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)". Fails naming the text.
Result<UnixMillis> parse_rfc3339(std::string_view text);

// Formats as "YYYY-MM-DDTHH:MM:SSZ" (with ".mmm" when not a whole second), UTC.
std::string format_rfc3339(UnixMillis t);

}  // namespace core::util
