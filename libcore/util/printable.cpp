#include "libcore/util/printable.hpp"

#include <cassert>

namespace core::util {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// The escape of one byte that is not kept as it is ("\n", "\x1b").
void append_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      out += "\\x";
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0x0f];
  }
}

bool is_printable_ascii(unsigned char c) { return c >= 0x20 && c <= 0x7e; }

// printable(): how many bytes byte `c` takes once escaped.
std::size_t escaped_size(unsigned char c) {
  if (c == '\\') return 2;
  if (is_printable_ascii(c)) return 1;
  if (c == '\n' || c == '\r' || c == '\t') return 2;
  return 4;
}

void append_printable(std::string& out, unsigned char c) {
  if (c == '\\')
    out += "\\\\";
  else if (is_printable_ascii(c))
    out += static_cast<char>(c);
  else
    append_escape(out, c);
}

// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF) that starts at s[i], or 0
// if none does. ASCII bytes are sequences of one.
std::size_t utf8_sequence_at(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  return n;
}

// one_line(): whether the sequence of `n` bytes at s[i] is kept as it is.
bool kept_on_one_line(std::string_view s, std::size_t i, std::size_t n) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (n == 1) return c >= 0x20 && c != 0x7f;
  // C1 controls U+0080-U+009F are 0xc2 0x80-0x9f: a terminal may obey them.
  return !(n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) <= 0x9f);
}

}  // namespace

std::string printable(std::string_view s, std::size_t max_bytes) {
  assert(max_bytes >= kCutMarker.size());
  std::size_t total = 0;
  for (char c : s) total += escaped_size(static_cast<unsigned char>(c));
  std::string out;
  if (total <= max_bytes) {
    out.reserve(total);
    for (char c : s) append_printable(out, static_cast<unsigned char>(c));
    return out;
  }
  const std::size_t room = max_bytes - kCutMarker.size();
  out.reserve(max_bytes);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (out.size() + escaped_size(u) > room) break;
    append_printable(out, u);
  }
  out += kCutMarker;
  return out;
}

bool is_one_line(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_at(s, i);
    if (n == 0 || !kept_on_one_line(s, i, n)) return false;
    i += n;
  }
  return true;
}

std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_at(s, i);
    if (n != 0 && kept_on_one_line(s, i, n)) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    // An invalid byte is escaped alone, so the next one may start a valid
    // sequence; a C1 control is escaped byte by byte.
    const std::size_t escaped = n == 0 ? 1 : n;
    for (std::size_t k = 0; k < escaped; ++k) append_escape(out, static_cast<unsigned char>(s[i + k]));
    i += escaped;
  }
  return out;
}

}  // namespace core::util
