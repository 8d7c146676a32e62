// libcore/util: durations, sizes, RFC 3339 time, hex, host:port, files,
// printable text for logs.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "libcore/util/address.hpp"
#include "libcore/util/files.hpp"
#include "libcore/util/hex.hpp"
#include "libcore/util/printable.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"
#include "libcore/util/worker_pool.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::util::Millis;
using test::error_of;

namespace fs = std::filesystem;

// ---------------------------------------------------------------- durations

TEST_CASE("parse_duration reads every unit", "[unit][util]") {
  using core::util::parse_duration;
  CHECK(parse_duration("0ms").value() == Millis(0));
  CHECK(parse_duration("0s").value() == Millis(0));
  CHECK(parse_duration("1ms").value() == Millis(1));
  CHECK(parse_duration("500ms").value() == Millis(500));
  CHECK(parse_duration("10s").value() == Millis(10'000));
  CHECK(parse_duration("2m").value() == Millis(120'000));
  CHECK(parse_duration("1h").value() == Millis(3'600'000));
  CHECK(parse_duration("24h").value() == Millis(86'400'000));
  CHECK(parse_duration("1d").value() == Millis(86'400'000));
  CHECK(parse_duration("7d").value() == Millis(604'800'000));
  CHECK(parse_duration("007s").value() == Millis(7'000));
}

TEST_CASE("parse_duration adds up combined parts", "[unit][util]") {
  using core::util::parse_duration;
  CHECK(parse_duration("1h30m").value() == Millis(5'400'000));
  CHECK(parse_duration("1m30s").value() == Millis(90'000));
  CHECK(parse_duration("1s500ms").value() == Millis(1'500));
  CHECK(parse_duration("1d2h3m4s5ms").value() == Millis(86'400'000 + 7'200'000 + 180'000 + 4'000 + 5));
  // Parts need not be ordered or distinct: they are summed.
  CHECK(parse_duration("30m1h").value() == Millis(5'400'000));
  CHECK(parse_duration("1s1s").value() == Millis(2'000));
}

TEST_CASE("parse_duration refuses a missing unit", "[unit][util]") {
  using core::util::parse_duration;
  for (const char* text : {"10", "0", "1h30", "1.5s"}) {
    INFO(text);
    auto r = parse_duration(text);
    auto msg = error_of(r);
    CHECK_THAT(msg, Contains("'" + std::string(text) + "'"));
  }
  CHECK_THAT(error_of(parse_duration("10")), Contains("missing unit"));
  CHECK_THAT(error_of(parse_duration("1h30")), Contains("missing unit"));
}

TEST_CASE("parse_duration refuses an unknown unit", "[unit][util]") {
  using core::util::parse_duration;
  CHECK_THAT(error_of(parse_duration("10x")), Contains("unknown unit 'x'"));
  CHECK_THAT(error_of(parse_duration("10sec")), Contains("unknown unit 'sec'"));
  CHECK_THAT(error_of(parse_duration("10S")), Contains("unknown unit 'S'"));
  CHECK_THAT(error_of(parse_duration("5us")), Contains("unknown unit 'us'"));
  CHECK_THAT(error_of(parse_duration("1w")), Contains("unknown unit 'w'"));
}

TEST_CASE("parse_duration refuses text that does not start with a number", "[unit][util]") {
  using core::util::parse_duration;
  CHECK_THAT(error_of(parse_duration("s")), Contains("expected a number at position 0"));
  CHECK_THAT(error_of(parse_duration("-5s")), Contains("expected a number at position 0"));
  CHECK_THAT(error_of(parse_duration(" 5s")), Contains("expected a number at position 0"));
  CHECK_THAT(error_of(parse_duration("5s ")), Contains("expected a number at position 2"));
  CHECK_THAT(error_of(parse_duration("5s-")), Contains("expected a number at position 2"));
}

TEST_CASE("parse_duration refuses empty text", "[unit][util]") {
  CHECK_THAT(error_of(core::util::parse_duration("")), Contains("empty duration"));
}

TEST_CASE("parse_duration refuses overflow instead of wrapping", "[unit][util]") {
  using core::util::parse_duration;
  // The limit is INT64_MAX / 2 milliseconds.
  const std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 2;
  CHECK(parse_duration(std::to_string(limit) + "ms").value() == Millis(limit));
  for (std::string text :
       {std::to_string(limit + 1) + "ms", std::string("9999999999999999999ms"), std::string("9999999999999999999s"),
        std::string("99999999999999999999999999ms"), std::string("18446744073709551616ms"),
        std::string("106751991167301d"), std::string("2562047788015216h"), std::string("153722867280912931m"),
        std::string("4611686018427388s"), std::string("4611686018427387903ms1ms")}) {
    INFO(text);
    auto r = parse_duration(text);
    CHECK_FALSE(r.has_value());
    if (!r) CHECK_THAT(r.error().message, Contains("too large"));
  }
}

TEST_CASE("format_duration writes the shortest exact form and parses back", "[unit][util]") {
  using core::util::format_duration;
  using core::util::parse_duration;
  CHECK(format_duration(Millis(0)) == "0s");
  CHECK(format_duration(Millis(250)) == "250ms");
  CHECK(format_duration(Millis(1'000)) == "1s");
  CHECK(format_duration(Millis(10'000)) == "10s");
  CHECK(format_duration(Millis(90'000)) == "1m30s");
  CHECK(format_duration(Millis(120'000)) == "2m");
  CHECK(format_duration(Millis(5'400'000)) == "1h30m");
  CHECK(format_duration(Millis(86'400'000)) == "24h");
  CHECK(format_duration(Millis(3'723'004)) == "1h2m3s4ms");
  CHECK(format_duration(Millis(-1'500)) == "-1s500ms");
  CHECK(format_duration(Millis(std::numeric_limits<std::int64_t>::min())) == "-2562047788015h12m55s808ms");
  CHECK(format_duration(Millis(std::numeric_limits<std::int64_t>::max())) == "2562047788015h12m55s807ms");
  for (std::int64_t ms : {1LL, 999LL, 1'001LL, 59'999LL, 60'001LL, 3'599'999LL, 86'400'001LL, 1'234'567'890LL}) {
    INFO(ms);
    CHECK(parse_duration(format_duration(Millis(ms))).value() == Millis(ms));
  }
}

// -------------------------------------------------------------------- sizes

TEST_CASE("parse_size reads plain numbers and every unit", "[unit][util]") {
  using core::util::parse_size;
  CHECK(parse_size("0").value() == 0);
  CHECK(parse_size("65536").value() == 65536);
  CHECK(parse_size("10B").value() == 10);
  CHECK(parse_size("1KiB").value() == 1024);
  CHECK(parse_size("512KiB").value() == 512u * 1024);
  CHECK(parse_size("4MiB").value() == 4u << 20);
  CHECK(parse_size("2GiB").value() == 2ull << 30);
  CHECK(parse_size("1KB").value() == 1000);
  CHECK(parse_size("3MB").value() == 3'000'000);
  CHECK(parse_size("5GB").value() == 5'000'000'000ull);
  CHECK(parse_size("18446744073709551615").value() == std::numeric_limits<std::uint64_t>::max());
  CHECK(parse_size("17179869183GiB").value() == 17179869183ull << 30);
}

TEST_CASE("parse_size refuses bad text", "[unit][util]") {
  using core::util::parse_size;
  CHECK_THAT(error_of(parse_size("")), Contains("empty size"));
  CHECK_THAT(error_of(parse_size("MiB")), Contains("expected a number first"));
  CHECK_THAT(error_of(parse_size("-1")), Contains("expected a number first"));
  CHECK_THAT(error_of(parse_size("4mib")), Contains("unknown unit 'mib'"));
  CHECK_THAT(error_of(parse_size("4 MiB")), Contains("unknown unit ' MiB'"));
  CHECK_THAT(error_of(parse_size("4M")), Contains("unknown unit 'M'"));
  CHECK_THAT(error_of(parse_size("1.5MiB")), Contains("unknown unit '.5MiB'"));
  CHECK_THAT(error_of(parse_size("4TiB")), Contains("'4TiB'"));
}

TEST_CASE("parse_size refuses overflow instead of wrapping", "[unit][util]") {
  using core::util::parse_size;
  for (const char* text :
       {"18446744073709551616", "18446744073709551619", "99999999999999999999", "1000000000000000000000",
        "17179869184GiB", "18446744073709552KB", "18446744073709551615KiB"}) {
    INFO(text);
    auto r = parse_size(text);
    CHECK_FALSE(r.has_value());
    if (!r) CHECK_THAT(r.error().message, Contains("too large"));
  }
}

// ----------------------------------------------------------------- RFC 3339

TEST_CASE("parse_rfc3339 reads valid timestamps", "[unit][util]") {
  using core::util::parse_rfc3339;
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z").value() == 0);
  CHECK(parse_rfc3339("2000-01-01T00:00:00Z").value() == 946'684'800'000);
  CHECK(parse_rfc3339("2026-01-01T00:00:00Z").value() == 1'767'225'600'000);
  CHECK(parse_rfc3339("2026-11-24T00:00:00Z").value() == 1'795'478'400'000);
  CHECK(parse_rfc3339("2024-02-29T12:34:56Z").value() == 1'709'210'096'000);
  CHECK(parse_rfc3339("2000-02-29T00:00:00Z").has_value());  // divisible by 400: leap
  CHECK(parse_rfc3339("1969-12-31T23:59:59Z").value() == -1'000);
  CHECK(parse_rfc3339("2026-12-31T23:59:59Z").value() == 1'798'761'599'000);
  // Separator and zone letter in either case, or a space separator.
  CHECK(parse_rfc3339("2026-01-01t00:00:00z").value() == 1'767'225'600'000);
  CHECK(parse_rfc3339("2026-01-01 00:00:00Z").value() == 1'767'225'600'000);
}

TEST_CASE("parse_rfc3339 applies UTC offsets", "[unit][util]") {
  using core::util::parse_rfc3339;
  const std::int64_t midnight = 1'767'225'600'000;
  CHECK(parse_rfc3339("2026-01-01T01:00:00+01:00").value() == midnight);
  CHECK(parse_rfc3339("2025-12-31T19:00:00-05:00").value() == midnight);
  CHECK(parse_rfc3339("2026-01-01T05:30:00+05:30").value() == midnight);
  CHECK(parse_rfc3339("2026-01-01T00:00:00+00:00").value() == midnight);
  CHECK(parse_rfc3339("2026-01-01T00:00:00-00:00").value() == midnight);
  CHECK(parse_rfc3339("2026-01-01T23:59:00+23:59").value() == midnight);
}

TEST_CASE("parse_rfc3339 reads fractions to the millisecond", "[unit][util]") {
  using core::util::parse_rfc3339;
  const std::int64_t midnight = 1'767'225'600'000;
  CHECK(parse_rfc3339("2026-01-01T00:00:00.5Z").value() == midnight + 500);
  CHECK(parse_rfc3339("2026-01-01T00:00:00.05Z").value() == midnight + 50);
  CHECK(parse_rfc3339("2026-01-01T00:00:00.123Z").value() == midnight + 123);
  CHECK(parse_rfc3339("2026-01-01T00:00:00.123999999Z").value() == midnight + 123);  // truncated
  CHECK(parse_rfc3339("2026-01-01T00:00:00.000Z").value() == midnight);
  CHECK(parse_rfc3339("2026-01-01T01:00:00.250+01:00").value() == midnight + 250);
}

TEST_CASE("parse_rfc3339 refuses impossible dates and times", "[unit][util]") {
  using core::util::parse_rfc3339;
  CHECK_THAT(error_of(parse_rfc3339("2026-02-30T00:00:00Z")), Contains("day out of range"));
  CHECK_THAT(error_of(parse_rfc3339("2025-02-29T00:00:00Z")), Contains("day out of range"));
  CHECK_THAT(error_of(parse_rfc3339("1900-02-29T00:00:00Z")), Contains("day out of range"));
  CHECK_THAT(error_of(parse_rfc3339("2026-04-31T00:00:00Z")), Contains("day out of range"));
  CHECK_THAT(error_of(parse_rfc3339("2026-01-32T00:00:00Z")), Contains("day out of range"));
  CHECK_THAT(error_of(parse_rfc3339("2026-01-00T00:00:00Z")), Contains("day out of range"));
  CHECK_THAT(error_of(parse_rfc3339("2026-13-01T00:00:00Z")), Contains("month out of range"));
  CHECK_THAT(error_of(parse_rfc3339("2026-00-01T00:00:00Z")), Contains("month out of range"));
  CHECK_THAT(error_of(parse_rfc3339("2026-01-01T24:00:00Z")), Contains("time out of range"));
  CHECK_THAT(error_of(parse_rfc3339("2026-01-01T00:60:00Z")), Contains("time out of range"));
  CHECK_THAT(error_of(parse_rfc3339("2026-01-01T00:00:60Z")), Contains("time out of range"));
}

TEST_CASE("parse_rfc3339 refuses malformed text", "[unit][util]") {
  using core::util::parse_rfc3339;
  for (const char* text :
       {"", "2026", "2026-01-01", "2026-01-01T00:00", "2026-1-01T00:00:00Z", "2026/01/01T00:00:00Z",
        "2026-01-01X00:00:00Z", "2026-01-01T00-00-00Z", "26-01-01T00:00:00Z", "2026-01-01T0a:00:00Z", "tomorrow"}) {
    INFO(text);
    auto msg = error_of(parse_rfc3339(text));
    CHECK_THAT(msg, Contains("malformed date or time"));
    CHECK_THAT(msg, Contains("'" + std::string(text) + "'"));
  }
}

TEST_CASE("parse_rfc3339 requires a time zone", "[unit][util]") {
  using core::util::parse_rfc3339;
  CHECK_THAT(error_of(parse_rfc3339("2026-01-01T00:00:00")), Contains("missing time zone"));
  CHECK_THAT(error_of(parse_rfc3339("2026-01-01T00:00:00.5")), Contains("missing time zone"));
  CHECK_THAT(error_of(parse_rfc3339("2026-01-01T00:00:00UTC")), Contains("missing time zone"));
}

TEST_CASE("parse_rfc3339 refuses bad fractions, offsets and trailing characters", "[unit][util]") {
  using core::util::parse_rfc3339;
  CHECK_THAT(error_of(parse_rfc3339("2026-01-01T00:00:00.Z")), Contains("empty fraction"));
  for (const char* text :
       {"2026-01-01T00:00:00+1:00", "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00+01", "2026-01-01T00:00:00+",
        "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60", "2026-01-01T00:00:00+01:0"}) {
    INFO(text);
    CHECK_THAT(error_of(parse_rfc3339(text)), Contains("malformed UTC offset"));
  }
  for (const char* text : {"2026-01-01T00:00:00ZZ", "2026-01-01T00:00:00Z ", "2026-01-01T00:00:00Zx",
                           "2026-01-01T00:00:00+01:00Z", "2026-01-01T00:00:00+01:00:00"}) {
    INFO(text);
    CHECK_THAT(error_of(parse_rfc3339(text)), Contains("trailing characters"));
  }
}

TEST_CASE("format_rfc3339 writes UTC and parses back", "[unit][util]") {
  using core::util::format_rfc3339;
  using core::util::parse_rfc3339;
  CHECK(format_rfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(format_rfc3339(1'767'225'600'000) == "2026-01-01T00:00:00Z");
  CHECK(format_rfc3339(1'767'225'600'250) == "2026-01-01T00:00:00.250Z");
  CHECK(format_rfc3339(1'709'210'096'001) == "2024-02-29T12:34:56.001Z");
  CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999Z");
  for (std::int64_t t : {0LL, 1LL, 999LL, 946'684'800'000LL, 1'767'225'600'123LL, 1'798'761'599'999LL, -1'000LL}) {
    INFO(t);
    CHECK(parse_rfc3339(format_rfc3339(t)).value() == t);
  }
}

TEST_CASE("now_ms is wall-clock milliseconds", "[unit][util]") {
  auto t = core::util::now_ms();
  CHECK(t > 1'767'225'600'000);  // after 2026-01-01
  CHECK(t < 4'102'444'800'000);  // before 2100-01-01
}

// ---------------------------------------------------------------------- hex

TEST_CASE("to_hex writes lower-case pairs", "[unit][util]") {
  using core::util::to_hex;
  CHECK(to_hex(core::util::Bytes{}) == "");
  CHECK(to_hex(core::util::Bytes{0x00, 0xff, 0x1a, 0xB0}) == "00ff1ab0");
}

TEST_CASE("from_hex reads either case and round-trips every byte", "[unit][util]") {
  using core::util::from_hex;
  CHECK(from_hex("").value().empty());
  CHECK(from_hex("00ff1A").value() == core::util::Bytes{0x00, 0xff, 0x1a});
  CHECK(from_hex("DEADbeef").value() == core::util::Bytes{0xde, 0xad, 0xbe, 0xef});
  core::util::Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
  auto hex = core::util::to_hex(all);
  CHECK(hex.size() == 512);
  CHECK(from_hex(hex).value() == all);
}

TEST_CASE("from_hex refuses odd lengths and bad characters", "[unit][util]") {
  using core::util::from_hex;
  CHECK_THAT(error_of(from_hex("abc")), Contains("odd length 3"));
  CHECK_THAT(error_of(from_hex("a")), Contains("odd length 1"));
  CHECK_THAT(error_of(from_hex("zz")), Contains("invalid hex character 'z' at position 0"));
  CHECK_THAT(error_of(from_hex("0g")), Contains("invalid hex character 'g' at position 1"));
  CHECK_THAT(error_of(from_hex("00 1")), Contains("invalid hex character ' ' at position 2"));
  CHECK_THAT(error_of(from_hex("0x00")), Contains("invalid hex character 'x' at position 1"));
}

// ---------------------------------------------------------------- host:port

TEST_CASE("parse_host_port reads hosts and ports", "[unit][util]") {
  using core::util::HostPort;
  using core::util::parse_host_port;
  CHECK(parse_host_port("127.0.0.1:24100").value() == HostPort{"127.0.0.1", 24100});
  CHECK(parse_host_port("example.com:80").value() == HostPort{"example.com", 80});
  CHECK(parse_host_port("localhost:1").value() == HostPort{"localhost", 1});
  CHECK(parse_host_port("0.0.0.0:65535").value() == HostPort{"0.0.0.0", 65535});
  CHECK(parse_host_port("[::1]:24100").value() == HostPort{"::1", 24100});
  CHECK(parse_host_port("[fe80::1%eth0]:8080").value() == HostPort{"fe80::1%eth0", 8080});
  CHECK(parse_host_port("[::]:24101").value() == HostPort{"::", 24101});
}

TEST_CASE("parse_host_port uses the default port only when one is given", "[unit][util]") {
  using core::util::HostPort;
  using core::util::parse_host_port;
  CHECK(parse_host_port("node1", 24100).value() == HostPort{"node1", 24100});
  CHECK(parse_host_port("[::1]", 24100).value() == HostPort{"::1", 24100});
  CHECK(parse_host_port("node1:99", 24100).value() == HostPort{"node1", 99});
  CHECK_THAT(error_of(parse_host_port("node1")), Contains("missing port"));
  CHECK_THAT(error_of(parse_host_port("[::1]")), Contains("missing port"));
}

TEST_CASE("parse_host_port refuses bad addresses, quoting them", "[unit][util]") {
  using core::util::parse_host_port;
  struct Case {
    const char* text;
    const char* why;
  };
  const Case cases[] = {
      {"", "empty"},
      {":80", "empty host"},
      {"[]:80", "empty host"},
      {"host:", "empty port"},
      {"[::1]:", "empty port"},
      {"[::1", "missing ']'"},
      {"[::1]80", "expected ':' after ']'"},
      {"::1:80", "IPv6 addresses must be written in brackets"},
      {"fe80::1", "IPv6 addresses must be written in brackets"},
      {"host:0", "port 0 out of range 1-65535"},
      {"host:65536", "port 65536 out of range 1-65535"},
      {"host:99999", "out of range"},
      {"host:99999999999", "is not a number"},
      {"host:abc", "port 'abc' is not a number"},
      {"host:80x", "port '80x' is not a number"},
      {"host:-1", "is not a number"},
      {"host:+80", "is not a number"},
      {"host: 80", "is not a number"},
      {"a b:80", "invalid character in host"},
      {"a/b:80", "invalid character in host"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto msg = error_of(parse_host_port(c.text));
    CHECK_THAT(msg, Contains(c.why));
    CHECK_THAT(msg, Contains("bad address '" + std::string(c.text) + "'"));
  }
}

TEST_CASE("parse_host_port refuses control characters and quotes them escaped, bounded", "[unit][util]") {
  using core::util::parse_host_port;
  // A forged line without colons, so that the host check (not the IPv6 one) refuses it.
  auto msg = error_of(parse_host_port("evil\n2026-01-01 warning p2p forged:80"));
  CHECK_THAT(msg, Contains("invalid character in host"));
  CHECK_THAT(msg, Contains("bad address 'evil\\n2026-01-01 warning p2p forged:80'"));
  CHECK(msg.find('\n') == std::string::npos);
  CHECK_THAT(error_of(parse_host_port("host:8\x1b[0m")), Contains("port '8\\x1b[0m' is not a number"));
  CHECK_FALSE(parse_host_port("a\tb:80").has_value());
  CHECK_FALSE(parse_host_port("[::1\r]:80").has_value());
  // A long address is quoted cut, not whole.
  auto long_msg = error_of(parse_host_port(std::string(4096, '/') + ":80"));
  CHECK(long_msg.size() < 300);
  CHECK_THAT(long_msg, Contains(std::string(core::util::kCutMarker) + "'"));
}

TEST_CASE("HostPort::to_string brackets IPv6 and parses back", "[unit][util]") {
  using core::util::HostPort;
  using core::util::parse_host_port;
  CHECK(HostPort{"10.0.0.1", 24100}.to_string() == "10.0.0.1:24100");
  CHECK(HostPort{"::1", 24100}.to_string() == "[::1]:24100");
  for (const char* text : {"10.0.0.1:24100", "[::1]:24100", "host.example:443", "[2001:db8::7]:1"}) {
    INFO(text);
    auto hp = parse_host_port(text).value();
    CHECK(hp.to_string() == text);
    CHECK(parse_host_port(hp.to_string()).value() == hp);
  }
}

// -------------------------------------------------------------------- files

namespace {
unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode & 07777);
}
}  // namespace

TEST_CASE("write_file_atomic writes the content with exactly the given mode", "[unit][util]") {
  test::TempDir dir;
  auto secret = dir / "secret";
  REQUIRE(core::util::write_file_atomic(secret, "s3cret\n", 0600).has_value());
  CHECK(test::read_text(secret) == "s3cret\n");
  CHECK(mode_of(secret) == 0600);

  auto shared = dir / "shared";
  REQUIRE(core::util::write_file_atomic(shared, std::string("a\0b", 3), 0644).has_value());
  CHECK(test::read_text(shared) == std::string("a\0b", 3));
  CHECK(mode_of(shared) == 0644);

  // No temporary file is left behind.
  std::size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 2);
}

TEST_CASE("write_file_atomic replaces a file, applying the new mode", "[unit][util]") {
  test::TempDir dir;
  auto p = dir / "f";
  REQUIRE(core::util::write_file_atomic(p, "old", 0644).has_value());
  REQUIRE(core::util::write_file_atomic(p, "new content", 0600).has_value());
  CHECK(test::read_text(p) == "new content");
  CHECK(mode_of(p) == 0600);
}

TEST_CASE("write_file_atomic with overwrite=false refuses an existing file", "[unit][util]") {
  test::TempDir dir;
  auto p = dir / "key";
  REQUIRE(core::util::write_file_atomic(p, "first", 0600, false).has_value());
  CHECK(mode_of(p) == 0600);
  auto again = core::util::write_file_atomic(p, "second", 0600, false);
  auto msg = error_of(again);
  CHECK_THAT(msg, Contains(p.string()));
  CHECK_THAT(msg, Contains("already exists"));
  CHECK(test::read_text(p) == "first");
  std::size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
}

TEST_CASE("write_file_atomic creates missing parent directories", "[unit][util]") {
  test::TempDir dir;
  auto p = dir.path() / "a" / "b" / "c.txt";
  REQUIRE(core::util::write_file_atomic(p, "deep").has_value());
  CHECK(test::read_text(p) == "deep");
  CHECK(mode_of(p) == 0644);
}

TEST_CASE("read_file reads whole files and names the path on failure", "[unit][util]") {
  test::TempDir dir;
  auto p = dir / "data";
  test::write_text(p, std::string("x\0y\n", 4));
  CHECK(core::util::read_file(p).value() == std::string("x\0y\n", 4));
  CHECK(core::util::read_file(p, 4).value().size() == 4);

  auto too_large = error_of(core::util::read_file(p, 3));
  CHECK_THAT(too_large, Contains(p.string()));
  CHECK_THAT(too_large, Contains("too large (4 bytes, limit 3)"));

  auto missing = error_of(core::util::read_file(dir / "nope"));
  CHECK_THAT(missing, Contains((dir / "nope").string()));
  CHECK_THAT(missing, Contains("no such file"));

  auto is_dir = error_of(core::util::read_file(dir.path()));
  CHECK_THAT(is_dir, Contains("is a directory"));
}

TEST_CASE("expand_home replaces a leading ~ with $HOME", "[unit][util]") {
  using core::util::expand_home;
  test::EnvGuard home("HOME", "/home/tester");
  CHECK(expand_home("~/x") == fs::path("/home/tester/x"));
  CHECK(expand_home("~/.local/share/tnode") == fs::path("/home/tester/.local/share/tnode"));
  CHECK(expand_home("~") / "x" == fs::path("/home/tester/x"));
  CHECK(expand_home("~").lexically_normal().string().rfind("/home/tester", 0) == 0);
  // Only a leading "~" or "~/" is special.
  CHECK(expand_home("~user/x") == fs::path("~user/x"));
  CHECK(expand_home("a/~/b") == fs::path("a/~/b"));
  CHECK(expand_home("/abs/path") == fs::path("/abs/path"));
  CHECK(expand_home("rel") == fs::path("rel"));
  CHECK(expand_home("") == fs::path(""));
}

TEST_CASE("expand_home falls back to / without $HOME", "[unit][util]") {
  test::EnvGuard home("HOME", nullptr);
  CHECK(core::util::expand_home("~/x") == fs::path("/x"));
}

TEST_CASE("resolve_path anchors relative paths at the base", "[unit][util]") {
  using core::util::resolve_path;
  test::EnvGuard home("HOME", "/home/tester");
  CHECK(resolve_path("data", "/etc/tnode") == fs::path("/etc/tnode/data"));
  CHECK(resolve_path("a/./b", "/base") == fs::path("/base/a/b"));
  CHECK(resolve_path("../x", "/base/dir") == fs::path("/base/x"));
  CHECK(resolve_path("/var/lib/tnode", "/base") == fs::path("/var/lib/tnode"));
  CHECK(resolve_path("~/tnode", "/base") == fs::path("/home/tester/tnode"));
  CHECK(resolve_path("/a/b/../c", "/base") == fs::path("/a/c"));
}

// ---------------------------------------------------------------- printable text

namespace {

// Every byte value once, in order.
std::string all_bytes() {
  std::string s;
  for (int b = 0; b < 256; ++b) s += static_cast<char>(b);
  return s;
}

bool only_printable_ascii(const std::string& s) {
  for (char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

}  // namespace

TEST_CASE("printable keeps plain ASCII as it is", "[unit][util]") {
  using core::util::printable;
  CHECK(printable("", 16).empty());
  CHECK(printable("tnode/0.1.0", 64) == "tnode/0.1.0");
  CHECK(printable("peer is on network \"main\" (x = 1; y != 'z') ~{}[]", 128) ==
        "peer is on network \"main\" (x = 1; y != 'z') ~{}[]");
}

TEST_CASE("printable escapes newline, CR and tab so no text can start a log line", "[unit][util]") {
  using core::util::printable;
  CHECK(printable("bye\n2026-01-01T00:00:00.000Z warning p2p: forged", 256) ==
        "bye\\n2026-01-01T00:00:00.000Z warning p2p: forged");
  CHECK(printable("a\r\nb", 16) == "a\\r\\nb");
  CHECK(printable("a\tb", 16) == "a\\tb");
  CHECK(printable("\n", 16) == "\\n");
  CHECK(printable("\r", 16) == "\\r");
}

TEST_CASE("printable escapes ESC sequences, NUL, DEL and every other control as \\xNN", "[unit][util]") {
  using core::util::printable;
  CHECK(printable("\x1b[31mred\x1b[0m", 64) == "\\x1b[31mred\\x1b[0m");
  CHECK(printable("\x1b]0;title\x07", 64) == "\\x1b]0;title\\x07");
  CHECK(printable(std::string_view("a\0b", 3), 16) == "a\\x00b");
  CHECK(printable("\x7f", 16) == "\\x7f");
  CHECK(printable("\x01\x1f", 16) == "\\x01\\x1f");
  // An 8-bit CSI and the UTF-8 of U+009B (a C1 control) alike.
  CHECK(printable("\x9b"
                  "2J",
                  16) == "\\x9b2J");
  CHECK(printable("\xc2\x9b"
                  "2J",
                  16) == "\\xc2\\x9b2J");
}

TEST_CASE("printable escapes the backslash, so an escape in the text stays visible", "[unit][util]") {
  using core::util::printable;
  CHECK(printable("C:\\tnode", 16) == "C:\\\\tnode");
  // A peer writing the two characters "\n" is told apart from a newline.
  CHECK(printable("a\\nb", 16) == "a\\\\nb");
  CHECK(printable("a\nb", 16) == "a\\nb");
}

TEST_CASE("printable writes invalid UTF-8 and all non-ASCII bytes as \\xNN", "[unit][util]") {
  using core::util::printable;
  CHECK(printable("\xff\xfe", 16) == "\\xff\\xfe");
  CHECK(printable("\xc3", 16) == "\\xc3");                    // a truncated sequence
  CHECK(printable("\xc0\xaf", 16) == "\\xc0\\xaf");           // an overlong '/'
  CHECK(printable("\xed\xa0\x80", 16) == "\\xed\\xa0\\x80");  // a surrogate
  CHECK(printable("caf\xc3\xa9", 16) == "caf\\xc3\\xa9");     // valid UTF-8 too: the result is ASCII
}

TEST_CASE("printable turns every byte value into printable ASCII", "[unit][util]") {
  using core::util::printable;
  const auto out = printable(all_bytes(), 4096);
  CHECK(only_printable_ascii(out));
  CHECK(out.find('\n') == std::string::npos);
  // 95 printable bytes kept (the backslash doubled), \n \r \t, the other 158 as \xNN.
  CHECK(out.size() == 94 + 2 + 3 * 2 + 158 * 4);
}

TEST_CASE("printable cuts at the bound after a whole escape and marks the cut", "[unit][util]") {
  using core::util::kCutMarker;
  using core::util::printable;
  CHECK(kCutMarker == "\\...");
  // Exactly at the bound: not cut.
  CHECK(printable("abcdefgh", 8) == "abcdefgh");
  CHECK(printable("abcdefghi", 8) == "abcd\\...");
  CHECK(printable(std::string(1000, 'x'), 64).size() == 64);
  CHECK(printable(std::string(1000, 'x'), 64) == std::string(60, 'x') + "\\...");
  // An escape is never split: "\x1b" does not fit after "ab" in 8 - 4 bytes.
  CHECK(printable("ab\x1b"
                  "cdefgh",
                  8) == "ab\\...");
  CHECK(printable("a\nbcdefgh", 8) == "a\\nb\\...");
  CHECK(printable("\n\n\n\n\n", 8) == "\\n\\n\\...");
  CHECK(printable("abcdefghi", kCutMarker.size()) == "\\...");
  for (std::size_t bound = kCutMarker.size(); bound < 64; ++bound) {
    INFO(bound);
    const auto out = printable(all_bytes(), bound);
    CHECK(out.size() <= bound);
    CHECK(out.ends_with(kCutMarker));
    CHECK(only_printable_ascii(out));
  }
}

TEST_CASE("printable: a peer cannot write the cut marker itself", "[unit][util]") {
  using core::util::printable;
  // Its backslash is doubled: read from the left, "\\" is the escape of a
  // backslash and "..." plain text, while the marker is a lone backslash.
  CHECK(printable("bye\\...", 64) == "bye\\\\...");
}

TEST_CASE("printable is the identity on plain text and visible on a second pass", "[unit][util]") {
  using core::util::printable;
  const std::string plain = "tnode/0.1.0 (linux; x86_64)";
  CHECK(printable(printable(plain, 256), 256) == plain);
  // Escaping twice escapes the first pass's backslashes: never mistaken for one pass.
  const auto once = printable("a\nb", 256);
  CHECK(printable(once, 256) == "a\\\\nb");
  CHECK(printable(once, 256) != once);
}

TEST_CASE("one_line escapes controls and invalid UTF-8 and keeps the rest", "[unit][util]") {
  using core::util::is_one_line;
  using core::util::one_line;
  CHECK(one_line("plain text") == "plain text");
  CHECK(one_line("a\nb\r\tc") == "a\\nb\\r\\tc");
  CHECK(one_line("\x1b[2J") == "\\x1b[2J");
  CHECK(one_line("\x7f") == "\\x7f");
  CHECK(one_line(std::string_view("\0", 1)) == "\\x00");
  // Valid UTF-8 is kept, C1 controls and invalid bytes are not.
  CHECK(one_line("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(one_line("\xc2\x9b"
                 "2J") == "\\xc2\\x9b2J");
  CHECK(one_line("\xc2\xa0") == "\xc2\xa0");  // U+00A0 is not a control
  CHECK(one_line("\xff") == "\\xff");
  CHECK(one_line("\xc3") == "\\xc3");
  CHECK(one_line("\xc3(") == "\\xc3(");
  CHECK(one_line("\xe2\x82") == "\\xe2\\x82");
  CHECK(one_line("\xc0\xaf") == "\\xc0\\xaf");
  CHECK(one_line("\xed\xa0\x80") == "\\xed\\xa0\\x80");
  CHECK(one_line("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");
  // An invalid byte before a valid sequence does not swallow it.
  CHECK(one_line("\xff\xc3\xa9") == "\\xff\xc3\xa9");
  // Backslashes are the message's own: kept.
  CHECK(one_line("C:\\tnode") == "C:\\tnode");
  CHECK(is_one_line("caf\xc3\xa9 C:\\x"));
  CHECK_FALSE(is_one_line("a\nb"));
  CHECK_FALSE(is_one_line("\xff"));
  CHECK_FALSE(is_one_line("\xc2\x85"));  // NEL
}

TEST_CASE("one_line is idempotent and leaves printable text unchanged", "[unit][util]") {
  using core::util::is_one_line;
  using core::util::one_line;
  using core::util::printable;
  const std::string samples[] = {all_bytes(), "bye\n{\"msg\":\"forged\"}\r\n", "\xc3\xa9\xc3", "C:\\n"};
  for (const auto& s : samples) {
    const auto once = one_line(s);
    CHECK(one_line(once) == once);
    CHECK(is_one_line(once));
    CHECK(once.find('\n') == std::string::npos);
    CHECK(once.find('\r') == std::string::npos);
    const auto p = printable(s, 4096);
    CHECK(one_line(p) == p);
  }
}

// ---------------------------------------------------------------- worker pool

TEST_CASE("WorkerPool runs every item exactly once, with or without workers", "[unit][util]") {
  for (unsigned workers : {0u, 1u, 3u}) {
    INFO("workers " << workers);
    core::util::WorkerPool pool(workers);
    CHECK(pool.workers() == workers);
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1000}}) {
      std::vector<std::atomic<int>> hits(n);
      pool.run(n, [&](std::size_t i) { hits[i].fetch_add(1); });
      for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
    }
  }
}

TEST_CASE("WorkerPool: a submitted job runs while the caller works, and wait joins it", "[unit][util]") {
  core::util::WorkerPool pool(2);
  std::vector<int> a(500, 0), b(500, 0);
  auto first = pool.submit(a.size(), [&](std::size_t i) { a[i] = static_cast<int>(i) * 2; });
  auto second = pool.submit(b.size(), [&](std::size_t i) { b[i] = static_cast<int>(i) + 1; });
  pool.wait(*second);
  pool.wait(*first);
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i] == static_cast<int>(i) * 2);
    REQUIRE(b[i] == static_cast<int>(i) + 1);
  }
  // Items really run on more than one thread when workers exist.
  std::mutex m;
  std::set<std::thread::id> threads;
  pool.run(2000, [&](std::size_t) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    std::lock_guard lock(m);
    threads.insert(std::this_thread::get_id());
  });
  CHECK(threads.size() >= 2);
  CHECK(core::util::WorkerPool::default_workers() <= core::util::WorkerPool::kMaxWorkers);
}
