#pragma once
// Private helper for the TOML readers (genesis, node config): strict field
// access that names the file, the key and what is wrong. Include only from
// .cpp files: it pulls in toml++.

#include <set>
#include <string>
#include <string_view>
#include <utility>

#include <toml++/toml.h>

#include "libcore/util/error.hpp"

namespace core::util {

// toml++ 3.3 reaches TOML_UNREACHABLE (undefined behaviour) when it tests
// some non-ASCII code points (e.g. U+00A1..U+0499) for whitespace, which it
// does even inside strings while reporting an error (found by
// fuzz_genesis_toml). Genesis and config files are therefore ASCII-only; the
// first other byte is refused here, before toml++ sees it. Returns its 1-based
// line and column, or {0, 0}.
inline std::pair<std::size_t, std::size_t> find_non_ascii(std::string_view text) {
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) >= 0x80) return {line, i - line_start + 1};
    if (text[i] == '\n') ++line, line_start = i + 1;
  }
  return {0, 0};
}

// Parses TOML text; a syntax error names source:line:column.
inline Result<toml::table> parse_toml(std::string_view text, const std::string& source) {
  if (auto [line, col] = find_non_ascii(text); line != 0)
    return fail(source + ":" + std::to_string(line) + ":" + std::to_string(col) +
                ": non-ASCII character; genesis and config files must be plain ASCII");
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return fail(source + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                ": TOML syntax error: " + std::string(e.description()));
  }
}

// Fails on the first key of `table` not in `allowed`, naming it as
// "<source>: unknown key '<prefix><key>'".
inline Result<void> reject_unknown_keys(const toml::table& table, const std::set<std::string>& allowed,
                                        const std::string& source, const std::string& prefix) {
  for (const auto& [key, value] : table) {
    (void)value;
    if (!allowed.count(std::string(key.str())))
      return fail(source + ": unknown key '" + prefix + std::string(key.str()) + "'");
  }
  return {};
}

inline std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

// Reads an optional typed field; a present field of the wrong type fails
// naming source, key, the expected and the actual type.
template <typename T>
Result<std::optional<T>> optional_field(const toml::table& t, std::string_view key, const std::string& source,
                                        const std::string& prefix) {
  const toml::node* n = t.get(key);
  if (!n) return std::optional<T>();
  if (auto v = n->value_exact<T>()) return std::optional<T>(*v);
  std::string expected = std::is_same_v<T, std::string> ? "a string"
                         : std::is_same_v<T, bool>      ? "a boolean"
                                                        : "an integer";
  return fail(source + ": key '" + prefix + std::string(key) + "' must be " + expected + ", not " + type_name(*n));
}

}  // namespace core::util
