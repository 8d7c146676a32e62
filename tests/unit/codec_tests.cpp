// libcore/codec: the canonical little-endian encoding, its bounded Reader and
// the FieldReader that strict decoders are written with.

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "libcore/codec/codec.hpp"
#include "libcore/codec/field_reader.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::codec::Bytes;
using core::codec::FieldReader;
using core::codec::Reader;
using core::codec::Writer;
using test::error_of;

namespace {

// A record using every field type: the shape the chain's encodings take.
struct Record {
  std::uint8_t a = 0;
  std::uint16_t b = 0;
  std::uint32_t c = 0;
  std::uint64_t d = 0;
  std::int64_t e = 0;
  core::crypto::FixedBytes<32> f;
  Bytes g;
  std::string h;
  std::vector<std::uint64_t> items;
  friend bool operator==(const Record&, const Record&) = default;
};

Bytes encode(const Record& r) {
  Writer w;
  w.u8(r.a).u16(r.b).u32(r.c).u64(r.d).i64(r.e).fixed(r.f).bytes(r.g).str(r.h);
  w.u32(static_cast<std::uint32_t>(r.items.size()));
  for (auto v : r.items) w.u64(v);
  return w.take();
}

core::util::Result<Record> decode(std::span<const std::uint8_t> in) {
  Reader rd(in);
  Record r;
  auto a = rd.u8();
  if (!a) return tl::unexpected(a.error());
  r.a = *a;
  auto b = rd.u16();
  if (!b) return tl::unexpected(b.error());
  r.b = *b;
  auto c = rd.u32();
  if (!c) return tl::unexpected(c.error());
  r.c = *c;
  auto d = rd.u64();
  if (!d) return tl::unexpected(d.error());
  r.d = *d;
  auto e = rd.i64();
  if (!e) return tl::unexpected(e.error());
  r.e = *e;
  auto f = rd.fixed<32>();
  if (!f) return tl::unexpected(f.error());
  r.f = *f;
  auto g = rd.bytes(64);
  if (!g) return tl::unexpected(g.error());
  r.g = *g;
  auto h = rd.str(64);
  if (!h) return tl::unexpected(h.error());
  r.h = *h;
  auto n = rd.count(16, 8);
  if (!n) return tl::unexpected(n.error());
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto v = rd.u64();
    if (!v) return tl::unexpected(v.error());
    r.items.push_back(*v);
  }
  if (auto fin = rd.finish(); !fin) return tl::unexpected(fin.error());
  return r;
}

Record sample() {
  Record r;
  r.a = 0xAB;
  r.b = 0xBEEF;
  r.c = 0xDEADBEEF;
  r.d = 0x0123456789ABCDEFull;
  r.e = -42;
  for (std::size_t i = 0; i < 32; ++i) r.f.bytes[i] = static_cast<std::uint8_t>(i * 7);
  r.g = {1, 2, 3, 0, 255};
  r.h = std::string("tn\0de", 5);
  r.items = {7, std::numeric_limits<std::uint64_t>::max(), 0};
  return r;
}

}  // namespace

TEST_CASE("Writer lays out integers little-endian", "[unit][codec]") {
  CHECK(Writer().u8(0x7f).data() == Bytes{0x7f});
  CHECK(Writer().u16(0x1234).data() == Bytes{0x34, 0x12});
  CHECK(Writer().u32(0x01020304).data() == Bytes{0x04, 0x03, 0x02, 0x01});
  CHECK(Writer().u64(0x0102030405060708ull).data() == Bytes{8, 7, 6, 5, 4, 3, 2, 1});
  CHECK(Writer().i64(-1).data() == Bytes(8, 0xff));
  CHECK(Writer().i64(std::numeric_limits<std::int64_t>::min()).data() == Bytes{0, 0, 0, 0, 0, 0, 0, 0x80});
}

TEST_CASE("Writer prefixes byte strings with a u32 length and writes fixed fields raw", "[unit][codec]") {
  CHECK(Writer().bytes(Bytes{}).data() == Bytes{0, 0, 0, 0});
  CHECK(Writer().bytes(Bytes{9, 8}).data() == Bytes{2, 0, 0, 0, 9, 8});
  CHECK(Writer().str("ab").data() == Bytes{2, 0, 0, 0, 'a', 'b'});
  Bytes big(300, 0x55);
  auto enc = Writer().bytes(big).take();
  REQUIRE(enc.size() == 304);
  CHECK(Bytes(enc.begin(), enc.begin() + 4) == Bytes{0x2c, 0x01, 0, 0});
  core::crypto::FixedBytes<4> fx;
  fx.bytes = {1, 2, 3, 4};
  CHECK(Writer().fixed(fx).data() == Bytes{1, 2, 3, 4});
  CHECK(Writer().raw(Bytes{5, 6}).data() == Bytes{5, 6});
}

TEST_CASE("integers round-trip at their extremes", "[unit][codec]") {
  for (std::uint64_t v :
       {0ull, 1ull, 0x80ull, 0xffull, 0xffffull, 0xffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull}) {
    INFO(v);
    auto u8 = Writer().u8(static_cast<std::uint8_t>(v)).take();
    CHECK(Reader(u8).u8().value() == static_cast<std::uint8_t>(v));
    auto u16 = Writer().u16(static_cast<std::uint16_t>(v)).take();
    CHECK(Reader(u16).u16().value() == static_cast<std::uint16_t>(v));
    auto u32 = Writer().u32(static_cast<std::uint32_t>(v)).take();
    CHECK(Reader(u32).u32().value() == static_cast<std::uint32_t>(v));
    auto u64 = Writer().u64(v).take();
    CHECK(Reader(u64).u64().value() == v);
  }
  for (std::int64_t v : {std::numeric_limits<std::int64_t>::min(), std::int64_t{-1}, std::int64_t{0}, std::int64_t{1},
                         std::numeric_limits<std::int64_t>::max()}) {
    INFO(v);
    auto enc = Writer().i64(v).take();
    CHECK(Reader(enc).i64().value() == v);
  }
}

TEST_CASE("byte strings, strings and fixed fields round-trip", "[unit][codec]") {
  for (std::size_t len : {0u, 1u, 31u, 256u, 1000u}) {
    INFO(len);
    Bytes data(len);
    for (std::size_t i = 0; i < len; ++i) data[i] = static_cast<std::uint8_t>(i * 13 + 1);
    auto enc = Writer().bytes(data).take();
    Reader r(enc);
    CHECK(r.bytes(len).value() == data);
    CHECK(r.finish().has_value());
  }
  std::string text("with\0nul and \xff", 14);
  auto enc = Writer().str(text).take();
  CHECK(Reader(enc).str(14).value() == text);

  core::crypto::FixedBytes<64> sig;
  for (std::size_t i = 0; i < 64; ++i) sig.bytes[i] = static_cast<std::uint8_t>(255 - i);
  auto fenc = Writer().fixed(sig).take();
  CHECK(fenc.size() == 64);
  CHECK(Reader(fenc).fixed<64>().value() == sig);
}

TEST_CASE("a record of every field type round-trips", "[unit][codec]") {
  auto r = sample();
  auto enc = encode(r);
  CHECK(enc.size() == 1 + 2 + 4 + 8 + 8 + 32 + (4 + 5) + (4 + 5) + 4 + 3 * 8);
  CHECK(decode(enc).value() == r);
  Record empty;
  CHECK(decode(encode(empty)).value() == empty);
}

TEST_CASE("the Reader rejects truncated input at every cut point", "[unit][codec]") {
  auto enc = encode(sample());
  for (std::size_t cut = 0; cut < enc.size(); ++cut) {
    INFO("cut at " << cut << " of " << enc.size());
    auto r = decode(std::span(enc).first(cut));
    REQUIRE_FALSE(r.has_value());
    // A cut inside the item list may be caught by count() (items cannot fit)
    // rather than by a short read; both name the problem.
    bool named = r.error().message.find("truncated input") != std::string::npos ||
                 r.error().message.find("cannot fit") != std::string::npos;
    CHECK(named);
  }
}

TEST_CASE("a truncated read names the field, the offset and what is left", "[unit][codec]") {
  Bytes three{1, 2, 3};
  Reader r(three);
  auto msg = error_of(r.u32());
  CHECK_THAT(msg, Contains("truncated input: u32 needs 4 bytes at offset 0, only 3 left"));
  // A failed read consumes nothing.
  CHECK(r.position() == 0);
  CHECK(r.remaining() == 3);
  CHECK(r.u16().value() == 0x0201);
  CHECK_THAT(error_of(r.u16()), Contains("u16 needs 2 bytes at offset 2, only 1 left"));
  CHECK_THAT(error_of(r.u64()), Contains("u64 needs 8 bytes"));
  CHECK_THAT(error_of(r.i64()), Contains("u64 needs 8 bytes"));
  CHECK_THAT(error_of(r.fixed<2>()), Contains("fixed field needs 2 bytes"));
  CHECK(r.u8().value() == 3);
  CHECK_THAT(error_of(r.u8()), Contains("u8 needs 1 bytes at offset 3, only 0 left"));
  CHECK(r.finish().has_value());
}

TEST_CASE("bytes() over max_len is rejected before anything is read or allocated", "[unit][codec]") {
  // The length says 4 GiB but only the prefix is there: the limit check comes
  // first, so the message is about the limit, not a truncation.
  Bytes huge{0xff, 0xff, 0xff, 0xff};
  Reader r(huge);
  auto msg = error_of(r.bytes(1024));
  CHECK_THAT(msg, Contains("length 4294967295 at offset 0 exceeds the limit of 1024"));

  auto enc = Writer().bytes(Bytes(11, 1)).take();
  CHECK_THAT(error_of(Reader(enc).bytes(10)), Contains("length 11 at offset 0 exceeds the limit of 10"));
  CHECK_THAT(error_of(Reader(enc).str(10)), Contains("exceeds the limit of 10"));
  CHECK(Reader(enc).bytes(11).value().size() == 11);
  CHECK_THAT(error_of(Reader(enc).bytes(0)), Contains("exceeds the limit of 0"));
  auto zero = Writer().bytes(Bytes{}).take();
  CHECK(Reader(zero).bytes(0).value().empty());
}

TEST_CASE("bytes() within max_len but beyond the input is truncated", "[unit][codec]") {
  Bytes in{10, 0, 0, 0, 1, 2, 3};
  CHECK_THAT(error_of(Reader(in).bytes(100)), Contains("truncated input: byte string needs 10 bytes at offset 4"));
  Bytes no_prefix{10, 0};
  CHECK_THAT(error_of(Reader(no_prefix).bytes(100)), Contains("truncated input: u32"));
}

TEST_CASE("count() is bounded by max_count", "[unit][codec]") {
  auto enc = Writer().u32(17).raw(Bytes(17 * 8, 0)).take();
  CHECK_THAT(error_of(Reader(enc).count(16, 8)), Contains("count 17 at offset 0 exceeds the limit of 16"));
  CHECK(Reader(enc).count(17, 8).value() == 17);
  auto big = Writer().u32(0xffffffffu).take();
  CHECK_THAT(error_of(Reader(big).count(1000, 0)), Contains("exceeds the limit of 1000"));
  auto zero = Writer().u32(0).take();
  CHECK(Reader(zero).count(0, 8).value() == 0);
}

TEST_CASE("count() is bounded by the bytes left", "[unit][codec]") {
  // Three elements of at least 10 bytes need 30 bytes.
  auto short_input = Writer().u32(3).raw(Bytes(29, 0)).take();
  CHECK_THAT(error_of(Reader(short_input).count(100, 10)),
             Contains("count 3 at offset 0 cannot fit in the 29 bytes left"));
  auto enough = Writer().u32(3).raw(Bytes(30, 0)).take();
  Reader r(enough);
  CHECK(r.count(100, 10).value() == 3);
  CHECK(r.position() == 4);
  // Without a minimum element size only max_count applies.
  auto none = Writer().u32(50).take();
  CHECK(Reader(none).count(100, 0).value() == 50);
  // A count whose prefix is cut is a truncation.
  Bytes cut{3, 0};
  CHECK_THAT(error_of(Reader(cut).count(100, 10)), Contains("truncated input"));
}

TEST_CASE("finish() rejects trailing bytes", "[unit][codec]") {
  auto enc = encode(sample());
  enc.push_back(0);
  CHECK_THAT(error_of(decode(enc)),
             Contains("1 unexpected trailing bytes at offset " + std::to_string(enc.size() - 1)));
  Bytes four{1, 2, 3, 4};
  Reader r(four);
  CHECK_THAT(error_of(r.finish()), Contains("4 unexpected trailing bytes at offset 0"));
  REQUIRE(r.u16().has_value());
  CHECK_THAT(error_of(r.finish()), Contains("2 unexpected trailing bytes at offset 2"));
  REQUIRE(r.u16().has_value());
  CHECK(r.finish().has_value());
  CHECK(Reader(Bytes{}).finish().has_value());
}

// --- FieldReader ---------------------------------------------------------------

namespace {

// The Record above, decoded the FieldReader way.
core::util::Result<Record> decode_fields(std::span<const std::uint8_t> in) {
  FieldReader fr(in, "record");
  Record r;
  fr.u8("a", r.a).u16("b", r.b).u32("c", r.c).u64("d", r.d).i64("e", r.e).fixed("f", r.f);
  fr.bytes("g", r.g, 64).str("h", r.h, 64);
  std::uint32_t n = 0;
  fr.count("number of items", n, 16, 8);
  r.items.resize(n);
  for (auto& v : r.items) fr.u64("items", v);
  return fr.finish(std::move(r));
}

enum class Colour : std::uint8_t { Red = 0, Green = 1 };

// A domain type with a closed set of values, read through read().
core::util::Result<Colour> read_colour(Reader& r) {
  auto v = r.u8();
  if (!v) return tl::unexpected(v.error());
  if (*v > static_cast<std::uint8_t>(Colour::Green)) return core::util::fail("unknown colour " + std::to_string(*v));
  return static_cast<Colour>(*v);
}

}  // namespace

TEST_CASE("FieldReader decodes what the Reader decodes", "[unit][codec][field_reader]") {
  auto enc = encode(sample());
  CHECK(decode_fields(enc).value() == sample());
  CHECK(decode_fields(encode(Record{})).value() == Record{});
  for (std::size_t cut = 0; cut < enc.size(); ++cut) {
    INFO("cut at " << cut << " of " << enc.size());
    auto r = decode_fields(std::span(enc).first(cut));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.rfind("record: ", 0) == 0);
  }
}

TEST_CASE("FieldReader names the record and the field in every error", "[unit][codec][field_reader]") {
  Bytes three{1, 2, 3};
  std::uint32_t v = 7;
  CHECK(error_of(FieldReader(three, "header").u32("height", v).finish(v)) ==
        "header: height: truncated input: u32 needs 4 bytes at offset 0, only 3 left");
  CHECK(v == 7);

  auto colours = Writer().u8(1).u8(9).take();
  Colour first = Colour::Red, second = Colour::Red;
  FieldReader fr(colours, "paint");
  fr.read("first", first, read_colour).read("second", second, read_colour);
  CHECK(first == Colour::Green);
  CHECK(second == Colour::Red);
  CHECK(error_of(fr.finish(0)) == "paint: second: unknown colour 9");

  auto limit = Writer().u32(0).take();
  std::uint32_t l = 0;
  FieldReader rule(limit, "get_headers");
  rule.u32("limit", l).require(l >= 1, "limit", "must be at least 1");
  CHECK(error_of(rule.finish(l)) == "get_headers: limit: must be at least 1");
}

TEST_CASE("FieldReader keeps the first error and reads nothing after it", "[unit][codec][field_reader]") {
  // A u16 that fits, a u32 that does not: the u32's error sticks, and the
  // u8 and the count after it leave their targets alone.
  Bytes in{1, 0, 2, 3, 4};
  std::uint16_t a = 0;
  std::uint32_t b = 5, n = 0;
  std::uint8_t c = 6;
  FieldReader fr(in, "rec");
  fr.u16("a", a);
  CHECK(fr.ok());
  fr.u32("b", b).u8("c", c).count("n", n, 10, 0).require(false, "c", "a later rule");
  CHECK_FALSE(fr.ok());
  CHECK(a == 1);
  CHECK(b == 5);
  CHECK(c == 6);
  CHECK(n == 0);
  auto msg = error_of(fr.finish(a));
  CHECK_THAT(msg, Contains("rec: b: truncated input: u32 needs 4 bytes at offset 2, only 3 left"));
  CHECK_THAT(msg, !Contains("later rule"));

  // A failed require() sticks too.
  Bytes two{1, 2};
  std::uint8_t x = 0, y = 0;
  FieldReader rule(two, "rec");
  rule.u8("x", x).require(x == 0, "x", "must be zero").u8("y", y);
  CHECK(y == 0);
  CHECK(error_of(rule.finish(x)) == "rec: x: must be zero");
}

TEST_CASE("FieldReader's finish() refuses trailing bytes", "[unit][codec][field_reader]") {
  // Trailing bytes belong to no field: "<record>: <reason>".
  auto enc = encode(sample());
  enc.push_back(0);
  CHECK(error_of(decode_fields(enc)) ==
        "record: 1 unexpected trailing bytes at offset " + std::to_string(enc.size() - 1));
  Bytes four{1, 2, 3, 4};
  std::uint16_t v = 0;
  CHECK(error_of(FieldReader(four, "rec").u16("v", v).finish(v)) == "rec: 2 unexpected trailing bytes at offset 2");
  CHECK(error_of(FieldReader(four, "empty").finish(0)) == "empty: 4 unexpected trailing bytes at offset 0");
  CHECK(FieldReader(Bytes{}, "empty").finish(0).value() == 0);
  CHECK(FieldReader(four, "rec").u16("v", v).u16("w", v).finish(v).value() == 0x0403);
  // result() alone does not look for the end; expect_end() does, in the chain.
  CHECK(FieldReader(four, "rec").u16("v", v).result(v).value() == 0x0201);
  std::uint8_t a = 0;
  FieldReader fr(four, "rec");
  fr.u8("a", a).expect_end();
  CHECK(error_of(fr.result(a)) == "rec: 3 unexpected trailing bytes at offset 1");
}

TEST_CASE("FieldReader reads a record embedded in a longer input", "[unit][codec][field_reader]") {
  // Two records back to back in one Reader, each named in its own errors.
  auto enc = Writer().u32(7).u16(9).u8(1).take();
  Reader r(enc);
  std::uint32_t first = 0;
  std::uint16_t second = 0;
  CHECK(FieldReader(r, "first").u32("value", first).result(first).value() == 7);
  CHECK(r.position() == 4);
  FieldReader rest(r, "second");
  rest.u16("value", second);
  CHECK(second == 9);
  CHECK(error_of(rest.finish(second)) == "second: 1 unexpected trailing bytes at offset 6");
  CHECK(error_of(FieldReader(r, "third").u16("value", second).result(second)) ==
        "third: value: truncated input: u16 needs 2 bytes at offset 6, only 1 left");
  CHECK(r.u8().value() == 1);
}

TEST_CASE("FieldReader's check() applies a rule to the whole record", "[unit][codec][field_reader]") {
  auto enc = Writer().u8(2).u8(5).take();
  auto version_is = [](const std::uint8_t& version, std::uint8_t wanted) {
    return [&version, wanted]() -> core::util::Result<void> {
      if (version == wanted) return {};
      return core::util::fail("unknown version " + std::to_string(version));
    };
  };
  std::uint8_t version = 0, v = 0;
  CHECK(FieldReader(enc, "rec").u8("version", version).check(version_is(version, 2)).u8("v", v).finish(v).value() == 5);
  v = 0;
  FieldReader fr(enc, "rec");
  fr.u8("version", version).check(version_is(version, 1)).u8("v", v);
  CHECK(v == 0);  // nothing is read after a failed rule
  CHECK(error_of(fr.finish(v)) == "rec: unknown version 2");

  // A rule is not run once a field has failed.
  bool ran = false;
  const Bytes nothing;
  FieldReader cut(nothing, "rec");
  cut.u8("version", version).check([&]() -> core::util::Result<void> {
    ran = true;
    return {};
  });
  CHECK_FALSE(ran);
  CHECK(error_of(cut.result(0)) == "rec: version: truncated input: u8 needs 1 bytes at offset 0, only 0 left");
}

TEST_CASE("FieldReader bounds lengths and counts before reading them", "[unit][codec][field_reader]") {
  auto long_name = Writer().str(std::string(11, 'n')).take();
  std::string name = "unset";
  CHECK(error_of(FieldReader(long_name, "peer").str("name", name, 10).finish(0)) ==
        "peer: name: length 11 at offset 0 exceeds the limit of 10");
  CHECK(name == "unset");
  Bytes blob;
  CHECK(error_of(FieldReader(long_name, "peer").bytes("blob", blob, 10).finish(0)) ==
        "peer: blob: length 11 at offset 0 exceeds the limit of 10");
  CHECK(FieldReader(long_name, "peer").str("name", name, 11).finish(0).has_value());
  CHECK(name == std::string(11, 'n'));

  // 4 GiB claimed, nothing there: refused by the limit, nothing allocated.
  Bytes huge{0xff, 0xff, 0xff, 0xff};
  CHECK(error_of(FieldReader(huge, "peer").bytes("blob", blob, 1024).finish(0)) ==
        "peer: blob: length 4294967295 at offset 0 exceeds the limit of 1024");

  std::uint32_t n = 0;
  auto many = Writer().u32(17).take();
  CHECK(error_of(FieldReader(many, "list").count("number of items", n, 16, 8).finish(0)) ==
        "list: number of items: count 17 at offset 0 exceeds the limit of 16");
  CHECK(error_of(FieldReader(many, "list").count("number of items", n, 100, 8).finish(0)) ==
        "list: number of items: count 17 at offset 0 cannot fit in the 0 bytes left");
  CHECK(n == 0);
}
