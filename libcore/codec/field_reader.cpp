#include "libcore/codec/field_reader.hpp"

namespace core::codec {

FieldReader& FieldReader::u8(std::string_view field, std::uint8_t& out) {
  return read(field, out, [](Reader& r) { return r.u8(); });
}

FieldReader& FieldReader::u16(std::string_view field, std::uint16_t& out) {
  return read(field, out, [](Reader& r) { return r.u16(); });
}

FieldReader& FieldReader::u32(std::string_view field, std::uint32_t& out) {
  return read(field, out, [](Reader& r) { return r.u32(); });
}

FieldReader& FieldReader::u64(std::string_view field, std::uint64_t& out) {
  return read(field, out, [](Reader& r) { return r.u64(); });
}

FieldReader& FieldReader::i64(std::string_view field, std::int64_t& out) {
  return read(field, out, [](Reader& r) { return r.i64(); });
}

FieldReader& FieldReader::str(std::string_view field, std::string& out, std::size_t max_len) {
  return read(field, out, [max_len](Reader& r) { return r.str(max_len); });
}

FieldReader& FieldReader::bytes(std::string_view field, Bytes& out, std::size_t max_len) {
  return read(field, out, [max_len](Reader& r) { return r.bytes(max_len); });
}

FieldReader& FieldReader::count(std::string_view field, std::uint32_t& out, std::uint32_t max_count,
                                std::size_t min_element_size) {
  return read(field, out, [&](Reader& r) { return r.count(max_count, min_element_size); });
}

FieldReader& FieldReader::require(bool ok, std::string_view field, std::string_view what) {
  if (!error_ && !ok) fail(field, what);
  return *this;
}

FieldReader& FieldReader::expect_end() {
  if (error_) return *this;
  if (auto f = r_.finish(); !f) fail(f.error().message);
  return *this;
}

void FieldReader::fail(std::string_view field, std::string_view reason) {
  error_ = util::Error{std::string(record_) + ": " + std::string(field) + ": " + std::string(reason)};
}

void FieldReader::fail(std::string_view reason) {
  error_ = util::Error{std::string(record_) + ": " + std::string(reason)};
}

}  // namespace core::codec
