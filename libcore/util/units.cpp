#include "libcore/util/units.hpp"

#include <cctype>
#include <limits>
#include <utility>

namespace core::util {

namespace {
constexpr std::int64_t kMaxMillis = std::numeric_limits<std::int64_t>::max() / 2;

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }
}  // namespace

Result<Millis> parse_duration(std::string_view text) {
  if (text.empty()) return fail("empty duration (expected e.g. '10s', '2m', '500ms')");
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])))
      return fail("bad duration " + quoted(text) + ": expected a number at position " + std::to_string(i) +
                  " (e.g. '10s', '2m', '500ms')");
    std::int64_t value = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (value > (kMaxMillis - (text[i] - '0')) / 10) return fail("duration " + quoted(text) + " is too large");
      value = value * 10 + (text[i] - '0');
      ++i;
    }
    std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    std::int64_t scale = 0;
    if (unit == "ms")
      scale = 1;
    else if (unit == "s")
      scale = 1000;
    else if (unit == "m")
      scale = 60'000;
    else if (unit == "h")
      scale = 3'600'000;
    else if (unit == "d")
      scale = 86'400'000;
    else if (unit.empty())
      return fail("bad duration " + quoted(text) + ": missing unit (one of ms, s, m, h, d)");
    else
      return fail("bad duration " + quoted(text) + ": unknown unit '" + std::string(unit) +
                  "' (one of ms, s, m, h, d)");
    if (value > kMaxMillis / scale) return fail("duration " + quoted(text) + " is too large");
    total += value * scale;
    if (total > kMaxMillis) return fail("duration " + quoted(text) + " is too large");
  }
  return Millis(total);
}

std::string format_duration(Millis d) {
  const std::int64_t raw = d.count();
  if (raw == 0) return "0s";
  std::string out = raw < 0 ? "-" : "";
  // Magnitude in unsigned arithmetic: -INT64_MIN does not fit in int64.
  std::uint64_t ms = raw < 0 ? 0 - static_cast<std::uint64_t>(raw) : static_cast<std::uint64_t>(raw);
  static constexpr std::pair<std::uint64_t, const char*> kUnits[] = {
      {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (auto [scale, name] : kUnits) {
    if (ms >= scale) {
      out += std::to_string(ms / scale) + name;
      ms %= scale;
    }
  }
  return out;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  if (text.empty()) return fail("empty size (expected e.g. '4MiB', '65536')");
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    // Checked before the step: "18446744073709551616" must not wrap to 0.
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
      return fail("size " + quoted(text) + " is too large");
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return fail("bad size " + quoted(text) + ": expected a number first");
  std::string_view unit = text.substr(i);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "KiB")
    scale = 1ull << 10;
  else if (unit == "MiB")
    scale = 1ull << 20;
  else if (unit == "GiB")
    scale = 1ull << 30;
  else if (unit == "KB")
    scale = 1000;
  else if (unit == "MB")
    scale = 1000'000;
  else if (unit == "GB")
    scale = 1000'000'000;
  else
    return fail("bad size " + quoted(text) + ": unknown unit '" + std::string(unit) +
                "' (one of B, KiB, MiB, GiB, KB, MB, GB)");
  if (value > std::numeric_limits<std::uint64_t>::max() / scale) return fail("size " + quoted(text) + " is too large");
  return value * scale;
}

}  // namespace core::util
