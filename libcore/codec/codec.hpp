#pragma once
// The canonical binary encoding: little-endian fixed-width integers, byte
// strings prefixed by a u32 length, fixed arrays raw. The Reader checks every
// length against what is left *and* an explicit caller-given bound before it
// allocates, so no input can make it read out of bounds or allocate without
// limit. One encoding per value: decoders reject trailing bytes (finish()).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "libcore/crypto/types.hpp"
#include "libcore/util/error.hpp"

namespace core::codec {

using Bytes = std::vector<std::uint8_t>;

class Writer {
 public:
  Writer& u8(std::uint8_t v);
  Writer& u16(std::uint16_t v);
  Writer& u32(std::uint32_t v);
  Writer& u64(std::uint64_t v);
  Writer& i64(std::int64_t v) { return u64(static_cast<std::uint64_t>(v)); }
  Writer& raw(std::span<const std::uint8_t> data);
  template <std::size_t N>
  Writer& fixed(const crypto::FixedBytes<N>& v) {
    return raw(v.bytes);
  }
  // u32 length, then the bytes.
  Writer& bytes(std::span<const std::uint8_t> data);
  Writer& str(std::string_view s);

  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}

  util::Result<std::uint8_t> u8();
  util::Result<std::uint16_t> u16();
  util::Result<std::uint32_t> u32();
  util::Result<std::uint64_t> u64();
  util::Result<std::int64_t> i64();
  template <std::size_t N>
  util::Result<crypto::FixedBytes<N>> fixed() {
    auto s = take(N, "fixed field");
    if (!s) return tl::unexpected(s.error());
    return crypto::FixedBytes<N>::from_span(*s);
  }
  // A length-prefixed byte string of at most max_len bytes.
  util::Result<Bytes> bytes(std::size_t max_len);
  util::Result<std::string> str(std::size_t max_len);
  // A u32 element count, checked against max_count and against the bytes
  // left (each element needs at least min_element_size bytes).
  util::Result<std::uint32_t> count(std::uint32_t max_count, std::size_t min_element_size);

  std::size_t remaining() const { return in_.size() - pos_; }
  std::size_t position() const { return pos_; }
  // Fails when bytes are left over: every value has exactly one encoding.
  util::Result<void> finish() const;

 private:
  util::Result<std::span<const std::uint8_t>> take(std::size_t n, const char* what);
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

}  // namespace core::codec
