#pragma once
// Text from outside made safe for one log line (DESIGN.md section 11: "a
// newline in a detail can never forge a log line"). Two strengths:
//
//   printable(s, max)  for text a peer (or a file) chose: printable ASCII
//                      only, backslash escaped, bounded. Applied once, where
//                      the text enters the node.
//   one_line(s)        for a whole formatted log message (the log sink):
//                      control characters and invalid UTF-8 escaped, nothing
//                      else touched, so printable() text passes unchanged.
//
// Both are pure and may be called from any thread.

#include <cstddef>
#include <string>
#include <string_view>

namespace core::util {

// What text cut by printable() ends with: a backslash and three dots.
// Read from the left, every backslash printable() writes starts an escape
// whose next character is '\\', 'n', 'r', 't' or 'x' ("\\", "\n", "\xNN"),
// never '.', so the marker cannot come from the text itself.
inline constexpr std::string_view kCutMarker = "\\...";

// `s` as printable ASCII of at most `max_bytes` bytes. Bytes 0x20-0x7e are
// kept, except the backslash, written "\\"; newline, carriage return and tab
// are written "\n", "\r", "\t"; every other byte (controls, ESC, DEL, and
// every byte >= 0x80, UTF-8 or not) is written "\xNN" (lower-case hex).
// When the escaped text is longer than `max_bytes` it is cut after a whole
// escape and ends with kCutMarker, the whole still at most `max_bytes`.
// Escaping is reversible: text already printable ASCII without a backslash
// comes back unchanged, but a second pass doubles each backslash (it is not
// idempotent, so an escape can always be told from the text it escaped).
// Precondition: max_bytes >= kCutMarker.size().
std::string printable(std::string_view s, std::size_t max_bytes);

// `s` with every ASCII control character (0x00-0x1f, including newline, CR,
// tab and ESC), DEL, every C1 control (U+0080-U+009F) and every byte that is
// not part of well-formed UTF-8 escaped as printable() writes them ("\n",
// "\x1b", "\xc2\x9b", "\xff"). Backslashes and other valid UTF-8 are kept,
// so the result holds no line break and no terminal control and is valid
// UTF-8. Idempotent: one_line(one_line(s)) == one_line(s), and
// one_line(printable(s, n)) == printable(s, n). Not bounded: the sink logs
// messages the code wrote, whose peer-supplied parts are already bounded.
std::string one_line(std::string_view s);

// Whether one_line(s) == s (no allocation): the sink's fast path.
bool is_one_line(std::string_view s);

}  // namespace core::util
