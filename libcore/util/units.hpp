#pragma once
// Human units used in config files and flags: durations ("500ms", "10s",
// "2m", "1h", "1h30m") and sizes ("4MiB", "512KiB", "1000").

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "libcore/util/error.hpp"

namespace core::util {

using Millis = std::chrono::milliseconds;

// Parses a duration made of one or more <integer><unit> parts, unit one of
// ms, s, m, h, d. Fails on empty text, a missing unit, an unknown unit or
// overflow; the message quotes the text.
Result<Millis> parse_duration(std::string_view text);

// Formats a duration the way parse_duration reads it, shortest exact form
// ("10s", "2m", "1h30m", "250ms").
std::string format_duration(Millis d);

// Parses a byte size: a plain integer, or with unit B, KiB, MiB, GiB (1024
// based) or KB, MB, GB (1000 based).
Result<std::uint64_t> parse_size(std::string_view text);

}  // namespace core::util
