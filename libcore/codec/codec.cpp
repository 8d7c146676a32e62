#include "libcore/codec/codec.hpp"

namespace core::codec {

Writer& Writer::u8(std::uint8_t v) {
  out_.push_back(v);
  return *this;
}
Writer& Writer::u16(std::uint16_t v) {
  for (int i = 0; i < 2; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  return *this;
}
Writer& Writer::u32(std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  return *this;
}
Writer& Writer::u64(std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  return *this;
}
Writer& Writer::raw(std::span<const std::uint8_t> data) {
  out_.insert(out_.end(), data.begin(), data.end());
  return *this;
}
Writer& Writer::bytes(std::span<const std::uint8_t> data) {
  u32(static_cast<std::uint32_t>(data.size()));
  return raw(data);
}
Writer& Writer::str(std::string_view s) {
  return bytes(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

util::Result<std::span<const std::uint8_t>> Reader::take(std::size_t n, const char* what) {
  if (n > remaining())
    return util::fail(std::string("truncated input: ") + what + " needs " + std::to_string(n) + " bytes at offset " +
                      std::to_string(pos_) + ", only " + std::to_string(remaining()) + " left");
  auto s = in_.subspan(pos_, n);
  pos_ += n;
  return s;
}

namespace {
template <typename T>
T little_endian(std::span<const std::uint8_t> s) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<T>(s[i]) << (8 * i));
  return v;
}
}  // namespace

util::Result<std::uint8_t> Reader::u8() {
  return take(1, "u8").map([](auto s) { return s[0]; });
}
util::Result<std::uint16_t> Reader::u16() { return take(2, "u16").map(little_endian<std::uint16_t>); }
util::Result<std::uint32_t> Reader::u32() { return take(4, "u32").map(little_endian<std::uint32_t>); }
util::Result<std::uint64_t> Reader::u64() { return take(8, "u64").map(little_endian<std::uint64_t>); }
util::Result<std::int64_t> Reader::i64() {
  return u64().map([](std::uint64_t v) { return static_cast<std::int64_t>(v); });
}

util::Result<Bytes> Reader::bytes(std::size_t max_len) {
  auto len = u32();
  if (!len) return tl::unexpected(len.error());
  if (*len > max_len)
    return util::fail("length " + std::to_string(*len) + " at offset " + std::to_string(pos_ - 4) +
                      " exceeds the limit of " + std::to_string(max_len));
  auto s = take(*len, "byte string");
  if (!s) return tl::unexpected(s.error());
  return Bytes(s->begin(), s->end());
}

util::Result<std::string> Reader::str(std::size_t max_len) {
  return bytes(max_len).map([](const Bytes& b) { return std::string(b.begin(), b.end()); });
}

util::Result<std::uint32_t> Reader::count(std::uint32_t max_count, std::size_t min_element_size) {
  auto n = u32();
  if (!n) return tl::unexpected(n.error());
  if (*n > max_count)
    return util::fail("count " + std::to_string(*n) + " at offset " + std::to_string(pos_ - 4) +
                      " exceeds the limit of " + std::to_string(max_count));
  if (min_element_size > 0 && *n > remaining() / min_element_size)
    return util::fail("count " + std::to_string(*n) + " at offset " + std::to_string(pos_ - 4) + " cannot fit in the " +
                      std::to_string(remaining()) + " bytes left");
  return *n;
}

util::Result<void> Reader::finish() const {
  if (remaining() != 0)
    return util::fail(std::to_string(remaining()) + " unexpected trailing bytes at offset " + std::to_string(pos_));
  return {};
}

}  // namespace core::codec
