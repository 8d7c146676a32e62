#pragma once
// FieldReader: the one idiom for strict decoding. A decoder is a flat list of
// named fields read over a codec::Reader rather than an if per line:
//
//   FieldReader in(payload, "ping");
//   Ping m;
//   in.u64("nonce", m.nonce);
//   return in.finish(m);
//
// What it promises:
// - Every error names the record and the field: "<record>: <field>: <reason>",
//   e.g. "hello: network: length 70 at offset 8 exceeds the limit of 64"; the
//   reason is codec::Reader's (or the decode function's) message. What
//   belongs to no single field reads "<record>: <reason>": trailing bytes
//   ("block header: 1 unexpected trailing bytes at offset 200") and the
//   record-wide rules of check(), whose messages name what they checked.
// - The first error sticks. After it every read, require() and check() is a
//   no-op that leaves its target as it was (a count stays 0, so a loop over
//   it stops), and result() and finish() return that first error.
// - Bounds are codec::Reader's: a length or count is checked against its
//   limit and against the bytes left before anything is allocated, so no
//   input reads out of bounds or allocates without limit.
// - finish() refuses bytes after the last field: every value has exactly one
//   encoding.
//
// The record and field names are not copied: pass strings that outlive the
// call (literals, or a std::string that lives through the statement). A
// FieldReader is a local of one decoding function; it is not thread-safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "libcore/codec/codec.hpp"
#include "libcore/crypto/types.hpp"
#include "libcore/util/error.hpp"

namespace core::codec {

class FieldReader {
 public:
  // Reads `in`, a whole record called `record` in errors.
  FieldReader(std::span<const std::uint8_t> in, std::string_view record) : own_(in), r_(own_), record_(record) {}
  // Reads a record embedded in a longer input: each field advances `in`
  // (which must outlive this reader), and result() leaves what follows the
  // record to the caller.
  FieldReader(Reader& in, std::string_view record) : own_({}), r_(in), record_(record) {}
  FieldReader(const FieldReader&) = delete;
  FieldReader& operator=(const FieldReader&) = delete;

  // Decodes one field with `decode(codec::Reader&) -> util::Result<U>`, U
  // assignable to T: the generic form of the readers below, for nested
  // records and domain types (enums with a closed set of values).
  template <typename T, typename Decode>
  FieldReader& read(std::string_view field, T& out, Decode&& decode) {
    if (error_) return *this;
    auto v = std::forward<Decode>(decode)(r_);
    if (!v)
      fail(field, v.error().message);
    else
      out = std::move(*v);
    return *this;
  }

  FieldReader& u8(std::string_view field, std::uint8_t& out);
  FieldReader& u16(std::string_view field, std::uint16_t& out);
  FieldReader& u32(std::string_view field, std::uint32_t& out);
  FieldReader& u64(std::string_view field, std::uint64_t& out);
  FieldReader& i64(std::string_view field, std::int64_t& out);
  template <std::size_t N>
  FieldReader& fixed(std::string_view field, crypto::FixedBytes<N>& out) {
    return read(field, out, [](Reader& r) { return r.template fixed<N>(); });
  }
  // A length-prefixed string or byte string of at most max_len bytes.
  FieldReader& str(std::string_view field, std::string& out, std::size_t max_len);
  FieldReader& bytes(std::string_view field, Bytes& out, std::size_t max_len);
  // A u32 element count of at most max_count, each element at least
  // min_element_size bytes (Reader::count).
  FieldReader& count(std::string_view field, std::uint32_t& out, std::uint32_t max_count, std::size_t min_element_size);

  // A semantic rule on a field already read: "<record>: <field>: <what>".
  FieldReader& require(bool ok, std::string_view field, std::string_view what);

  // A rule over the record (a format version, a validation of the whole
  // value), run only while there is no error: `rule() -> util::Result<void>`.
  // Its message names what it checked: "<record>: <message>".
  template <typename Rule>
  FieldReader& check(Rule&& rule) {
    if (error_) return *this;
    if (util::Result<void> r = std::forward<Rule>(rule)(); !r) fail(r.error().message);
    return *this;
  }

  // The record ends here: refuses bytes left over,
  // "<record>: N unexpected trailing bytes at offset X".
  FieldReader& expect_end();

  // No error so far.
  bool ok() const { return !error_; }
  // Bytes left to read: a record whose newer version appends an optional
  // last field reads it only when some are.
  std::size_t remaining() const { return r_.remaining(); }

  // The value, or the first error.
  template <typename T>
  util::Result<T> result(T value) const {
    if (error_) return tl::unexpected(*error_);
    return value;
  }

  // expect_end(), then result(value): the last line of a decoder of a whole input.
  template <typename T>
  util::Result<T> finish(T value) {
    expect_end();
    return result(std::move(value));
  }

 private:
  void fail(std::string_view field, std::string_view reason);
  void fail(std::string_view reason);

  Reader own_;  // the span constructor's input; unused when reading a borrowed Reader
  Reader& r_;
  std::string_view record_;
  std::optional<util::Error> error_;
};

}  // namespace core::codec
